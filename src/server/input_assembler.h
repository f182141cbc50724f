// Builds one model input tensor from the rows of a request, whatever form each row takes:
// nested numbers (written straight into one buffer), or for an image model an encoded
// image ({"b64": ...}, KServe BYTES) or an H x W x 3 list of pixels, which are decoded and
// preprocessed into the model's layout (normalized floats, or resized RGB bytes for a
// uint8 pixel model). Both protocol adapters use it.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "server/image_input.h"
#include "server/json_tensor_reader.h"

namespace kiln::server {

class InputAssembler {
 public:
  // `image`: the model's image spec when this input accepts images, else nullptr.
  InputAssembler(const TensorInfo& info, const ImageInputSpec* image, std::string what);

  // One row from JSON (TF Serving "instances", each element of a columnar list).
  Status add_row(simdjson::ondemand::value value);
  // Each element of a JSON list is one row.
  Status add_rows(simdjson::ondemand::value list);
  // One row given as encoded image bytes (already base64-decoded).
  Status add_encoded_image(std::string_view bytes);
  int64_t rows() const { return rows_; }
  // The assembled tensor [rows, ...].
  Status finish(Tensor* out) const;

 private:
  Status add_image_row_from_json(simdjson::ondemand::value value);
  void* new_image_row();
  void drop_last_image_row();

  const TensorInfo& info_;
  const ImageInputSpec* image_;
  std::string what_;
  JsonTensorReader numbers_;        // for non-image inputs
  std::vector<char> image_rows_;    // for image inputs: rows x row_bytes (floats or pixels)
  int64_t rows_ = 0;
};

// {"b64": "..."} decoded; nullopt when `value` is not such an object. Sets *status on
// a malformed object or invalid base64.
std::optional<std::string> read_b64_object(simdjson::ondemand::value value, const std::string& what, Status* status);

}  // namespace kiln::server
