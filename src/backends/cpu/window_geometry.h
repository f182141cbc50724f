// Geometry of sliding-window ops (Conv, MaxPool, AveragePool): kernel, strides,
// dilations and explicit begin/end pads per spatial axis, with ONNX auto_pad resolved
// and the output size computed (floor or ceil mode).
#pragma once

#include <vector>

#include "core/shape.h"
#include "ir/attributes.h"

namespace kiln::cpu {

struct WindowGeometry {
  Dims input;      // spatial input sizes
  Dims kernel;
  Dims strides;
  Dims dilations;
  Dims pad_begin;
  Dims pad_end;
  Dims output;     // spatial output sizes
  size_t rank() const { return input.size(); }
};

// `kernel` comes from the weight (Conv) or the kernel_shape attribute (pools).
// Throws kiln::Error on non-positive strides/dilations/kernels, bad pad counts, an
// unknown auto_pad, or an empty output.
WindowGeometry window_geometry(const ir::Attributes& attrs, const Dims& input, const Dims& kernel, bool ceil_mode);

// 1-D geometry as 2-D with a unit leading axis, so kernels only implement the 2-D case.
WindowGeometry as_2d(const WindowGeometry& g);

}  // namespace kiln::cpu
