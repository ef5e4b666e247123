// What the agent remembers for image GC between passes, since the engine
// keeps no time an image was pulled or last used (agent/gc_plan.h): when it
// first listed each image and when it last saw a container made from it,
// plus the running totals it reports. Pure: the loop passes the listings and
// the time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/gc_plan.h"
#include "api/messages.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::agent {

// The ImageIDs of the containers given: what GC must never remove.
std::unordered_set<std::string> images_in_use(const std::vector<reconcile::Container>& containers);

class GcActivity {
 public:
  // One pass's listings. An image listed for the first time since the
  // agent's first pass is first listed `now`: pulled within one check. What
  // the first pass finds has no such time (its history is unknown) and is
  // ordered by Created: protecting it for --gc-min-age after every agent
  // restart would hold GC back exactly when a full disk may have been why
  // the agent restarted. Images no longer listed are forgotten.
  void observe(const std::vector<reconcile::Image>& images,
               const std::unordered_set<std::string>& in_use, WallTime now);

  // The planner's view of `images`, with what was observed of each.
  std::vector<GcImage> gc_images(const std::vector<reconcile::Image>& images) const;

  // The last plan and its removals, for the status report. `removed` and
  // `reclaimed_bytes` count this pass's removals (dry-run: the candidates
  // not counted before, see first_candidacy).
  void record_pass(const GcPlan& plan, std::uint64_t removed, std::uint64_t reclaimed_bytes);
  // In dry-run, whether `id` is a candidate for the first time: each image
  // counts once in the would-have-removed totals, not once per pass.
  bool first_candidacy(const std::string& id);

  const api::GcSummary& summary() const { return summary_; }

 private:
  struct Seen {
    std::optional<WallTime> first_listed;
    std::optional<WallTime> last_used;
  };
  bool first_pass_done_ = false;
  std::unordered_map<std::string, Seen> seen_;  // by image id
  std::unordered_set<std::string> counted_;     // dry-run candidates already counted
  api::GcSummary summary_;
};

}  // namespace swarm_prepull::agent
