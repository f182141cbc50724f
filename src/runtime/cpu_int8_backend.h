// The CPU backend as make_backend("cpu") returns it: the plain CPU backend, plus INT8 for
// machines without a GPU. An INT8 build of a float graph calibrates it (the same data,
// calibrators and cache as a GPU build) and runs the simulation of the GPU's INT8 scheme
// (quant/int8_simulation.h); a Q/DQ model runs its pairs as written. Both report int8.
#pragma once

#include <memory>

#include "engine/engine.h"

namespace kiln {

std::unique_ptr<Backend> make_cpu_backend_with_int8();

}  // namespace kiln
