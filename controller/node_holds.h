// Which nodes joined while --hold-new-nodes is on, and what each needs now
// (reconcile/node_hold.h has the rules). The controller owns one, feeds it
// each pass's nodes and applies the steps through the engine. No I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/state.h"
#include "reconcile/node_hold.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::controller {

class NodeHolds {
 public:
  explicit NodeHolds(std::chrono::seconds hold) : hold_(hold) {}

  struct Step {
    std::string node_id;
    std::string hostname;
    reconcile::HoldStep step = reconcile::HoldStep::none;
    std::int64_t joined_at = 0;  // unix seconds; the label's value for a held node
    bool warm = false;
  };

  // A pass's nodes: the first call takes every node as already there (never
  // held); a node first seen later joined at `now`.
  void observe(const std::vector<reconcile::Node>& nodes, std::int64_t now);

  // What each node needs now, given what its agent reports; steps `none`
  // are left out.
  std::vector<Step> steps(const std::vector<reconcile::Node>& nodes, const State& state,
                          std::int64_t now) const;

  // The step was applied: a node released or no longer watched is done.
  void done(const Step& step);

  // Nodes joined and watched (not yet paused, or paused and not released).
  bool watching() const { return !joined_.empty(); }

 private:
  std::chrono::seconds hold_;
  bool first_pass_seen_ = false;
  std::set<std::string> known_;
  std::map<std::string, std::int64_t> joined_;  // node id -> unix seconds first seen
};

}  // namespace swarm_prepull::controller
