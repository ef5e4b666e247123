#include "engine/registry_failure.h"

#include <algorithm>
#include <boost/algorithm/string/case_conv.hpp>
#include <initializer_list>
#include <string>

namespace swarm_prepull::engine {
namespace {

bool contains_any(const std::string& text, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(), [&](std::string_view needle) {
    return text.find(needle) != std::string::npos;
  });
}

}  // namespace

std::string_view to_string(RegistryFailure failure) {
  switch (failure) {
    case RegistryFailure::disk_full:
      return "disk_full";
    case RegistryFailure::rate_limited:
      return "rate_limited";
    case RegistryFailure::not_found:
      return "not_found";
    case RegistryFailure::unauthorized:
      return "unauthorized";
    case RegistryFailure::timeout:
      return "timeout";
    case RegistryFailure::network:
      return "network";
    case RegistryFailure::other:
      return "other";
  }
  return "other";
}

RegistryFailure classify_registry_failure(const Error& error) {
  const std::string message = boost::algorithm::to_lower_copy(error.message);
  const auto code = static_cast<engine_errc>(error.code.value());
  const bool ours = error.code.category() == engine_category();

  if (contains_any(message, {"no space left on device"})) return RegistryFailure::disk_full;
  if (error.status == 429 ||
      contains_any(message, {"toomanyrequests", "too many requests", "rate limit"})) {
    return RegistryFailure::rate_limited;
  }
  if (error.status == 404 || (ours && code == engine_errc::not_found) ||
      contains_any(message, {"manifest unknown", "not found", "repository does not exist",
                             "no such image", "name unknown"})) {
    return RegistryFailure::not_found;
  }
  if (error.status == 401 || error.status == 403 || (ours && code == engine_errc::unauthorized) ||
      contains_any(message, {"unauthorized", "authentication required", "denied",
                             "incorrect username or password", "no basic auth credentials"})) {
    return RegistryFailure::unauthorized;
  }
  if ((ours && code == engine_errc::timeout) ||
      contains_any(message, {"timeout", "timed out", "deadline exceeded"})) {
    return RegistryFailure::timeout;
  }
  if ((ours && (code == engine_errc::connection_failed || code == engine_errc::connection_lost)) ||
      contains_any(message, {"connection refused", "connection reset", "no such host", "dial tcp",
                             "network is unreachable", "no route to host", "broken pipe",
                             "unexpected eof", "server misbehaving", "tls: "})) {
    return RegistryFailure::network;
  }
  return RegistryFailure::other;
}

}  // namespace swarm_prepull::engine
