#pragma once

#include <string>
#include <vector>

namespace kiln::cli {

// Rewrites "--flag_name[=v]" to "--flag-name[=v]" (values untouched), so the flags of
// TensorFlow Serving and TF-TRT scripts work as written.
std::vector<std::string> normalize_flag_spellings(int argc, char** argv);

}  // namespace kiln::cli
