// Standard base64 (RFC 4648, with or without padding; URL-safe alphabet accepted too,
// since TF Serving clients send either). Decoding is strict: any other byte is an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::server {

// Decoded bytes, or nullopt for malformed input (bad character, impossible length).
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace kiln::server
