#include "controller/warm.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "engine/registry_failure.h"

namespace swarm_prepull::controller {
namespace {

using reconcile::Error;

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

api::FailureReason resolve_failure_reason(const engine::Error& error) {
  // The same reading of the engine's words as the agent's pull failures: a
  // manifest lookup fails with the registry's own answers.
  return api::parse_failure_reason(engine::to_string(engine::classify_registry_failure(error)))
      .value_or(api::FailureReason::other);
}

bool is_final_resolve_failure(api::FailureReason reason) {
  return reason == api::FailureReason::not_found || reason == api::FailureReason::unauthorized;
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

std::vector<WarmRequests::Held> WarmRequests::held() const {
  std::vector<Held> list;
  for (const auto& [id, entry] : requests_) {
    Held item{.id = id, .refs = {}, .expires = entry.expires};
    for (const auto& image : entry.images) item.refs.push_back(image.ref);
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace swarm_prepull::controller
