#include "client/image_request.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "image/image.h"

namespace kiln::client {

bool needs_signature(const PredictTarget& target) {
  return !(target.protocol == Protocol::kTfServing && target.payload == Payload::kJpeg);
}

ModelSignature fetch_signature(HttpConnection& connection, const PredictTarget& target) {
  HttpRequestSpec get;
  get.method = "GET";
  get.target = connection.url().base_path + metadata_path(target.protocol, target.model, target.version);
  const HttpReply reply = send_or_throw(connection, get);
  return target.protocol == Protocol::kTfServing ? parse_tf_metadata(reply.body) : parse_kserve_metadata(reply.body);
}

ImageFile read_image_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_with(ErrorCode::kNotFound, "{}: cannot open the image file", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  ImageFile f{path, buffer.str()};
  if (f.bytes.empty()) fail("{}: the image file is empty", path);
  return f;
}

HttpRequestSpec build_image_request(const ServerUrl& url, const PredictTarget& target, const ModelSignature* signature,
                                    const std::vector<ImageFile>& images) {
  KILN_CHECK(!images.empty(), "no image to send");
  KILN_CHECK(target.protocol == Protocol::kKServe || target.payload != Payload::kBinary,
             "--payload binary needs --protocol kserve (TF Serving REST has no binary tensor form)");
  KILN_CHECK(signature || !needs_signature(target), "the model's signature is needed for this request");
  const std::string path = url.base_path + predict_path(target.protocol, target.model, target.version);
  if (target.payload == Payload::kJpeg) {
    std::vector<std::string> encoded;
    for (const auto& img : images) encoded.push_back(img.bytes);
    const std::string input = signature && !signature->inputs.empty() ? signature->inputs[0].name : "";
    if (target.protocol == Protocol::kKServe) (void)image_input_shape(*signature);  // an image model, or say why not
    return encoded_images_request(target.protocol, path, input, encoded);
  }
  const ImageInputShape shape = image_input_shape(*signature);
  std::vector<image::Image> decoded;
  for (const auto& img : images) {
    decoded.push_back(image::decode_image(img.bytes.data(), img.bytes.size(), img.path));
    const auto [h, w] = image::preprocessed_size(decoded.back().width, decoded.back().height, shape.preprocess);
    if (h != shape.height || w != shape.width)
      fail("{}: a {}x{} image preprocesses to {}x{}, the model needs {}x{} (too small for the model's crop)", img.path,
           decoded.back().width, decoded.back().height, w, h, shape.width, shape.height);
  }
  // A pixel model normalizes on the server's GPU: send the bytes, 4x fewer than floats.
  const Tensor batch = shape.pixels ? image::pixel_batch(decoded, shape.preprocess)
                                    : image::preprocess_batch(decoded, shape.preprocess);
  return tensor_request(target.protocol, target.payload, path, signature->inputs[0].name, batch);
}

}  // namespace kiln::client
