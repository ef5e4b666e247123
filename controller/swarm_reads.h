// Which of the four lists of the swarm (nodes, services, tasks, configs) a
// pass reads from the engine; the others come from the last snapshot.
//
// A pass that only engine events asked for reads only what the events name
// (a service event: GET /services), as a Kubernetes informer keeps a cache
// that watch events update instead of listing everything again: on 1,000
// nodes with 10,000 running tasks, the full read stands for 0.1-0.2 s between
// a `docker service update` and the agents learning of it. Tasks have no
// events, so they are read by every other pass: the one that follows events
// a second later (swarm starts or moves tasks after them), the resync, a busy
// swarm's follow-up, an events stream that reconnected, a first pass. Each of
// those reads all four lists, and one is due at least every resync interval,
// so whatever an event could miss is read again within it. An event that
// comes when a full read is due is read first, on its own, and the full read
// follows at once when that pass succeeds: the agents learn of a `docker
// service update` without waiting for 10,000 tasks to be listed; the next
// pass reads every list whatever events came meanwhile, so events can delay
// a full read by one pass at most. Pure: the controller marks, takes and reports how its passes
// ended.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>

namespace swarm_prepull::controller {

struct SwarmReads {
  bool nodes = false;
  bool services = false;
  bool tasks = false;
  bool configs = false;

  static SwarmReads all() { return {true, true, true, true}; }
  // What an event of this type (reconcile::Event::type) may have changed;
  // every list for a type the controller does not follow.
  static SwarmReads for_event(std::string_view type);

  bool any() const { return nodes || services || tasks || configs; }
  bool is_full() const { return nodes && services && tasks && configs; }
  SwarmReads& operator|=(const SwarmReads& more);
  bool operator==(const SwarmReads&) const = default;
};

// "nodes,services,tasks,configs", or the lists that are set.
std::string to_string(const SwarmReads& reads);

// The reads asked for, kept between passes.
class DueReads {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DueReads(std::chrono::milliseconds resync_interval)
      : resync_interval_(resync_interval) {}

  // An event named what changed.
  void mark(const SwarmReads& reads) { marked_ |= reads; }
  // Reads were marked (by events, a refused report, a failed pass) that no
  // pass has taken yet.
  bool marked() const { return marked_.any(); }
  // Every list is read by the first pass that starts at `at` or later (a
  // full pass that starts before it does not count: the follow-up of an
  // event is there for the tasks swarm starts after it).
  void mark_all_at(Clock::time_point at) {
    asked_first_ = std::min(asked_first_, at);
    asked_last_ = std::max(asked_last_, at);
  }
  // When a pass must read every list (the resync, or one asked for): the
  // caller's timer fires by then.
  Clock::time_point full_read_at() const {
    return std::min(asked_first_, last_full_read_ + resync_interval_);
  }

  // What a pass starting at `now` reads: every list when there is no
  // snapshot to keep lists from, when nothing was marked (a pass no one asked
  // for reads the swarm) or when a full read is due and the last pass already
  // put it off; else what events marked.
  SwarmReads take(Clock::time_point now, bool have_snapshot);
  // How the pass that took `reads` ended. A failed pass leaves its reads due.
  void pass_ended(const SwarmReads& reads, bool succeeded);

 private:
  std::chrono::milliseconds resync_interval_;
  SwarmReads marked_;
  // The earliest and the latest full read asked for and not yet made (max
  // and min: none). A full pass makes those asked for by its start; the
  // latest stands for any between (a pass then reads after all of them).
  Clock::time_point asked_first_ = Clock::time_point::max();
  Clock::time_point asked_last_ = Clock::time_point::min();
  Clock::time_point last_full_read_ = Clock::time_point::min();  // the resync is due at once
  bool full_read_put_off_ = false;  // by the last pass, for events: the next one makes it
  Clock::time_point taken_at_{};
  Clock::time_point asked_first_when_taken_ = Clock::time_point::max();
  Clock::time_point asked_last_when_taken_ = Clock::time_point::min();
};

}  // namespace swarm_prepull::controller
