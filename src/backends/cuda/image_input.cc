#include "backends/cuda/image_input.h"

namespace kiln::cuda {

void add_image_input(LoweredGraph& lowered, const ImageInput& options) {
  ir::Graph& g = lowered.graph;
  if (g.inputs.empty()) fail_with(ErrorCode::kInvalidArgument, "image input: the model has no input");
  const int x = g.inputs[0];
  const ir::Value original = g.value(x);
  const Dims& d = original.dims;
  if (original.dtype != DType::kF32 || d.size() != 4 || d[1] != 3 || lowered.layouts[x] != Layout::kNCHW)
    fail_with(ErrorCode::kInvalidArgument, "image input: input '{}' is {}{}, not f32 [N,3,H,W]", original.name,
              dtype_name(original.dtype), dims_to_string(d));
  for (float s : options.std)
    if (s == 0.0f) fail_with(ErrorCode::kInvalidArgument, "image input: std must be non-zero");
  g.value(x).name = original.name + ":normalized";
  const int pixels = g.add_value(original.name, DType::kU8, {d[0], d[2], d[3], 3});
  lowered.layouts.push_back(Layout::kNCHW);  // dense in its logical order [N,H,W,3]
  lowered.batched.push_back(lowered.batched[x]);
  g.inputs[0] = pixels;

  auto stage_node = [&](const std::string& name, int output) {
    ir::Node n;
    n.name = name;
    n.op = "InputStage";
    n.domain = "kiln";
    n.inputs = {pixels};
    n.outputs = {output};
    n.attrs.set("mean", std::vector<float>(options.mean, options.mean + 3));
    n.attrs.set("std", std::vector<float>(options.std, options.std + 3));
    n.attrs.set("scale", options.scale);
    n.attrs.set("bgr", static_cast<int64_t>(options.bgr));
    return n;
  };
  // A conversion of the f32 input becomes the input stage itself (it writes any float
  // dtype in either order); other readers get the f32 NCHW tensor from a stage of its own.
  bool needs_f32 = false;
  for (ir::Node& n : g.nodes) {
    bool reads = false;
    for (int v : n.inputs) reads = reads || v == x;
    if (!reads) continue;
    if (n.op == "Convert" && n.inputs.size() == 1) n = stage_node(n.name, n.outputs[0]);
    else needs_f32 = true;
  }
  for (int v : g.outputs) needs_f32 = needs_f32 || v == x;
  if (needs_f32) g.nodes.insert(g.nodes.begin(), stage_node(original.name + ":input_stage", x));
}

}  // namespace kiln::cuda
