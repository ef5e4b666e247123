// Durations as the agent API and the commands write them: "30s", "1500ms",
// "2m", "1h", or a plain number of seconds, fractions allowed ("0.5"). The
// long poll's `wait`, a warm request's `ttl`, and options such as
// --timeout use this one syntax.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace swarm_prepull::api {

// nullopt when `text` is not a duration or exceeds 10^12 ms (about 31 years).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact form parse_duration reads back: "1h", "30m", "90s", "1500ms".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace swarm_prepull::api
