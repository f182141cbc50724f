// TensorFlow models -> kiln IR: frozen GraphDefs (.pb) and SavedModel directories.
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln::tf {

// A frozen graph: inputs are its Placeholders, outputs the data outputs no node reads.
ir::Graph import_frozen_graph(const std::string& path);
ir::Graph import_graphdef_bytes(const void* data, size_t size, const std::string& source_name);

// A SavedModel directory (saved_model.pb + variables/): the "serve" meta graph's
// signature (serving_default unless named), with variables read from the checkpoint.
// Inputs and outputs are named by the signature's keys, as TensorFlow Serving names them.
ir::Graph import_saved_model(const std::string& dir, const std::string& signature = "serving_default");

}  // namespace kiln::tf
