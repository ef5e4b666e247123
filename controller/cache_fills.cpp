#include "controller/cache_fills.h"

#include <algorithm>

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
  if (origin->host == cache->host) {
    return reconcile::Error{"--pull-through \"" + std::string(text) +
                            "\": the cache is the origin itself"};
  }
  return PullThrough{std::move(*origin), std::move(*cache)};
}

CacheFills::CacheFills(std::vector<PullThrough> routes, std::chrono::milliseconds retry_after)
    : routes_(std::move(routes)), retry_after_(retry_after) {}

std::optional<CacheCopy> CacheFills::copy_for(const std::string& ref,
                                              const std::string& digest) const {
  if (routes_.empty() || digest.empty()) return std::nullopt;
  const auto reference = reconcile::parse_reference(ref);
  if (!reference) return std::nullopt;
  const std::string host = engine::registry_host(reference->domain);
  for (std::size_t route = 0; route < routes_.size(); ++route) {
    if (routes_[route].origin.host == host) return CacheCopy{route, reference->path, digest};
  }
  return std::nullopt;
}

std::vector<CacheCopy> CacheFills::start_due(const std::map<std::string, std::string>& wanted,
                                             TimePoint now, std::size_t max_in_flight) {
  std::vector<CacheCopy> copies;
  for (const auto& [ref, digest] : wanted) {
    if (auto copy = copy_for(ref, digest)) copies.push_back(std::move(*copy));
  }
  std::sort(copies.begin(), copies.end());
  // Images no longer desired are forgotten (a copy under way ends first): a
  // cache that holds one again costs its copy a HEAD.
  std::erase_if(fills_, [&](const auto& entry) {
    return entry.second.stage != Fill::Stage::copying &&
           !std::binary_search(copies.begin(), copies.end(), entry.first);
  });
  std::vector<CacheCopy> due;
  std::size_t running = in_flight();
  for (auto& copy : copies) {
    if (running >= max_in_flight) break;
    auto [fill, inserted] = fills_.try_emplace(copy);
    if (!inserted) {
      const bool retry =
          fill->second.stage == Fill::Stage::failed && now - fill->second.failed_at >= retry_after_;
      if (!retry) continue;
      fill->second = Fill{};
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
    fill = Fill{Fill::Stage::done, std::move(*cache_digest), {}};
  } else {
    fill = Fill{Fill::Stage::failed, {}, now};
  }
}

CacheView CacheFills::view(const std::map<std::string, std::string>& wanted) const {
  CacheView view;
  if (routes_.empty()) return view;
  for (const auto& [ref, digest] : wanted) {
    const auto copy = copy_for(ref, digest);
    if (!copy) continue;
    const auto fill = fills_.find(*copy);
    // Waiting for a slot counts as under way: no node pulls it from the origin meanwhile.
    if (fill == fills_.end() || fill->second.stage == Fill::Stage::copying) {
      view.filling.insert(ref);
      continue;
    }
    if (fill->second.stage == Fill::Stage::done) {
      view.via.emplace(ref, routes_[copy->route].cache.host + "/" + copy->repository + "@" +
                                fill->second.cache_digest);
    }
  }
  return view;
}

std::size_t CacheFills::in_flight() const {
  std::size_t count = 0;
  for (const auto& [copy, fill] : fills_) count += fill.stage == Fill::Stage::copying ? 1 : 0;
  return count;
}

std::size_t CacheFills::filled() const {
  std::size_t count = 0;
  for (const auto& [copy, fill] : fills_) count += fill.stage == Fill::Stage::done ? 1 : 0;
  return count;
}

}  // namespace swarm_prepull::controller
