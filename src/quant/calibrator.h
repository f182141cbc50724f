// Choosing the clipping threshold of an activation tensor for symmetric INT8/FP8
// quantization (scale = threshold / 127 for INT8), from its histogram of |values|.
#pragma once

#include <string>

#include "quant/histogram.h"

namespace kiln::quant {

enum class CalibratorKind { kEntropy, kPercentile, kMinMax };

CalibratorKind parse_calibrator(const std::string& name);  // throws listing the valid names
const char* calibrator_name(CalibratorKind kind);

// Largest |value| seen.
float minmax_threshold(const AbsHistogram& h);
// The |value| below which `percentile` percent of the values fall (upper edge of that bin).
float percentile_threshold(const AbsHistogram& h, double percentile = 99.99);
// The threshold minimizing the KL divergence between the clipped distribution and its
// quantization into `levels` levels (as TensorRT's entropy calibrator): clipping a few
// outliers buys resolution for the bulk of the values.
float entropy_threshold(const AbsHistogram& h, int levels = 128);

float threshold_for(CalibratorKind kind, const AbsHistogram& h);

}  // namespace kiln::quant
