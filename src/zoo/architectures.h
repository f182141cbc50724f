// One function per zoo architecture; zoo.cc lists them.
#pragma once

#include <onnx/onnx_pb.h>

#include "zoo/model_builder.h"

namespace kiln::zoo {

// Each fills the builder (whose input "input" is the calibration batch) and returns
// the name of the [N,1000] logits value.
std::string build_resnet50_v1_5(ModelBuilder& b);
std::string build_resnet50_v2(ModelBuilder& b);
std::string build_mobilenet_v2(ModelBuilder& b);

}  // namespace kiln::zoo
