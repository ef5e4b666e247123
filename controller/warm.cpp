#include "controller/warm.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "controller/controller.h"
#include "reconcile/constraint.h"
#include "reconcile/reference.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using reconcile::Error;

bool contains_folded(std::string_view text, std::string_view needle) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered.find(needle) != std::string::npos;
}

// FNV-1a, 64 bits: ids must not depend on the standard library's hash.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

reconcile::Expected<WarmRequest> decode_warm_request(const json& body) {
  if (!body.is_object()) return Error{"body: expected a JSON object"};
  for (const auto& [key, value] : body.items()) {
    if (key != "images" && key != "constraints" && key != "ttl") {
      return Error{"unknown key '" + key + "' (expected images, constraints, ttl)"};
    }
  }
  WarmRequest request;
  const auto images = body.find("images");
  if (images == body.end() || !images->is_array() || images->empty()) {
    return Error{"images: expected a non-empty array of image references"};
  }
  if (images->size() > max_warm_images) {
    return Error{"images: at most " + std::to_string(max_warm_images) + " per request"};
  }
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const json& item = (*images)[i];
    const std::string where = "images[" + std::to_string(i) + "]";
    if (!item.is_string()) return Error{where + ": expected a string"};
    auto reference = reconcile::parse_reference(item.get_ref<const std::string&>());
    if (!reference) return Error{where + ": " + reference.error().message};
    auto canonical = reference->canonical();
    if (seen.insert(canonical).second) request.images.push_back(std::move(canonical));
  }
  if (auto constraints = body.find("constraints"); constraints != body.end()) {
    if (!constraints->is_array()) return Error{"constraints: expected an array of strings"};
    for (std::size_t i = 0; i < constraints->size(); ++i) {
      const json& item = (*constraints)[i];
      const std::string where = "constraints[" + std::to_string(i) + "]";
      if (!item.is_string()) return Error{where + ": expected a string"};
      const auto& text = item.get_ref<const std::string&>();
      if (auto parsed = reconcile::parse_constraint(text); !parsed) {
        return Error{where + ": '" + text + "': " + parsed.error().message};
      }
      request.constraints.push_back(text);
    }
  }
  if (auto ttl = body.find("ttl"); ttl != body.end()) {
    std::optional<std::chrono::milliseconds> value;
    if (ttl->is_string()) {
      value = parse_duration(ttl->get_ref<const std::string&>());
    } else if (ttl->is_number() && ttl->get<double>() >= 0 && ttl->get<double>() < 1e9) {
      value = std::chrono::milliseconds(static_cast<std::int64_t>(ttl->get<double>() * 1000));
    }
    if (!value || value->count() <= 0 || *value > max_warm_ttl) {
      return Error{"ttl: expected a duration from 1ms to 24h (\"30m\", or seconds), got " +
                   ttl->dump()};
    }
    request.ttl = *value;
  }
  return request;
}

std::string resolve_failure_reason(const engine::Error& error) {
  using engine::engine_errc;
  const auto code = static_cast<engine_errc>(error.code.value());
  const std::string_view message = error.message;
  // The same reading of the engine's words as the agent's pull failures
  // (agent/failure.h), restricted to what a manifest lookup can say.
  if (error.status == 429 || contains_folded(message, "toomanyrequests") ||
      contains_folded(message, "rate limit")) {
    return "rate_limited";
  }
  if (code == engine_errc::not_found || contains_folded(message, "manifest unknown") ||
      contains_folded(message, "not found") || contains_folded(message, "does not exist")) {
    return "not_found";
  }
  if (code == engine_errc::unauthorized || contains_folded(message, "unauthorized") ||
      contains_folded(message, "authentication required") || contains_folded(message, "denied")) {
    return "unauthorized";
  }
  if (code == engine_errc::timeout || contains_folded(message, "timeout") ||
      contains_folded(message, "timed out")) {
    return "timeout";
  }
  if (code == engine_errc::connection_failed || code == engine_errc::connection_lost ||
      contains_folded(message, "connection refused") || contains_folded(message, "no such host") ||
      contains_folded(message, "dial tcp")) {
    return "network";
  }
  return "other";
}

bool is_final_resolve_failure(std::string_view reason) {
  return reason == "not_found" || reason == "unauthorized";
}

std::string WarmRequests::id_of(const WarmRequest& request) {
  std::vector<std::string> images = request.images;
  std::vector<std::string> constraints = request.constraints;
  std::sort(images.begin(), images.end());
  std::sort(constraints.begin(), constraints.end());
  std::string key;
  for (const auto& image : images) key.append(image).push_back('\n');
  key.push_back('\x1e');
  for (const auto& constraint : constraints) key.append(constraint).push_back('\n');
  char id[32];
  std::snprintf(id, sizeof id, "warm:%012llx",
                static_cast<unsigned long long>(fnv1a(key) & 0xffffffffffffULL));
  return id;
}

reconcile::Expected<std::string> WarmRequests::add(const WarmRequest& request,
                                                   std::vector<WarmImage> images,
                                                   Clock::time_point expires) {
  std::string id = id_of(request);
  auto found = requests_.find(id);
  if (found == requests_.end()) {
    if (requests_.size() >= max_requests_) {
      return Error{"too many warm requests (" + std::to_string(max_requests_) +
                   "); they expire after their ttl"};
    }
    found = requests_.emplace(id, Entry{}).first;
  }
  found->second.images = std::move(images);
  found->second.constraints = request.constraints;
  found->second.expires = std::max(found->second.expires, expires);
  return id;
}

void WarmRequests::record_failure(ResolveFailure failure, Clock::time_point expires) {
  std::string ref = failure.ref;
  failures_.insert_or_assign(std::move(ref), FailureEntry{std::move(failure), expires});
}

void WarmRequests::clear_failure(std::string_view ref) {
  if (auto found = failures_.find(ref); found != failures_.end()) failures_.erase(found);
}

bool WarmRequests::expire(Clock::time_point now) {
  const auto before = requests_.size();
  std::erase_if(requests_, [&](const auto& item) { return item.second.expires <= now; });
  std::erase_if(failures_, [&](const auto& item) { return item.second.expires <= now; });
  return requests_.size() != before;
}

std::vector<reconcile::NamedImageSet> WarmRequests::image_sets() const {
  std::vector<reconcile::NamedImageSet> sets;
  for (const auto& [id, entry] : requests_) {
    if (entry.images.empty()) continue;
    reconcile::NamedImageSet set;
    set.source = id;
    for (const auto& image : entry.images) set.set.images.push_back(image.ref);
    set.set.placement.constraints = entry.constraints;
    sets.push_back(std::move(set));
  }
  return sets;
}

std::vector<ResolveFailure> WarmRequests::failures() const {
  std::vector<ResolveFailure> list;
  for (const auto& [ref, entry] : failures_) list.push_back(entry.failure);
  return list;
}

}  // namespace swarm_prepull::controller
