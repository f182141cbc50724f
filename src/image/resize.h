// Image resizing that reproduces PIL's Image.resize(..., BILINEAR) bit for bit, since
// that is what torchvision's Resize ran when the reference models were trained and
// evaluated: a triangle filter widened by the downscale factor (antialiasing), 8-bit
// fixed-point coefficients, a horizontal pass rounded to 8 bits, then a vertical pass.
#pragma once

#include "image/image.h"

namespace kiln::image {

// Resizes to width x height. With antialias=false the filter keeps its 1-pixel support
// when shrinking (plain bilinear interpolation, as TensorFlow's and OpenCV's resizes).
Image resize_bilinear(const Image& in, int width, int height, bool antialias = true);

// torchvision Resize(shorter): the shorter side becomes `shorter`, the longer one
// int(shorter * long / short) (truncated, as torchvision does).
void size_for_shorter_side(int width, int height, int shorter, int* out_width, int* out_height);

// torchvision CenterCrop: offsets round((size - crop) / 2) with round-half-to-even; pixels
// outside the image (when it is smaller than the crop) are 0.
Image center_crop(const Image& in, int width, int height);

}  // namespace kiln::image
