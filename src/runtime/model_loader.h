// Turns a model path into the IR or a runnable engine, whatever its format.
#pragma once

#include <memory>
#include <string>

#include "engine/engine.h"
#include "ir/graph.h"

namespace kiln {

enum class ModelFormat { kOnnx, kTfFrozenGraph, kTfSavedModel, kPlan };

// Decides by content (plan magic, ONNX/GraphDef protobuf) and layout (saved_model.pb in a
// directory); throws kInvalidArgument / kNotFound with the path when it cannot tell.
ModelFormat detect_model_format(const std::string& path);
const char* model_format_name(ModelFormat format);

// Imports an ONNX or TensorFlow model into a verified, shape-inferred graph.
ir::Graph import_model(const std::string& path);

// Imports (or, for a plan, loads) and builds an engine for options.device.
std::unique_ptr<Engine> load_engine(const std::string& path, const BuildOptions& options);

}  // namespace kiln
