// The one base64 (RFC 4648): the standard alphabet (section 4) and the URL
// alphabet (section 5), both padded on encode. Decoding accepts missing
// padding (as the engine's config data may come) and refuses anything else
// that is not of the alphabet.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace swarm_prepull::http {

enum class Base64 { standard, url };

std::string base64_encode(std::string_view data, Base64 alphabet = Base64::standard);
std::optional<std::string> base64_decode(std::string_view text, Base64 alphabet = Base64::standard);

}  // namespace swarm_prepull::http
