// Whether the agent is in contact with its controller, from the outcome of
// every exchange (the desired set's long poll and the status reports), without
// I/O, clock or logging: the loop records each outcome with the time and
// logs what record() says changed. An agent whose token is refused keeps
// running on the last set it received, so this is the only place that says it
// is not being heard (swarm_prepull_controller_up and its companions).
//
// The poll and the reports are two channels: the agent is in contact only
// when the last exchange of each channel that has spoken got a 2xx answer.
// Counting only "the last exchange" overall would flap: a controller that
// answers the poll but refuses the reports (403, a report from an address
// that is not the node's agent task) would read up for a moment after every
// poll and reset an alert's `for` each time.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "agent/state.h"
#include "api/error.h"

namespace swarm_prepull::agent {

enum class Exchange { poll, report };

// What an outcome changed, for the loop to log once per change.
struct ContactChange {
  enum class Kind {
    none,      // nothing new to say
    lost,      // a failure starts, or its kind (status or error code) changed
    restored,  // contact is back after a failure
  };
  Kind kind = Kind::none;
  Duration lost_for{0};  // restored: how long contact was lost
};

class ControllerContact {
 public:
  // One exchange: `error` is null when the controller answered 2xx and the
  // answer could be read. `wall_now` is unix time, for last_contact(). A
  // cancelled exchange (the agent stopping) is not an outcome: do not record it.
  ContactChange record(Exchange exchange, const api::Error* error, TimePoint now, double wall_now);

  // Every channel that has spoken got a readable 2xx answer last time.
  bool up() const;
  // The HTTP status of the controller's last answer, 0 when there was no
  // answer; while a channel is failing, that channel's (the later one's if
  // both are), so a refusal is not hidden by the other channel's 200.
  unsigned last_status() const;
  // Unix time of the last 2xx answer; 0 before the first.
  double last_contact() const { return last_contact_; }

 private:
  struct Channel {
    std::optional<bool> ok;  // nullopt until its first exchange
    unsigned status = 0;
    std::uint64_t sequence = 0;  // of its last exchange, to tell which came later
  };
  Channel& channel(Exchange exchange) { return exchange == Exchange::poll ? poll_ : report_; }

  Channel poll_;
  Channel report_;
  std::uint64_t sequence_ = 0;
  double last_contact_ = 0;
  // The failure logged (kind, not text: the request and endpoint differ by
  // channel and would log the same refusal twice), and since when.
  std::optional<std::pair<unsigned, boost::system::error_code>> failing_;
  TimePoint failing_since_{};
};

}  // namespace swarm_prepull::agent
