#include "frontends/onnx/onnx_importer.h"

namespace kiln::onnx {

ir::Graph import_onnx_file(const std::string& path) {
  fail_with(ErrorCode::kUnimplemented, "{}: ONNX import is not implemented yet", path);
}

ir::Graph import_onnx_bytes(const void*, size_t, const std::string& source_name) {
  fail_with(ErrorCode::kUnimplemented, "{}: ONNX import is not implemented yet", source_name);
}

}  // namespace kiln::onnx
