// Names the wire protocols use for kiln's dtypes and error codes.
#pragma once

#include <string_view>

#include "core/dtype.h"
#include "core/error.h"

namespace kiln::server {

std::string_view tf_dtype_name(DType t);       // "DT_FLOAT"
std::string_view kserve_dtype_name(DType t);   // "FP32"
DType kserve_dtype_from_name(std::string_view name);  // kUndefined when unknown (or "BYTES")
std::string_view tf_error_code_name(ErrorCode c);     // "OK", "NOT_FOUND", ...

}  // namespace kiln::server
