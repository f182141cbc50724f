#include "server/tensor_rows.h"

#include <cstring>

#include "server/buffer_pool.h"

namespace kiln::server {

Tensor slice_rows(const Tensor& t, int64_t begin, int64_t count) {
  KILN_CHECK(t.rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= t.dim(0),
             "cannot take rows [{}, {}) of a tensor {}", begin, begin + count, t.describe());
  if (begin == 0 && count == t.dim(0)) return t;
  Dims dims = t.dims();
  dims[0] = count;
  const size_t row_bytes = t.dims()[0] == 0 ? 0 : t.nbytes() / static_cast<size_t>(t.dims()[0]);
  auto owner = std::make_shared<Tensor>(t);
  auto* base = static_cast<char*>(const_cast<void*>(t.raw()));
  return Tensor::wrap(t.dtype(), std::move(dims), base + row_bytes * static_cast<size_t>(begin),
                      std::shared_ptr<void>(owner, owner.get()));
}

bool same_row_shape(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.rank() != b.rank() || a.rank() == 0) return false;
  for (int64_t i = 1; i < a.rank(); ++i)
    if (a.dims()[i] != b.dims()[i]) return false;
  return true;
}

Tensor uninitialized_tensor(DType dtype, Dims dims) {
  const size_t bytes = static_cast<size_t>(num_elements(dims)) * dtype_size(dtype);
  std::shared_ptr<void> owner = acquire_host_buffer(bytes);
  void* p = owner.get();
  return Tensor::wrap(dtype, std::move(dims), p, std::move(owner));
}

Tensor concat_rows(const std::vector<const Tensor*>& parts, int64_t pad_rows) {
  KILN_CHECK(!parts.empty(), "nothing to concatenate");
  const Tensor& first = *parts[0];
  int64_t rows = pad_rows;
  for (const Tensor* p : parts) {
    KILN_CHECK(same_row_shape(first, *p), "cannot batch {} with {}", first.describe(), p->describe());
    rows += p->dim(0);
  }
  Dims dims = first.dims();
  dims[0] = rows;
  Tensor out = uninitialized_tensor(first.dtype(), std::move(dims));
  char* dst = static_cast<char*>(out.raw());
  for (const Tensor* p : parts) {
    std::memcpy(dst, p->raw(), p->nbytes());
    dst += p->nbytes();
  }
  // Only the padding rows need zeros; the rest was just written.
  std::memset(dst, 0, static_cast<size_t>(static_cast<char*>(out.raw()) + out.nbytes() - dst));
  return out;
}

}  // namespace kiln::server
