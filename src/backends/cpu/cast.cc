// Cast between every kiln dtype (f32, f64, f16, bf16, i8, u8, i32, i64, bool). The
// target comes from `to` as an ONNX TensorProto data type number, or as a kiln dtype name.
#include "backends/cpu/kernel_functions.h"
#include "ir/onnx_dtype.h"

namespace kiln::cpu {

namespace {

DType dtype_from_onnx(int64_t code) {
  const DType t = ir::dtype_from_onnx_code(code);
  if (t == DType::kUndefined) fail_with(ErrorCode::kUnimplemented, "Cast to ONNX data type {} is not supported", code);
  return t;
}

DType target_dtype(const ir::Attributes& attrs) {
  KILN_CHECK(attrs.has("to"), "Cast needs the \"to\" attribute");
  if (std::holds_alternative<std::string>(attrs.all().at("to"))) {
    const std::string name = attrs.get_string("to", "");
    const DType t = dtype_from_name(name);
    KILN_CHECK(t != DType::kUndefined && t != DType::kFP8E4M3, "Cast to unknown dtype \"{}\"", name);
    return t;
  }
  return dtype_from_onnx(attrs.get_int("to", 0));
}

}  // namespace

Outputs cast(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  const DType to = target_dtype(node.attrs);
  if (x.dtype() == to) return {x};
  return {x.cast(to)};
}

}  // namespace kiln::cpu
