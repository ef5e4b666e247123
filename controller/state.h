// The controller's state machine, without I/O: the current plan, each node's
// published desired set with its generation and pull grants, the agents'
// last reports, and what follows from them (readiness, staleness).
//
// Published sets are recomputed from (plan, reports) level-triggered:
// set_plan() rebuilds every node's set and bumps the generation of exactly
// the nodes whose set or grants changed. A report changes published sets only
// through the pull grants (controller/pull_grants.h), which it updates
// incrementally with the same outcome: it costs O(its own images), not
// O(nodes x images), at 1,000 nodes. Nothing here outlives a restart that the
// swarm and the agents' next reports cannot rebuild.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/messages.h"
#include "controller/cache_fills.h"
#include "controller/pull_grants.h"
#include "reconcile/image_state.h"
#include "reconcile/plan.h"

namespace swarm_prepull::controller {

using Clock = std::chrono::steady_clock;

using reconcile::ImageState;

// An agent's report (POST /v1/nodes/{id}/status) and a node's published set
// (GET /v1/nodes/{id}/desired) are the agent API's messages (api/messages.h).
using NodeReport = api::StatusReport;
using NodeDesired = api::DesiredSet;  // images sorted by ref

struct StateOptions {
  // At most this many nodes hold a pull grant for the same image among the
  // nodes that do not report it present; 0: no cap.
  std::uint32_t max_parallel_node_pulls = 0;
  // At most this many grants (so nodes) pull from the same registry host at
  // once, cluster-wide; 0: no cap.
  std::uint32_t max_pulls_per_registry = 0;
  // A registry that answered some node 429 (rate_limited) gets no new grant
  // for this long, doubled by each 429 after a pause, up to the max; a
  // granted pull from it that ends present resets it.
  Clock::duration registry_backoff_base = std::chrono::seconds(5);
  Clock::duration registry_backoff_max = std::chrono::minutes(5);
  // An agent that neither reported nor polled for this long is stale.
  Clock::duration agent_stale_after = std::chrono::seconds(90);
  // Wall-clock milliseconds; generations are max(last + 1, now), so they grow
  // across restarts too. A seam for tests.
  std::function<std::uint64_t()> wall_ms;
};

// What a call changed, for the caller to wake long polls and count metrics.
struct Changes {
  std::vector<std::string> bumped_nodes;  // whose generation moved
  std::uint64_t cache_hits = 0;           // (node, image) pairs newly seen present
  std::uint64_t cache_misses = 0;         // ... newly seen not present
};

struct ImageReadiness {
  std::string ref;
  std::uint64_t nodes_desired = 0;
  std::uint64_t nodes_present = 0;
};

struct Readiness {
  std::vector<ImageReadiness> images;                 // sorted by ref
  std::map<std::string, std::uint64_t> node_missing;  // hostname (id when empty) -> missing
  // The data root's space as each node's last report gave it (nodes whose
  // agents did not measure it are left out), same keys as node_missing.
  std::map<std::string, double> node_disk_free;
  std::map<std::string, double> node_disk_size;
  // Each node's image GC, likewise (nodes whose agents do not say are left out).
  std::map<std::string, double> node_gc_candidate_bytes;
  std::map<std::string, double> node_gc_reclaimed_bytes;
  std::uint64_t pairs_desired = 0;
  std::uint64_t pairs_present = 0;
  double hit_ratio() const {
    return pairs_desired == 0 ? 1.0 : static_cast<double>(pairs_present) / pairs_desired;
  }
};

// An image the manager's engine could not resolve (a warm request's image;
// see controller/warm.h): shown in GET /v1/images as a failure with no node.
struct ResolveFailure {
  std::string ref;                                        // canonical, as requested
  api::FailureReason reason = api::FailureReason::other;  // not_found, unauthorized
  std::string message;                                    // the engine's
  bool operator==(const ResolveFailure&) const = default;
};

using RefSet = api::RefSet;  // GET /v1/images?refs=

// Whether GET /v1/images lists `ref` under a ?refs= filter (none: every ref).
inline bool filter_lists(const RefSet* only, std::string_view ref) {
  return only == nullptr || only->contains(ref);
}

struct AgentTransition {
  std::string node_id;
  std::string hostname;
  bool connected = false;  // true: came (back); false: went stale
};

class State {
 public:
  explicit State(StateOptions options);

  bool has_plan() const { return has_plan_; }
  const reconcile::Plan& plan() const { return plan_; }

  // A new plan from a reconcile pass: nodes gone from it lose their report.
  Changes set_plan(reconcile::Plan plan);

  // An agent's report; nullopt when the node is not in the plan.
  std::optional<Changes> report(std::string_view node_id, NodeReport report, Clock::time_point now);

  // The node's published set; nullptr when the node is not in the plan.
  // `now` (when given) records that the node's agent polled.
  const NodeDesired* desired(std::string_view node_id,
                             std::optional<Clock::time_point> now = std::nullopt);

  Readiness readiness() const;

  // Registries (reference domains) with a desired image whose last pull on
  // some node failed with network or timeout: registry -> one such ref.
  std::map<std::string, std::string> registries_failing() const;

  // The retry epoch of each registry (RegistryRecovery's): published with
  // every desired image of that registry. Bumps the nodes whose sets change.
  Changes set_retry_epochs(std::map<std::string, std::uint64_t> epochs);

  // The digest each desired tag was last resolved to (controller/tag_refresh.h):
  // published with the tag, and a node's report of the tag counts present
  // only with that digest. Bumps the nodes whose sets change.
  Changes set_tag_digests(std::map<std::string, std::string> digests);

  // The cluster cache (controller/cache_fills.h): each desired ref's cache
  // reference, published as api::DesiredImage::via, and the refs whose copy
  // into the cache is under way, which no node is granted meanwhile. Bumps
  // the nodes whose sets change. stage_cache_view keeps it for the next
  // set_plan without publishing.
  Changes set_cache_view(CacheView view);
  void stage_cache_view(CacheView view) { cache_ = std::move(view); }

  // Ends the rate-limit pauses that are over and hands out what they held
  // back (the controller calls it every second; reports do it too).
  Changes resume_registries(Clock::time_point now);
  // Registries paused after a 429, or whose next pause is longer than the base.
  std::map<std::string, RegistryBackoff> registry_backoffs(Clock::time_point now) const {
    return grants_.backoffs(now);
  }
  // Pull grants held now, by registry.
  std::map<std::string, std::uint32_t> registry_grants() const {
    return grants_.grants_by_registry();
  }

  // The node's agent's last report of `ref`; nullptr when there is none.
  const api::ImageStatus* reported(std::string_view node_id, std::string_view ref) const;

  // The node's agent's last report; nullptr when there is none.
  const NodeReport* last_report(std::string_view node_id) const;

  // Whether the node's agent reports every image of the node's running
  // services present (priority urgent or current: not the rollback targets nor
  // image sets); nullopt while it has not reported. What a held node waits for
  // (reconcile/node_hold.h).
  std::optional<bool> holds_running_images(std::string_view node_id) const;

  // When the node's agent last reported or polled; nullopt: never since start.
  std::optional<Clock::time_point> last_heard(std::string_view node_id) const;

  // Agents seen since start: connected (seen within agent_stale_after) and stale.
  std::pair<std::size_t, std::size_t> agent_counts(Clock::time_point now) const;
  // Agents whose state changed since the last call (first contact included).
  std::vector<AgentTransition> agent_transitions(Clock::time_point now);

  // GET /v1/images; resolve failures are listed under their ref, as failures
  // with node "" and stage "resolve" (agents' failures have stage "pull").
  // `only`: when given, these refs alone (a gate's few among a cluster's many).
  api::ImagesListing images(const std::vector<ResolveFailure>& resolve_failures = {},
                            const RefSet* only = nullptr) const;

  // The highest generation handed out (0 before the first plan).
  std::uint64_t generation() const { return last_generation_; }

 private:
  struct NodeEntry {
    NodeDesired published;
    std::optional<NodeReport> report;
    // Views into report->images: hashed, since refs are long and share their
    // prefixes, and every pass and listing looks up each (node, ref).
    std::unordered_map<std::string_view, const api::ImageStatus*> by_ref;
    std::map<std::string, bool, std::less<>> observed_present;  // for hits/misses transitions
    // ref -> the generation that first published the tag's current digest here.
    std::map<std::string, std::uint64_t, std::less<>> digest_since;
    std::optional<Clock::time_point> last_seen;
    bool reported_connected = false;  // what agent_transitions() last said
  };

  // Rebuilds every node's published set from plan_ and the reports; bumps
  // generations where they differ.
  void publish(Changes& changes);
  std::uint64_t next_generation();
  const api::ImageStatus* state_of(const NodeEntry& entry, std::string_view ref) const;
  // The digest published with `ref`; empty for a pinned ref or an unresolved tag.
  std::string_view expected_digest(std::string_view ref) const;
  // The node's report says `ref` present, with the content expected: a tag
  // whose digest is known counts only when the agent found that digest. A
  // report without one counts only when made from a set that already carried
  // the digest (an agent that predates digests, taken at its word), not from
  // an older set (the tag was checked against no digest, or an older one).
  bool is_present(const NodeEntry& entry, std::string_view ref,
                  std::string_view expected_digest) const;
  // The same with the node's report of `ref` already looked up (state_of).
  bool is_present(const NodeEntry& entry, const api::ImageStatus* state, std::string_view ref,
                  std::string_view expected_digest) const;
  // All that the grants read of one reported image; `filling`: the ref is
  // being copied into the cache.
  PullGrants::Input grant_input(const NodeEntry& entry, std::string_view ref,
                                std::string_view expected_digest) const;
  PullGrants::Input grant_input(const NodeEntry& entry, std::string_view ref,
                                std::string_view expected_digest, bool filling) const;
  // What the node is published for `ref`: present images always pull: true.
  bool may_pull(const std::string& node_id, const NodeEntry& entry, std::string_view ref,
                std::string_view expected_digest) const;
  // Publishes the grants that changed (and `touched`, the pairs whose input
  // changed) into the nodes' sets, with new generations.
  void publish_grants(std::vector<PullGrants::Pair> touched, Changes& changes);

  StateOptions options_;
  bool has_plan_ = false;
  reconcile::Plan plan_;
  std::map<std::string, NodeEntry, std::less<>> nodes_;          // by node id
  std::map<std::string, std::uint64_t> retry_epochs_;            // by registry
  std::map<std::string, std::string, std::less<>> tag_digests_;  // by tag ref
  CacheView cache_;
  std::uint64_t last_generation_ = 0;
  PullGrants grants_;
};

}  // namespace swarm_prepull::controller
