// libFuzzer target: any request body given to the TF Serving and KServe v2 parsers either
// parses into tensors matching the model's signature or gives a 4xx Status; it never
// throws, crashes or reads out of bounds. The first input byte picks the protocol, the
// model signature (numeric or image input) and the binary header length.
// kiln-fuzz-libs: kiln_server
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/kserve_v2.h"
#include "server/tfserving_rest.h"

namespace {

using namespace kiln;
using namespace kiln::server;

const std::vector<TensorInfo>& numeric_inputs() {
  static const std::vector<TensorInfo> inputs = {{"x", DType::kF32, {kDynamic, 4}},
                                                 {"ids", DType::kI64, {kDynamic, 2}}};
  return inputs;
}

const std::vector<TensorInfo>& image_inputs() {
  static const std::vector<TensorInfo> inputs = {{"input", DType::kF32, {kDynamic, 3, 8, 8}}};
  return inputs;
}

ImageInputSpec image_spec() {
  ImageInputSpec spec;
  spec.enabled = true;
  spec.height = spec.width = 8;
  spec.preprocess.resize_shorter = 9;
  spec.preprocess.crop = 8;
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  static const ImageInputSpec image = image_spec();
  static const ImageInputSpec none;
  const bool use_image = mode & 1;
  const auto& inputs = use_image ? image_inputs() : numeric_inputs();
  const ImageInputSpec& spec = use_image ? image : none;
  Status s;
  if (mode & 2) {
    TfPredictRequest r;
    s = parse_tf_predict(body, inputs, spec, &r);
    if (s.ok() && r.inputs.size() != inputs.size()) __builtin_trap();
  } else {
    KServeInferRequest r;
    std::optional<size_t> header;
    if (mode & 4) header = static_cast<size_t>(mode >> 3) * 8;
    s = parse_kserve_infer(body, header, inputs, spec, &r);
    if (s.ok() && r.inputs.size() != inputs.size()) __builtin_trap();
  }
  if (!s.ok() && s.code() == ErrorCode::kOk) __builtin_trap();
  return 0;
}
