#include "cli/flag_aliases.h"

namespace kiln::cli {

std::vector<std::string> normalize_flag_spellings(int argc, char** argv) {
  std::vector<std::string> out;
  bool after_separator = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") after_separator = true;
    if (!after_separator && a.rfind("--", 0) == 0) {
      const size_t eq = a.find('=');
      const size_t end = eq == std::string::npos ? a.size() : eq;
      for (size_t k = 2; k < end; ++k) if (a[k] == '_') a[k] = '-';
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace kiln::cli
