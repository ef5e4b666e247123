#include "agent/state.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "reconcile/plan.h"

namespace swarm_prepull::agent {

AgentState::AgentState(AgentStateOptions options, RandomSource& random)
    : options_(options), random_(&random) {
  if (options_.max_concurrent_pulls == 0) options_.max_concurrent_pulls = 1;
}

namespace {
// What the image list must hold for the entry to count present.
std::string presence_key(const DesiredImage& entry) {
  if (entry.digest.empty()) return entry.ref;
  auto key = reconcile::tag_at_digest(entry.ref, entry.digest);
  return key.empty() ? entry.ref : key;  // a pinned ref is its own digest
}

const DesiredImage* find_entry(const DesiredSet& set, std::string_view ref) {
  const auto found = std::find_if(set.images.begin(), set.images.end(),
                                  [&](const DesiredImage& entry) { return entry.ref == ref; });
  return found == set.images.end() ? nullptr : &*found;
}

std::vector<std::string> refs_of(const DesiredSet& set) {
  std::vector<std::string> refs;
  refs.reserve(set.images.size());
  for (const auto& entry : set.images) refs.push_back(entry.ref);
  return refs;
}
}  // namespace

void AgentState::clear_permanent() {
  for (auto& [ref, record] : records_) {
    if (record.permanent) {
      record.permanent = false;
      record.retry_at = TimePoint{};  // due at once
    }
  }
}

void AgentState::cut_backoff_on_new_retry_epochs(const DesiredSet& set) {
  std::map<std::string_view, std::uint64_t> previous;
  for (const auto& entry : desired_.images) previous.emplace(entry.ref, entry.retry);
  for (const auto& entry : set.images) {
    const auto record = records_.find(entry.ref);
    if (record == records_.end() || !record->second.last_failure) continue;
    const auto before = previous.find(entry.ref);
    if (entry.retry == 0 || (before != previous.end() && before->second == entry.retry)) continue;
    const auto reason = record->second.last_failure->reason;
    if (reason == Reason::network || reason == Reason::timeout) {
      record->second.retry_at = TimePoint{};  // due at once
    }
  }
}

void AgentState::make_due_on_new_digests(const DesiredSet& set) {
  for (const auto& entry : set.images) {
    const auto* before = find_entry(desired_, entry.ref);
    if (before == nullptr || before->digest == entry.digest) continue;
    if (const auto record = records_.find(entry.ref); record != records_.end()) {
      record->second.permanent = false;
      record->second.retry_at = TimePoint{};
    }
  }
}

bool AgentState::set_desired(DesiredSet set) {
  const bool changed = set.images != desired_.images;
  // Before desired_ moves on: the retry epochs and digests are compared with the last set's.
  cut_backoff_on_new_retry_epochs(set);
  make_due_on_new_digests(set);
  auto old_refs = refs_of(desired_);
  auto new_refs = refs_of(set);
  std::sort(old_refs.begin(), old_refs.end());
  std::sort(new_refs.begin(), new_refs.end());
  desired_ = std::move(set);
  if (old_refs != new_refs) clear_permanent();
  // Forget what is no longer desired (pulls in flight finish and are dropped then).
  const std::set<std::string> wanted(new_refs.begin(), new_refs.end());
  std::erase_if(records_, [&](const auto& item) { return wanted.count(item.first) == 0; });
  std::erase_if(present_, [&](const std::string& ref) { return wanted.count(ref) == 0; });
  return changed;
}

bool AgentState::set_credentials(std::uint64_t fingerprint) {
  if (fingerprint == credentials_) return false;
  credentials_ = fingerprint;
  clear_permanent();
  return true;
}

CheckCounts AgentState::observe_present(const std::unordered_set<std::string>& present) {
  std::vector<std::string> keys;
  keys.reserve(desired_.images.size());
  for (const auto& entry : desired_.images) keys.push_back(presence_key(entry));
  const auto missing = reconcile::missing_images(keys, present);
  const std::set<std::string> missing_set(missing.begin(), missing.end());
  present_.clear();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (missing_set.count(keys[i]) == 0) {
      const auto& ref = desired_.images[i].ref;
      present_.insert(ref);
      records_.erase(ref);  // present by any means (swarm pulled it): nothing failed any more
    }
  }
  return {keys.size(), present_.size(), missing.size()};
}

bool AgentState::set_disk(const Admission& admission, std::string why) {
  const bool flipped = admission.admit != admitted_;
  admitted_ = admission.admit;
  held_why_ = admitted_ ? std::string() : std::move(why);
  disk_ = admission.space;
  return flipped;
}

bool AgentState::is_held(const DesiredImage& entry) const {
  if (admitted_ || !entry.pull || is_present(entry.ref) || in_flight_.count(entry.ref) != 0) {
    return false;
  }
  const auto record = records_.find(entry.ref);
  return record == records_.end() || !record->second.permanent;
}

std::size_t AgentState::held() const {
  return static_cast<std::size_t>(std::count_if(desired_.images.begin(), desired_.images.end(),
                                                [&](const auto& entry) { return is_held(entry); }));
}

std::vector<std::string> AgentState::start_pulls(TimePoint now, double wall_now) {
  std::vector<std::string> started;
  if (!admitted_) return started;
  // Higher priority first (what a task needs soonest), within it what a task
  // swarm is starting here needs, then the set's order.
  std::vector<const DesiredImage*> order;
  order.reserve(desired_.images.size());
  for (const auto& entry : desired_.images) order.push_back(&entry);
  std::stable_sort(order.begin(), order.end(), [](const DesiredImage* a, const DesiredImage* b) {
    return std::pair(a->priority, !a->starting) < std::pair(b->priority, !b->starting);
  });
  // While swarm's own pull for a starting task is under way, a pull of lower
  // priority would only share the registry link and the disk with it.
  std::optional<reconcile::PullPriority> lowest_allowed;
  for (const DesiredImage* entry : order) {
    if (entry->starting && !is_present(entry->ref)) {
      lowest_allowed = entry->priority;
      break;
    }
  }
  for (const DesiredImage* image : order) {
    const DesiredImage& entry = *image;
    if (in_flight_.size() >= options_.max_concurrent_pulls) break;
    if (lowest_allowed && entry.priority > *lowest_allowed) break;
    if (!entry.pull || is_present(entry.ref) || in_flight_.count(entry.ref) != 0) continue;
    if (const auto record = records_.find(entry.ref); record != records_.end()) {
      if (record->second.permanent || record->second.retry_at > now) continue;
    }
    in_flight_.emplace(entry.ref, wall_now);
    started.push_back(entry.ref);
  }
  return started;
}

PullOutcome AgentState::finish_pull(const std::string& ref, std::optional<PullFailure> failure,
                                    const std::unordered_set<std::string>& present_after,
                                    TimePoint now) {
  in_flight_.erase(ref);
  const auto* entry = find_entry(desired_, ref);
  const bool desired = entry != nullptr;
  if (!failure) {
    const std::string key = entry != nullptr ? presence_key(*entry) : ref;
    if (present_after.count(key) != 0) {
      records_.erase(ref);
      if (desired) present_.insert(ref);
      PullOutcome outcome;
      outcome.success = true;
      return outcome;
    }
    if (key != ref && present_after.count(ref) != 0) {
      // The pull got what the tag names now, which the controller has not
      // resolved yet: waiting for its next set, not failed. Held back so that
      // the wake after this pull does not start the same pull again at once.
      Record& record = records_[ref];
      record.last_failure.reset();
      record.permanent = false;
      PullOutcome outcome{.success = true, .other_digest = true};
      outcome.retry_in = backoff_delay(options_.backoff, 1, *random_);
      record.retry_at = now + outcome.retry_in;
      return outcome;
    }
    failure = PullFailure{Reason::other, std::string(pull_not_listed_message)};
  }
  Record scratch;
  Record& record = desired ? records_[ref] : scratch;
  record.attempts += 1;
  record.last_failure = *failure;
  record.permanent = is_permanent(failure->reason);
  PullOutcome outcome{.success = false,
                      .failure = *failure,
                      .attempts = record.attempts,
                      .permanent = record.permanent};
  if (!record.permanent) {
    outcome.retry_in = backoff_delay(options_.backoff, record.attempts, *random_);
    record.retry_at = now + outcome.retry_in;
  }
  return outcome;
}

void AgentState::abandon_pulls() { in_flight_.clear(); }

std::vector<std::string> AgentState::withdrawn_grants() const {
  std::vector<std::string> refs;
  for (const auto& entry : desired_.images) {
    if (!entry.pull && entry.withdraw && in_flight_.count(entry.ref) != 0) {
      refs.push_back(entry.ref);
    }
  }
  return refs;
}

void AgentState::withdraw_pull(const std::string& ref) {
  in_flight_.erase(ref);
  // Reported waiting, not failed with an earlier attempt's reason: an old
  // rate_limited would read as a new 429 and pause the registry everywhere.
  if (const auto record = records_.find(ref); record != records_.end()) {
    record->second.last_failure.reset();
  }
}

std::optional<TimePoint> AgentState::next_retry(TimePoint now) const {
  std::optional<TimePoint> earliest;
  // Nothing is due while held: the next check measures the disk again.
  if (!admitted_) return earliest;
  for (const auto& entry : desired_.images) {
    if (!entry.pull || is_present(entry.ref) || in_flight_.count(entry.ref) != 0) continue;
    const auto record = records_.find(entry.ref);
    if (record == records_.end() || record->second.permanent) continue;
    const TimePoint due = std::max(record->second.retry_at, now);
    if (!earliest || due < *earliest) earliest = due;
  }
  return earliest;
}

std::vector<ImageStatus> AgentState::statuses() const {
  std::vector<ImageStatus> result;
  result.reserve(desired_.images.size());
  for (const auto& entry : desired_.images) {
    ImageStatus status;
    status.ref = entry.ref;
    const auto record = records_.find(entry.ref);
    if (is_present(entry.ref)) {
      status.state = ImageState::present;
      status.digest = entry.digest;
    } else if (const auto flight = in_flight_.find(entry.ref); flight != in_flight_.end()) {
      status.state = ImageState::pulling;
      status.since = flight->second;
      if (record != records_.end()) status.attempts = record->second.attempts;
    } else if (is_held(entry)) {
      status.state = ImageState::held;
      status.message = held_why_;
      if (record != records_.end()) status.attempts = record->second.attempts;
    } else if (record != records_.end() && record->second.last_failure) {
      status.state = ImageState::failed;
      status.reason = record->second.last_failure->reason;
      status.message = record->second.last_failure->message;
      status.attempts = record->second.attempts;
    } else {
      status.state = ImageState::waiting;
    }
    result.push_back(std::move(status));
  }
  return result;
}

double AgentState::hit_ratio() const {
  if (desired_.images.empty()) return 1.0;
  return static_cast<double>(present_.size()) / static_cast<double>(desired_.images.size());
}

api::StatusReport AgentState::status_report(std::string_view agent_version,
                                            std::string_view engine_version) const {
  api::StatusReport report{.generation = desired_.generation,
                           .images = statuses(),
                           .agent_version = std::string(agent_version),
                           .engine_version = std::string(engine_version)};
  if (disk_) {
    report.disk_free_bytes = disk_->free_bytes;
    report.disk_size_bytes = disk_->size_bytes;
  }
  return report;
}

}  // namespace swarm_prepull::agent
