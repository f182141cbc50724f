// The INT8 tests check the kernels on narrow convolutions (3 to 15 input channels), which
// builds keep in FP16 by default (int8_lowering.h, min_int8_input_channels). This binary
// lowers them to INT8 like any other unless the environment says otherwise;
// Int8Lowering.NarrowStemRunsQuantizedThroughSpaceToDepth and Int8Stem check the default.
#include <cstdlib>

namespace {
const bool narrow_convolutions_in_int8 = [] { return ::setenv("KILN_INT8_MIN_CHANNELS", "1", 0) == 0; }();
}  // namespace
