// Standard base64 (RFC 4648, padded), as TF Serving's {"b64": ...} and KServe's JSON BYTES
// elements expect.
#pragma once

#include <string>
#include <string_view>

namespace kiln::client {

std::string base64_encode(std::string_view bytes);

}  // namespace kiln::client
