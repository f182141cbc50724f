// NumPy .npy files: the way tensors go in and out of `kiln run` and the tests.
//
// Format (numpy.lib.format, versions 1.0, 2.0 and 3.0):
//   bytes 0-5   magic "\x93NUMPY"
//   byte  6, 7  major, minor version
//   then        header length: uint16 little-endian (v1) or uint32 little-endian (v2, v3)
//   then        header: a Python dict literal, e.g.
//                 {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
//               padded with spaces and one '\n' so the data starts at a multiple of 64
//   then        the elements, C order, exactly numel * itemsize bytes
//
// Supported element types: little-endian f32, f16, f64, i32, i64 and the one-byte
// i1, u1, b1. Big-endian data, Fortran order, structured dtypes and trailing bytes are
// rejected with an error naming the file and the problem; parsing never reads past the
// buffer and never allocates more than the file holds.
#pragma once

#include <cstddef>
#include <string>

#include "core/tensor.h"

namespace kiln {

// Parses a whole .npy image; `source_name` names it in error messages.
Tensor parse_npy(const void* data, size_t size, const std::string& source_name);
Tensor read_npy_file(const std::string& path);

// The .npy bytes of a tensor (version 1.0 unless the header needs more than 64 KiB).
// Throws for dtypes NumPy has no standard code for (bf16, fp8).
std::string encode_npy(const Tensor& tensor);
void write_npy_file(const std::string& path, const Tensor& tensor);

}  // namespace kiln
