// Percent-encoding (RFC 3986, on Boost.URL) and the parse of a request target
// that the server routes and authenticates on.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/error.h"

namespace swarm_prepull::http {

// Percent-encodes every byte but RFC 3986's unreserved characters and `keep`.
std::string percent_encode(std::string_view text, std::string_view keep = {});

// Decodes %XX (and '+' as a space when plus_as_space, as in a query); nullopt
// when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space = false);

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates).
bool is_valid_utf8(std::string_view text);

// A request target in canonical origin form, decoded once: what routing and
// authentication both look at.
struct Target {
  std::vector<std::string> segments;         // decoded: "/v1/nodes/a%3Ab" -> {"v1","nodes","a:b"}
  std::string path;                          // the segments joined: "/v1/nodes/a:b"; "/" for none
  std::map<std::string, std::string> query;  // decoded; a repeated name keeps its last value
};

// Parses a request target, and refuses with bad_request (the message says
// why) anything that is not in canonical origin form, rather than guess what
// it means: an absolute-form ("http://host/v1/...") or a target without a
// leading '/', empty segments ("//", a trailing '/'), dot segments ("/./",
// "/../", also percent-encoded), an encoded '/' ("%2F"), bytes outside RFC
// 3986, and decoded segments or query parts that are not valid UTF-8 or hold
// control characters. The root "/" alone is allowed.
Result<Target> parse_target(std::string_view target);

}  // namespace swarm_prepull::http
