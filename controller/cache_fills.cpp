#include "controller/cache_fills.h"

#include <algorithm>
#include <utility>

#include "engine/registry_auth.h"
#include "reconcile/reference.h"

namespace swarm_prepull::controller {

reconcile::Expected<PullThrough> parse_pull_through(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == std::string_view::npos) {
    return reconcile::Error{"--pull-through \"" + std::string(text) +
                            "\": expected ORIGIN=CACHE (e.g. docker.io=http://10.0.0.5:5000)"};
  }
  auto origin = registry::parse_registry_address(text.substr(0, equals));
  if (!origin) return reconcile::Error{"--pull-through origin: " + origin.error().message};
  auto cache = registry::parse_registry_address(text.substr(equals + 1));
  if (!cache) return reconcile::Error{"--pull-through cache: " + cache.error().message};
  // The name nodes pull is CACHE/repo@digest: a host without '.' or ':'
  // would be read as a Docker Hub repository, one with '_' not at all.
  const std::string probe = cache->host + "/repository";
  const auto as_reference = reconcile::parse_reference(probe);
  if (!as_reference || as_reference->domain != cache->host) {
    return reconcile::Error{"--pull-through cache \"" + cache->host +
                            "\": not a registry host an image reference can name (it needs a '.' "
                            "or a ':port', or is localhost; letters, digits, '-')"};
  }
  if (origin->host == cache->host) {
    return reconcile::Error{"--pull-through \"" + std::string(text) +
                            "\": the cache is the origin itself"};
  }
  return PullThrough{std::move(*origin), std::move(*cache)};
}

CacheFills::CacheFills(std::vector<PullThrough> routes, std::chrono::milliseconds retry_after,
                       std::chrono::milliseconds recheck_after)
    : routes_(std::move(routes)), retry_after_(retry_after), recheck_after_(recheck_after) {}

std::optional<std::pair<std::size_t, std::string>> CacheFills::route_of(
    const std::string& ref) const {
  if (routes_.empty()) return std::nullopt;
  auto reference = reconcile::parse_reference(ref);
  if (!reference) return std::nullopt;
  const std::string host = engine::registry_host(reference->domain);
  for (std::size_t route = 0; route < routes_.size(); ++route) {
    if (routes_[route].origin.host == host) return std::pair{route, std::move(reference->path)};
  }
  return std::nullopt;
}

bool CacheFills::routed(const std::string& ref) const { return route_of(ref).has_value(); }

std::optional<CacheCopy> CacheFills::copy_for(const std::string& ref,
                                              const std::string& digest) const {
  if (digest.empty()) return std::nullopt;
  auto route = route_of(ref);
  if (!route) return std::nullopt;
  return CacheCopy{route->first, std::move(route->second), digest};
}

std::chrono::milliseconds CacheFills::backoff(unsigned failures) const {
  constexpr unsigned kMaxDoublings = 5;
  return retry_after_ * (1U << std::min(failures > 0 ? failures - 1 : 0, kMaxDoublings));
}

std::vector<CacheCopy> CacheFills::start_due(const CacheWants& wanted, TimePoint now,
                                             std::size_t max_in_flight) {
  std::vector<std::pair<reconcile::PullPriority, CacheCopy>> queue;
  std::set<CacheCopy> wanted_copies;
  for (const auto& [ref, want] : wanted) {
    if (auto copy = copy_for(ref, want.digest)) {
      wanted_copies.insert(*copy);
      queue.emplace_back(want.priority, std::move(*copy));
    }
  }
  std::sort(queue.begin(), queue.end());
  // Images no longer desired are forgotten (a copy under way ends first): a
  // cache that holds one again costs its copy a HEAD.
  std::erase_if(fills_, [&](const auto& entry) {
    return !entry.second.under_way() && !wanted_copies.contains(entry.first);
  });
  std::vector<CacheCopy> due;
  std::size_t running = in_flight();
  for (auto& [priority, copy] : queue) {
    if (running >= max_in_flight) break;
    auto [fill, inserted] = fills_.try_emplace(copy);
    if (!inserted) {
      auto& known = fill->second;
      const bool due_now = !known.under_way() && now >= known.due_at;
      if (!due_now) continue;
      known.stage = known.stage == Fill::Stage::done ? Fill::Stage::checking : Fill::Stage::copying;
    }
    due.push_back(std::move(copy));
    ++running;
  }
  return due;
}

void CacheFills::finished(const CacheCopy& copy, std::optional<std::string> cache_digest,
                          TimePoint now) {
  auto& fill = fills_[copy];
  if (cache_digest) {
    fill = Fill{Fill::Stage::done, std::move(*cache_digest), now + recheck_after_, 0};
  } else {
    const unsigned failures = fill.failures + 1;
    fill = Fill{Fill::Stage::failed, {}, now + backoff(failures), failures};
  }
}

std::optional<std::chrono::milliseconds> CacheFills::retry_in(const CacheCopy& copy,
                                                              TimePoint now) const {
  const auto fill = fills_.find(copy);
  if (fill == fills_.end() || fill->second.stage != Fill::Stage::failed) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(fill->second.due_at - now);
}

std::optional<std::string> CacheFills::checking(const CacheCopy& copy) const {
  const auto fill = fills_.find(copy);
  if (fill == fills_.end() || fill->second.stage != Fill::Stage::checking) return std::nullopt;
  return fill->second.cache_digest;
}

CacheView CacheFills::view(const CacheWants& wanted) const {
  CacheView view;
  if (routes_.empty()) return view;
  for (const auto& [ref, want] : wanted) {
    if (want.digest.empty()) {
      if (want.resolving && routed(ref)) view.filling.insert(ref);
      continue;
    }
    const auto copy = copy_for(ref, want.digest);
    if (!copy) continue;
    const auto fill = fills_.find(*copy);
    // Waiting for a slot counts as under way: no node pulls it from the origin meanwhile.
    if (fill == fills_.end() || fill->second.stage == Fill::Stage::copying) {
      view.filling.insert(ref);
      continue;
    }
    if (fill->second.copied()) {
      view.via.emplace(ref, routes_[copy->route].cache.host + "/" + copy->repository + "@" +
                                fill->second.cache_digest);
    }
  }
  return view;
}

std::size_t CacheFills::in_flight() const {
  std::size_t count = 0;
  for (const auto& [copy, fill] : fills_) count += fill.under_way() ? 1 : 0;
  return count;
}

std::size_t CacheFills::filled() const {
  std::size_t count = 0;
  for (const auto& [copy, fill] : fills_) count += fill.copied() ? 1 : 0;
  return count;
}

}  // namespace swarm_prepull::controller
