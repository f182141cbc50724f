// kiln's built-in model zoo: reference architectures as ONNX models (opset 13) with
// deterministic synthetic weights, so every command can run offline with a realistic
// network. Input "input" f32 [N,3,224,224] NCHW, output "logits" f32 [N,1000]; the
// preprocessing the models expect is in metadata_props["kiln.preprocess"].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace kiln::zoo {

struct ZooModelInfo {
  std::string name;         // "resnet50"
  std::string description;  // one line for `kiln zoo --list`
  int64_t parameters = 0;   // trainable parameters (BatchNorm running statistics excluded)
};

const std::vector<ZooModelInfo>& zoo_models();

// Builds a model by name; throws kiln::Error (kNotFound) listing the known names.
::onnx::ModelProto build_zoo_model(const std::string& name);

// Builds and writes a model; throws kiln::Error naming the path when it cannot write.
void write_zoo_model(const std::string& name, const std::string& path);

}  // namespace kiln::zoo
