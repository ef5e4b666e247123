#include "agent/disk.h"

#include <sys/statvfs.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace swarm_prepull::agent {

namespace {

std::string lower(std::string_view text) {
  std::string result(text);
  for (auto& c : result) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return result;
}

std::optional<double> unit_factor(std::string_view unit) {
  static const std::array<std::pair<std::string_view, double>, 16> units = {{
      {"", 1.0},
      {"b", 1.0},
      {"k", 1e3},
      {"kb", 1e3},
      {"m", 1e6},
      {"mb", 1e6},
      {"g", 1e9},
      {"gb", 1e9},
      {"t", 1e12},
      {"tb", 1e12},
      {"kib", 1024.0},
      {"mib", 1024.0 * 1024},
      {"gib", 1024.0 * 1024 * 1024},
      {"tib", 1024.0 * 1024 * 1024 * 1024},
      {"ki", 1024.0},
      {"mi", 1024.0 * 1024},
  }};
  const std::string key = lower(unit);
  for (const auto& [name, factor] : units) {
    if (name == key) return factor;
  }
  return std::nullopt;
}

std::string trim_zeros(std::string text) {
  if (text.find('.') == std::string::npos) return text;
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

std::string fixed(double value, int decimals) {
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                       std::chars_format::fixed, decimals);
  if (ec != std::errc{}) return "?";
  return trim_zeros(std::string(buffer.data(), end));
}

}  // namespace

std::uint64_t MinFreeDisk::required(std::uint64_t size_bytes) const {
  if (!is_percent) return bytes;
  return static_cast<std::uint64_t>(std::ceil(static_cast<double>(size_bytes) * percent / 100.0));
}

std::string MinFreeDisk::to_string() const {
  if (is_percent) return fixed(percent, 3) + "%";
  return format_bytes(bytes);
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 5> units = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < units.size()) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return std::to_string(bytes) + "B";
  return fixed(value, 1) + std::string(units[unit]);
}

reconcile::Expected<MinFreeDisk> parse_min_free_disk(std::string_view text) {
  const std::string shown(text);
  const auto bad = [&](std::string_view why) {
    return reconcile::Error{"--min-free-disk: " + std::string(why) + ", got '" + shown +
                            "' (expected bytes such as 2GiB, 500MB, 1048576, or a percentage "
                            "such as 10%)"};
  };
  if (text.empty()) return bad("empty");
  std::size_t digits = 0;
  bool dot = false;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || (text[digits] == '.' && !dot))) {
    if (text[digits] == '.') dot = true;
    ++digits;
  }
  if (digits == 0 || (digits == 1 && dot)) return bad("no number");
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc{} || end != text.data() + digits || !std::isfinite(number)) {
    return bad("not a number");
  }
  const std::string_view unit = text.substr(digits);
  MinFreeDisk result;
  if (unit == "%") {
    if (number > 100) return bad("a percentage above 100");
    result.is_percent = true;
    result.percent = number;
    return result;
  }
  const auto factor = unit_factor(unit);
  if (!factor) return bad("unknown unit '" + std::string(unit) + "'");
  const double bytes = std::round(number * *factor);
  // 2^63 and up would not convert exactly; no filesystem is that large anyway.
  if (bytes >= 9.2e18) return bad("too large");
  result.bytes = static_cast<std::uint64_t>(bytes);
  return result;
}

Admission admit_pulls(std::optional<DiskSpace> space, const MinFreeDisk& min_free) {
  Admission result;
  result.space = space;
  if (!space) return result;
  result.required_free = min_free.required(space->size_bytes);
  result.admit = space->free_bytes >= result.required_free;
  return result;
}

reconcile::Expected<DiskSpace> measure_disk(const std::string& path) {
  struct statvfs stats {};
  if (::statvfs(path.c_str(), &stats) != 0) {
    const int error = errno;
    return reconcile::Error{"statvfs(" + path + "): " + std::strerror(error)};
  }
  const auto fragment =
      static_cast<std::uint64_t>(stats.f_frsize != 0 ? stats.f_frsize : stats.f_bsize);
  return DiskSpace{.free_bytes = static_cast<std::uint64_t>(stats.f_bavail) * fragment,
                   .size_bytes = static_cast<std::uint64_t>(stats.f_blocks) * fragment};
}

}  // namespace swarm_prepull::agent
