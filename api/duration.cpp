#include "api/duration.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace swarm_prepull::api {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  double number = 0;
  const char* const end = text.data() + digits;
  const auto [stop, ec] = std::from_chars(text.data(), end, number, std::chars_format::fixed);
  if (ec != std::errc{} || stop != end) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  const double millis = number * scale;
  if (!std::isfinite(millis) || millis > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(millis));
}

std::string format_duration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms == 0 || ms % 1000 != 0) return std::to_string(ms) + "ms";
  const auto s = ms / 1000;
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace swarm_prepull::api
