// The one way a request body becomes JSON: every parse error, invalid UTF-8
// and number overflow ("1e400") is a bad_request naming where (the byte
// offset), never an exception that would reach the client as a 500.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "http/error.h"

namespace swarm_prepull::http {

// `what` names the body in the message: "request body: malformed JSON at byte
// 13: ...". The Error's status is 400.
Result<nlohmann::json> parse_json_body(std::string_view body,
                                       std::string_view what = "request body");

}  // namespace swarm_prepull::http
