// Building request targets: image references contain '/', ':' and '@', and
// filters are JSON, so both must be percent-encoded before they go on the wire.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/url.h"

namespace swarm_prepull::engine {

// The Engine API's list filters: {"service": ["web"], "desired-state": ["running"]}.
using Filters = std::map<std::string, std::vector<std::string>>;

// The one percent-encoder (http/url.h).
using http::percent_encode;

// An image name or reference inside a path ("/images/{name}/json"). '/', ':'
// and '@' stay as they are: the engine's routes match {name:.*} across
// slashes, exactly as the docker CLI sends them; everything else is encoded.
std::string encode_path_name(std::string_view name);

// "?key=value&..." with both sides encoded; pairs with an empty value are left
// out (the engine treats "tag=" like no tag). Empty when no pair is left.
std::string query_string(std::vector<std::pair<std::string_view, std::string>> parameters);

// The JSON form of filters the engine reads from the `filters` parameter.
std::string filters_json(const Filters& filters);

}  // namespace swarm_prepull::engine
