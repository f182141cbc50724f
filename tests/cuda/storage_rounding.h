// A CPU emulation of reduced-precision storage, used as the oracle for how far a whole
// model may drift in FP16 or BF16. The GPU engine stores weights and activations in the
// narrow type and accumulates in FP32; rounding every float constant and every node's
// float output to that type and back reproduces the storage error on the CPU backend
// (more of it, since the GPU keeps fused intermediates in registers). A GPU result whose
// distance from FP32 is of the order of the emulation's is explained by the format; a
// bug (an op that accumulates in the narrow type, a wrong epilogue) lands far outside.
#pragma once

#include <string>

#include "ir/graph.h"
#include "ir/onnx_dtype.h"
#include "ir/shape_inference.h"

namespace kiln::cuda_test {

inline ir::Graph with_storage_rounding(const ir::Graph& g, DType storage) {
  ir::Graph out;
  out.name = g.name + "+rounded";
  out.metadata = g.metadata;
  std::vector<int> mapped(g.values.size(), ir::kNoValue);
  auto is_float = [](const ir::Value& v) { return v.dtype == DType::kF32; };
  // Appends Cast(storage) + Cast(f32) after value `v`; returns the rounded value.
  auto round_trip = [&](int v, const std::string& name) {
    const int narrow = out.add_value(name + ".narrow");
    const int back = out.add_value(name + ".rounded");
    ir::Node down{name + ".to_narrow", "Cast", "", {v}, {narrow}, {}};
    down.attrs.set("to", ir::onnx_code_of(storage));
    ir::Node up{name + ".to_f32", "Cast", "", {narrow}, {back}, {}};
    up.attrs.set("to", ir::onnx_code_of(DType::kF32));
    out.add_node(std::move(down));
    out.add_node(std::move(up));
    return back;
  };
  for (size_t i = 0; i < g.values.size(); ++i) {
    const ir::Value& v = g.values[i];
    if (!v.is_constant()) continue;
    mapped[i] = out.add_constant(v.name, is_float(v) ? v.constant->cast(storage).cast(DType::kF32) : *v.constant);
  }
  for (int in : g.inputs) {
    const ir::Value& v = g.value(in);
    mapped[static_cast<size_t>(in)] = out.add_value(v.name, v.dtype, v.dims);
    out.inputs.push_back(mapped[static_cast<size_t>(in)]);
  }
  for (const ir::Node& n : g.nodes) {
    ir::Node copy = n;
    for (int& in : copy.inputs)
      if (in != ir::kNoValue) in = mapped.at(static_cast<size_t>(in));
    std::vector<int> raw;
    for (int& o : copy.outputs) {
      o = out.add_value(g.value(o).name);
      raw.push_back(o);
    }
    out.add_node(std::move(copy));
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const int old = n.outputs[k];
      mapped[static_cast<size_t>(old)] = is_float(g.value(old)) ? round_trip(raw[k], g.value(old).name) : raw[k];
    }
  }
  for (int o : g.outputs) out.outputs.push_back(mapped.at(static_cast<size_t>(o)));
  ir::infer_shapes(out);
  return out;
}

}  // namespace kiln::cuda_test
