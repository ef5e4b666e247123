#include "controller/swarm_reads.h"

#include <utility>

namespace swarm_prepull::controller {

SwarmReads SwarmReads::for_event(std::string_view type) {
  SwarmReads reads;
  if (type == "service") {
    reads.services = true;
  } else if (type == "node") {
    reads.nodes = true;
  } else if (type == "config") {
    reads.configs = true;
  } else {
    reads = all();
  }
  return reads;
}

SwarmReads& SwarmReads::operator|=(const SwarmReads& more) {
  nodes = nodes || more.nodes;
  services = services || more.services;
  tasks = tasks || more.tasks;
  configs = configs || more.configs;
  return *this;
}

std::string to_string(const SwarmReads& reads) {
  std::string names;
  for (const auto& [read, name] : {std::pair{reads.nodes, "nodes"},
                                   {reads.services, "services"},
                                   {reads.tasks, "tasks"},
                                   {reads.configs, "configs"}}) {
    if (read) names += (names.empty() ? "" : ",") + std::string(name);
  }
  return names;
}

SwarmReads DueReads::take(Clock::time_point now, bool have_snapshot) {
  SwarmReads reads = marked_;
  marked_ = {};
  if (!have_snapshot || !reads.any()) {
    reads = SwarmReads::all();
  } else if (now >= full_read_at() && !reads.is_full()) {
    // The events' pass goes first, once, unless it lists the tasks anyway
    // (the full read's cost).
    if (full_read_put_off_ || reads.tasks) {
      reads = SwarmReads::all();
    } else {
      full_read_put_off_ = true;
    }
  }
  if (reads.is_full()) full_read_put_off_ = false;
  taken_at_ = now;
  asked_first_when_taken_ = asked_first_;
  asked_last_when_taken_ = asked_last_;
  // A full read asked for by now is this pass; one asked for later is not.
  if (reads.is_full() && asked_first_ <= now) {
    if (asked_last_ > now) {
      asked_first_ = asked_last_;
    } else {
      asked_first_ = Clock::time_point::max();
      asked_last_ = Clock::time_point::min();
    }
  }
  return reads;
}

void DueReads::pass_ended(const SwarmReads& reads, bool succeeded) {
  if (!succeeded) {
    marked_ |= reads;
    if (asked_first_when_taken_ != Clock::time_point::max()) {
      mark_all_at(asked_first_when_taken_);
      mark_all_at(asked_last_when_taken_);
    }
  } else if (reads.is_full()) {
    last_full_read_ = taken_at_;
  }
}

}  // namespace swarm_prepull::controller
