// Pull once per cluster (docs/operations.md, "Pull once per cluster"): with
// --pull-through ORIGIN=CACHE, the controller copies each desired image of
// ORIGIN into CACHE byte for byte (registry/copy.h) before any node pulls it,
// then tells every node to pull it from CACHE first (api::DesiredImage::via).
// The origin then serves each layer once, whatever the number of nodes: the
// controller is the one "seed", and the nodes fan out from the cache.
//
// While an image's copy is under way no node is granted its pull; a copy that
// fails leaves the nodes to pull from the origin (never worse than without a
// cache) and is tried again after a while. A copy done is checked again now
// and then (a HEAD when the cache still holds it): a cache that lost its
// volume, moved to another node or was cleaned by hand is filled again rather
// than sending every node to the origin after a failed pull from it.
//
// Without I/O or clock: which copies are due, in flight, done or failed.
// Times come in as arguments.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "reconcile/expected.h"
#include "reconcile/pull_priority.h"
#include "registry/client.h"

namespace swarm_prepull::controller {

struct PullThrough {
  registry::RegistryAddress origin;  // its host as image references name it
  registry::RegistryAddress cache;
  bool operator==(const PullThrough&) const = default;
};

// "ORIGIN=CACHE", each side HOST[:PORT] (HTTPS) or http://HOST[:PORT]:
// "docker.io=http://10.0.0.5:5000". The cache's host must read as a
// registry in an image reference (a '.' or ':' in it, or "localhost"), or the
// name nodes pull would point at Docker Hub. Errors say which side is wrong
// and why.
reconcile::Expected<PullThrough> parse_pull_through(std::string_view text);

// One image to put in a cache: routes()[route], repository@digest.
struct CacheCopy {
  std::size_t route = 0;
  std::string repository;  // "library/nginx"
  std::string digest;
  auto operator<=>(const CacheCopy&) const = default;
};

// A desired image that may go through a cache: its digest (the ref's own, or
// the one its tag was resolved to; empty while unknown) and how urgently a
// node needs it (copies start in that order). A tag whose digest is about to
// be resolved is held like an image being copied: pulled from the origin
// meanwhile, it would cost the origin the image once per node.
struct CacheWant {
  std::string digest;
  reconcile::PullPriority priority = reconcile::PullPriority::current;
  bool resolving = false;  // no digest yet, and one is being asked for
};
using CacheWants = std::map<std::string, CacheWant, std::less<>>;  // by desired ref

// What State publishes of the caches (controller/state.h).
struct CacheView {
  std::map<std::string, std::string, std::less<>> via;  // desired ref -> cache ref by digest
  std::set<std::string, std::less<>> filling;           // desired refs whose copy is under way
  bool operator==(const CacheView&) const = default;
};

class CacheFills {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // A failed copy is tried again after `retry_after`, doubling with each
  // failure in a row up to 32 times that: a copy failing late costs the
  // origin its blobs again each time. A copy done is due again (a check)
  // `recheck_after` after it ended.
  CacheFills(std::vector<PullThrough> routes, std::chrono::milliseconds retry_after,
             std::chrono::milliseconds recheck_after);

  bool enabled() const { return !routes_.empty(); }
  const std::vector<PullThrough>& routes() const { return routes_; }

  // The copy `ref` needs: its registry has a cache and its digest is known
  // (`digest`: the ref's own, or the one its tag was resolved to).
  std::optional<CacheCopy> copy_for(const std::string& ref, const std::string& digest) const;

  // Of `wanted`, the copies to start now, most urgent first: never tried,
  // failed and past their backoff, or done and due for a check; at most
  // `max_in_flight` under way in all. They count as started. Copies of images
  // no longer wanted are forgotten.
  std::vector<CacheCopy> start_due(const CacheWants& wanted, TimePoint now,
                                   std::size_t max_in_flight);
  // A copy ended: the digest nodes pull from the cache, or nullopt (failed).
  void finished(const CacheCopy& copy, std::optional<std::string> cache_digest, TimePoint now);
  // How long until a failed copy is tried again; nullopt unless it failed.
  std::optional<std::chrono::milliseconds> retry_in(const CacheCopy& copy, TimePoint now) const;
  // When `copy`, under way, checks a copy done before (nodes keep pulling
  // through the cache meanwhile): the digest the cache held it by.
  std::optional<std::string> checking(const CacheCopy& copy) const;

  // Whether `ref`'s registry has a cache.
  bool routed(const std::string& ref) const;

  // What nodes are told about `wanted`: an image waiting for its copy (under
  // way or not started yet) or for its tag's digest is filling, one copied
  // (being checked or not) has its cache reference, one whose copy failed
  // has neither (the origin serves it).
  CacheView view(const CacheWants& wanted) const;

  std::size_t in_flight() const;
  // Copies done, for the gauge of what the caches hold.
  std::size_t filled() const;

 private:
  struct Fill {
    // checking: a copy under way of one done before.
    enum class Stage { copying, done, checking, failed } stage = Stage::copying;
    std::string cache_digest;  // done, checking
    TimePoint due_at{};        // failed: the retry; done: the check
    unsigned failures = 0;     // in a row
    bool under_way() const { return stage == Stage::copying || stage == Stage::checking; }
    bool copied() const { return stage == Stage::done || stage == Stage::checking; }
  };
  std::chrono::milliseconds backoff(unsigned failures) const;
  // The route of `ref`'s registry and the repository's path in it.
  std::optional<std::pair<std::size_t, std::string>> route_of(const std::string& ref) const;
  std::vector<PullThrough> routes_;
  std::chrono::milliseconds retry_after_;
  std::chrono::milliseconds recheck_after_;
  std::map<CacheCopy, Fill> fills_;
};

}  // namespace swarm_prepull::controller
