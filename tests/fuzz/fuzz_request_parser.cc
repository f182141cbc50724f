// libFuzzer target: any request body given to the TF Serving and KServe v2 parsers either
// parses into tensors matching the model's signature or gives a 4xx Status; it never
// throws, crashes or reads out of bounds. The first input byte picks the protocol, the
// model signature (numeric, float image or uint8 pixel image input) and the binary header
// length; parsed tensors must have the model's dtypes. With the
// single-float-input signature the TF Serving numeric fast path runs too, and whatever
// it accepts must match the general parser bit for bit.
// kiln-fuzz-libs: kiln_server
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "server/kserve_v2.h"
#include "server/numeric_json_fast_path.h"
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

// A pixel model's input (kiln build --image-input): uint8 RGB, channels last.
const std::vector<TensorInfo>& pixel_inputs() {
  static const std::vector<TensorInfo> inputs = {{"pixels", DType::kU8, {kDynamic, 4, 4, 3}}};
  return inputs;
}

const std::vector<TensorInfo>& float_input() {
  static const std::vector<TensorInfo> inputs = {{"x", DType::kF32, {kDynamic, 2, 3}}};
  return inputs;
}

// The fast path's answer must be the general parser's: the same tensor, bit for bit.
// (Rows of the wrong shape it refuses itself, with its own message.)
void check_fast_path(std::string_view body) {
  Tensor fast;
  bool columnar = false;
  Status why;
  const ImageInputSpec none;
  const FastPathOutcome outcome = parse_numeric_predict_fast(body, float_input(), none, &fast, &columnar, &why);
  if (outcome == FastPathOutcome::kDeclined) return;
  if (outcome == FastPathOutcome::kRejected) {
    if (why.code() != ErrorCode::kInvalidArgument) __builtin_trap();
    return;
  }
  // A leading key the fast path does not take makes parse_tf_predict use the general parser.
  std::string general_body(body);
  general_body.insert(general_body.find('{') + 1, "\"signature_name\":\"\",");
  TfPredictRequest r;
  Status s = parse_tf_predict(general_body, float_input(), none, &r);
  if (!s.ok()) __builtin_trap();  // the fast path took a body the general parser refuses
  const Tensor& general = r.inputs[0];
  if (general.dims() != fast.dims() || general.nbytes() != fast.nbytes() ||
      std::memcmp(general.raw(), fast.raw(), fast.nbytes()) != 0)
    __builtin_trap();
}

ImageInputSpec image_spec() {
  ImageInputSpec spec;
  spec.enabled = true;
  spec.height = spec.width = 8;
  spec.preprocess.resize_shorter = 9;
  spec.preprocess.crop = 8;
  return spec;
}

ImageInputSpec pixel_spec() {
  ImageInputSpec spec;
  spec.enabled = true;
  spec.pixels = true;
  spec.height = spec.width = 4;
  spec.preprocess.resize_shorter = 5;
  spec.preprocess.crop = 4;
  spec.preprocess.nhwc = true;
  return spec;
}

bool dtypes_match(const std::vector<Tensor>& got, const std::vector<TensorInfo>& want) {
  for (size_t i = 0; i < got.size() && i < want.size(); ++i)
    if (got[i].dtype() != want[i].dtype) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  static const ImageInputSpec image = image_spec();
  static const ImageInputSpec pixels = pixel_spec();
  static const ImageInputSpec none;
  const bool use_image = mode & 1;
  const bool use_pixels = use_image && (mode & 16);
  const auto& inputs = use_pixels ? pixel_inputs() : use_image ? image_inputs() : numeric_inputs();
  const ImageInputSpec& spec = use_pixels ? pixels : use_image ? image : none;
  Status s;
  if ((mode & 2) && (mode & 8) && !use_image) {
    check_fast_path(body);
    TfPredictRequest r;
    s = parse_tf_predict(body, float_input(), none, &r);
    if (s.ok() && r.inputs.size() != 1) __builtin_trap();
  } else if (mode & 2) {
    TfPredictRequest r;
    s = parse_tf_predict(body, inputs, spec, &r);
    if (s.ok() && (r.inputs.size() != inputs.size() || !dtypes_match(r.inputs, inputs))) __builtin_trap();
  } else {
    KServeInferRequest r;
    std::optional<size_t> header;
    if (mode & 4) header = static_cast<size_t>(mode >> 3) * 8;
    s = parse_kserve_infer(body, header, inputs, spec, &r);
    if (s.ok() && (r.inputs.size() != inputs.size() || !dtypes_match(r.inputs, inputs))) __builtin_trap();
  }
  if (!s.ok() && s.code() == ErrorCode::kOk) __builtin_trap();
  return 0;
}
