#include "http/router.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace swarm_prepull::http {
namespace {

std::vector<std::string> split_pattern(std::string_view pattern) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= pattern.size()) {
    const auto slash = pattern.find('/', start);
    const auto end = slash == std::string_view::npos ? pattern.size() : slash;
    if (end > start) segments.emplace_back(pattern.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

}  // namespace

std::optional<std::string> RequestContext::query_value(const std::string& name) const {
  auto found = query.find(name);
  if (found == query.end()) return std::nullopt;
  return found->second;
}

void Router::add(Route route) {
  entries_.push_back(Entry{route, split_pattern(route.pattern)});
  routes_.push_back(std::move(route));
}

Router::Match Router::match(verb method, const std::vector<std::string>& segments) const {
  Match result;
  for (const auto& entry : entries_) {
    if (entry.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool matches = true;
    for (std::size_t i = 0; i < segments.size() && matches; ++i) {
      const auto& want = entry.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        params[want.substr(1, want.size() - 2)] = segments[i];
      } else {
        matches = want == segments[i];
      }
    }
    if (!matches) continue;
    if (!result.path_known) {
      result.pattern = entry.route.pattern;
      result.params = params;
    }
    const auto& methods = entry.route.methods;
    if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
      result.path_known = true;
      continue;
    }
    result.route = &entry.route;
    result.path_known = false;
    result.pattern = entry.route.pattern;
    result.params = std::move(params);
    return result;
  }
  return result;
}

Admission admit(const Router& router, const Request& header, std::string_view token) {
  Admission admission;
  auto target = parse_target(header.target());
  if (!target) {
    admission.refusal = error_response(header, status::bad_request, target.error().message);
    return admission;
  }
  if (header.count(field::authorization) > 1) {
    admission.refusal =
        error_response(header, status::bad_request, "more than one Authorization header");
    return admission;
  }
  admission.match = router.match(header.method(), target->segments);
  const auto* route = admission.match.route;
  if ((route == nullptr || route->access != Access::public_) && !has_bearer_token(header, token)) {
    admission.refusal =
        error_response(header, status::unauthorized, "missing or invalid bearer token");
    admission.match.route = nullptr;
    admission.match.path_known = false;
    return admission;
  }
  admission.target = std::move(*target);
  return admission;
}

bool has_bearer_token(const Request& request, std::string_view token) {
  if (token.empty() || request.count(field::authorization) != 1) return false;
  std::string_view value = request.find(field::authorization)->value();
  constexpr std::string_view scheme = "bearer ";
  if (value.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return false;
  }
  value.remove_prefix(scheme.size());
  // Constant time in the token's length: the gap to the right token leaks nothing.
  unsigned char difference = value.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const char given = i < value.size() ? value[i] : '\0';
    difference |= static_cast<unsigned char>(given ^ token[i]);
  }
  return difference == 0;
}

Response make_response(const Request& request, status code, std::string body,
                       std::string_view content_type) {
  Response response{code, request.version() == 0 ? 11 : request.version()};
  response.set(field::content_type, content_type);
  response.set(field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response json_response(const Request& request, status code, const nlohmann::json& body) {
  // Replace, not throw: a message may quote what the client sent.
  return make_response(request, code,
                       body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                       "application/json");
}

Response error_response(const Request& request, status code, std::string_view message) {
  return json_response(request, code, nlohmann::json{{"error", message}});
}

}  // namespace swarm_prepull::http
