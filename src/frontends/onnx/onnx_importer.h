// ONNX protobuf -> kiln IR.
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln::onnx {

// Reads, converts, folds constants and infers shapes. Throws kiln::Error naming the
// file and, where relevant, the node; unsupported ops are all listed in one error.
ir::Graph import_onnx_file(const std::string& path);
ir::Graph import_onnx_bytes(const void* data, size_t size, const std::string& source_name);

}  // namespace kiln::onnx

namespace onnx {
class ModelProto;
}

namespace kiln::onnx {

// Converts an already parsed model; `base_dir` is where external data files live
// ("" when the model did not come from a file).
ir::Graph import_onnx_model(const ::onnx::ModelProto& model, const std::string& source_name,
                            const std::string& base_dir);

}  // namespace kiln::onnx
