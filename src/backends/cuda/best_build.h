// `--precision best` on the CUDA backend: the fastest of FP16 and INT8 per convolution,
// chosen from timed tactics (as `trtexec --best`).
//
// Phases: (1) an FP16 engine of the graph and (2) an INT8 engine with every eligible
// convolution in INT8, both timing their tactics; (3) per convolution, INT8 if its time
// plus the input conversion it would need beats FP16 by kInt8MinGain
// (layer_precision_choice.h); (4) the mixed engine, timed again where its layers differ
// from the probes, and convolutions that turned out slower there in INT8 than in FP16
// (their real neighbours, conversions included) go back to FP16 and it is built once more.
// Finally the FP16, all-INT8 and mixed engines are each run whole at the largest batch and
// the fastest is kept: layer times measured one at a time miss what the layers cost each
// other (conversions at every change of precision), so the mixed choice can lose to a
// uniform engine.
// The phases share a timing cache (the user's, or a temporary file), so each shape is
// timed once.
#pragma once

#include <memory>

#include "engine/engine.h"
#include "ir/graph.h"
#include "quant/calibration.h"

namespace kiln::cuda {

// `graph` is optimized; `table` holds its activation ranges. Progress lines go to
// options.progress, ending with one line per convolution naming its precision and why.
std::unique_ptr<Engine> build_best_engine(const ir::Graph& graph, const BuildOptions& options, int device,
                                          const quant::CalibrationTable& table);

}  // namespace kiln::cuda
