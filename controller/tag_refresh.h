// Tags that move (docs/operations.md, "Tags that move"). A service whose spec
// holds a tag without a digest (created with --no-resolve-image, or when the
// manager could not resolve it) runs whatever the tag names when a task
// starts: swarm lets "each node access X independently, possibly leading to
// different nodes running different versions". The controller resolves such
// tags at the registry (the manager's GET /distribution) every
// --tag-refresh-interval and whenever a warm request resolves one, and gives
// nodes the digest with the tag (api::DesiredImage::digest): a node holds the
// tag only while its image of it has that digest, so a moved tag is pulled
// again everywhere.
//
// Without I/O or clock: the table of what each tag was resolved to, and the
// rules of what counts as a change. Times come in as arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/plan.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::controller {

// The desired refs that name a tag without a digest ("floating"): what a
// refresh resolves. Sorted, distinct.
std::vector<std::string> floating_refs(const reconcile::Plan& plan);

// Services whose current spec's image is a tag without a digest: their nodes
// may run different content (swarm_prepull_services_unpinned). An image ID
// or an image that does not parse is not counted (the plan reports those).
std::size_t unpinned_services(const std::vector<reconcile::Service>& services);

struct TagDigest {
  std::string digest;                // "sha256:..."
  std::uint64_t resolved_at_ms = 0;  // wall clock, ms since the epoch
  std::string previous;              // the digest before the last change; empty before one
  bool operator==(const TagDigest&) const = default;
};

enum class TagOutcome {
  first,      // no digest was known: not a change
  unchanged,  // the same digest again
  moved,      // another digest than the one known: the tag moved
};

class TagDigests {
 public:
  // `ref` (canonical, no digest) resolved to `digest` at `now_ms`.
  TagOutcome record(const std::string& ref, const std::string& digest, std::uint64_t now_ms);

  // A resolution of `ref` failed: its last known digest stays published (the
  // registry being away says nothing about where the tag points). True for
  // the first failure since the last success, the one worth a log line.
  bool record_failure(const std::string& ref);

  // Forgets the tags not in `refs` (no longer desired): a tag desired again
  // later starts over, its first resolution not counted as a change.
  void retain(const std::vector<std::string>& refs);

  const TagDigest* find(std::string_view ref) const;
  // Its last resolution failed (and none succeeded since).
  bool failing(std::string_view ref) const { return failing_.contains(ref); }
  // ref -> digest: what State publishes with each tag.
  std::map<std::string, std::string> digests() const;
  std::size_t size() const { return tags_.size(); }

 private:
  std::map<std::string, TagDigest, std::less<>> tags_;
  std::set<std::string, std::less<>> failing_;
};

}  // namespace swarm_prepull::controller
