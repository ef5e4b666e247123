// The agent's decisions as a plain class, without I/O, clock or logging: the
// loop feeds it the desired set (from the controller), what the engine lists,
// pull results and the time; it answers which pulls to start and what to
// report. Level-triggered like the controller: every check compares the whole
// desired set with the whole image list.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "agent/backoff.h"
#include "agent/disk.h"
#include "agent/failure.h"
#include "api/messages.h"

namespace swarm_prepull::agent {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// The desired set and the statuses are the agent API's messages (api/messages.h).
using api::DesiredImage;
using api::DesiredSet;
using api::ImageStatus;
using reconcile::ImageState;

struct PullFailure {
  Reason reason = Reason::other;
  std::string message;
};

// What one check of the image list found among the desired images.
struct CheckCounts {
  std::size_t desired = 0;
  std::size_t present = 0;
  std::size_t missing = 0;
};

struct PullOutcome {
  bool success = false;
  PullFailure failure;         // when !success
  std::uint32_t attempts = 0;  // failed attempts so far, this one included
  bool permanent = false;      // not retried until the set or the credentials change
  Duration retry_in{0};        // when !success && !permanent, or when other_digest
  // success, but the tag names other content than the desired set's digest
  // (it moved again at the registry since the controller resolved it): not a
  // failure; pulled again after retry_in, or at once when the set's digest
  // for it changes.
  bool other_digest = false;
};

inline constexpr std::string_view pull_not_listed_message =
    "pull reported success but the image is not listed";

struct AgentStateOptions {
  std::size_t max_concurrent_pulls = 2;
  BackoffPolicy backoff{};
};

class AgentState {
 public:
  AgentState(AgentStateOptions options, RandomSource& random);

  // A set from the controller. Returns true when the refs, pull flags or
  // retry epochs differ from the last set (a new generation alone changes
  // nothing to do). A set whose refs differ clears the permanent failures
  // (not_found, unauthorized); a new retry epoch makes the network and
  // timeout failures of that image due at once.
  bool set_desired(DesiredSet set);
  const DesiredSet& desired() const { return desired_; }
  std::uint64_t generation() const { return desired_.generation; }

  // A fingerprint of the registry credentials; a change clears the permanent
  // failures. Returns true when it changed.
  bool set_credentials(std::uint64_t fingerprint);

  // The image list (reconcile::present_refs of GET /images/json). Presence is
  // decided by reconcile::missing_images: a pinned ref by digest, never by
  // tag; a tag the set gives a digest only when its local image has that
  // digest (reconcile::tag_at_digest), so a tag moved at the registry is
  // pulled again.
  CheckCounts observe_present(const std::unordered_set<std::string>& present);

  // Pulls to start now: missing, granted (pull flag), not in flight, not in
  // backoff, not failed permanently, at most max_concurrent_pulls in flight
  // overall; by priority (api::DesiredImage::priority), then in the desired
  // set's order. They are marked pulling from now on.
  std::vector<std::string> start_pulls(TimePoint now, double wall_now);

  // The pull of `ref` returned. `failure` is the engine's failure, classified;
  // nullopt when the engine reported success, and then `present_after` (the
  // image list read right after the pull) decides: a ref still missing there is
  // a failure with reason other and pull_not_listed_message.
  PullOutcome finish_pull(const std::string& ref, std::optional<PullFailure> failure,
                          const std::unordered_set<std::string>& present_after, TimePoint now);

  // Disk admission, decided every check before start_pulls. While it does not
  // admit, no pull starts and the missing images that would be pulled are
  // reported held (reason disk_low) with `why`; pulls in flight finish. The
  // space measured goes into the status report. Returns true when admission
  // flipped.
  bool set_disk(const Admission& admission, std::string why);
  bool admitted() const { return admitted_; }
  // Desired images reported held now.
  std::size_t held() const;

  // Forget pulls in flight (the loop lost them, e.g. on shutdown).
  void abandon_pulls();

  // Pulls in flight whose grant the controller took back: the image is still
  // desired, its pull flag now false and withdraw set (a task swarm starts
  // on another node needs the registry's slot). The loop cancels them, then
  // calls withdraw_pull for each.
  std::vector<std::string> withdrawn_grants() const;
  // A pull cancelled because its grant was taken back: no longer in flight,
  // and not a failure (no backoff; reported waiting, whatever an earlier
  // attempt failed with). It starts again when the set grants it again.
  void withdraw_pull(const std::string& ref);

  // The earliest time a retry becomes due, to wake the loop; nullopt if none.
  std::optional<TimePoint> next_retry(TimePoint now) const;

  std::vector<ImageStatus> statuses() const;
  std::size_t in_flight() const { return in_flight_.size(); }
  // Present desired images / desired images now; 1 when nothing is desired.
  double hit_ratio() const;

  // What POST /v1/nodes/{id}/status carries.
  api::StatusReport status_report(std::string_view agent_version,
                                  std::string_view engine_version) const;

 private:
  struct Record {
    std::uint32_t attempts = 0;
    std::optional<PullFailure> last_failure;
    bool permanent = false;
    TimePoint retry_at{};
  };
  bool is_present(const std::string& ref) const { return present_.count(ref) != 0; }
  // Missing, granted, not in flight, and neither in flight nor failed for
  // good, while the disk does not admit: would be pulled if it did.
  bool is_held(const DesiredImage& entry) const;
  // A pull of an image whose digest the set changed (its tag moved) is due
  // at once, whatever backoff or permanent failure the old content earned.
  void make_due_on_new_digests(const DesiredSet& set);
  void clear_permanent();
  // The controller saw a registry answer again (api::DesiredImage::retry
  // moved): a pull of its image that failed with network or timeout is due
  // at once, not after its backoff.
  void cut_backoff_on_new_retry_epochs(const DesiredSet& set);

  AgentStateOptions options_;
  RandomSource* random_;
  DesiredSet desired_;
  std::uint64_t credentials_ = 0;
  std::set<std::string> present_;            // desired refs found present at the last check
  std::map<std::string, double> in_flight_;  // ref -> wall-clock start
  std::map<std::string, Record> records_;    // refs that failed since their last success
  bool admitted_ = true;
  std::string held_why_;
  std::optional<DiskSpace> disk_;
};

}  // namespace swarm_prepull::agent
