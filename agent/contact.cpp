#include "agent/contact.h"

namespace swarm_prepull::agent {

namespace {

// The client hands back a 2xx answer's body, not its status: these are the
// statuses the agent API answers a success with (docs/agent-api.md).
unsigned success_status(Exchange exchange) { return exchange == Exchange::poll ? 200 : 204; }

}  // namespace

ContactChange ControllerContact::record(Exchange exchange, const api::Error* error, TimePoint now,
                                        double wall_now) {
  Channel& spoken = channel(exchange);
  spoken.ok = error == nullptr;
  spoken.status = error == nullptr ? success_status(exchange) : error->status;
  spoken.sequence = ++sequence_;
  if (error == nullptr) {
    last_contact_ = wall_now;
    if (!up() || !failing_) return {};
    failing_.reset();
    return {.kind = ContactChange::Kind::restored,
            .lost_for = std::chrono::duration_cast<Duration>(now - failing_since_)};
  }
  const std::pair<unsigned, boost::system::error_code> kind{error->status, error->code};
  if (failing_ == kind) return {};
  if (!failing_) failing_since_ = now;
  failing_ = kind;
  return {.kind = ContactChange::Kind::lost};
}

bool ControllerContact::up() const {
  const bool spoken = poll_.ok.has_value() || report_.ok.has_value();
  return spoken && poll_.ok.value_or(true) && report_.ok.value_or(true);
}

unsigned ControllerContact::last_status() const {
  const bool poll_failing = poll_.ok == false, report_failing = report_.ok == false;
  if (poll_failing != report_failing) return poll_failing ? poll_.status : report_.status;
  return poll_.sequence > report_.sequence ? poll_.status : report_.status;
}

}  // namespace swarm_prepull::agent
