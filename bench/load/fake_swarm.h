// A scripted Docker engine for the load harness (issue 15): it serves one
// generated swarm of many nodes as a manager's engine would (GET /_ping,
// /nodes, /services, /tasks, /configs, and an /events stream that stays
// open), and a rollout changes one service's image the way `docker service
// update --image` does and emits the service's update event.
// tests/unit/engine_fake_engine.h answers connections in a scripted order for
// the engine client's own tests; a controller asks again on every pass, so
// this one routes by path.
//
// It runs on an io_context of its own (its own thread), so that the engine's
// answers to the controller do not queue behind the simulated agents.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace swarm_prepull::load {

using Clock = std::chrono::steady_clock;

struct SwarmShape {
  std::size_t nodes = 1000;
  std::size_t global_services = 10;      // one image each, wanted on every node
  std::size_t replicated_services = 30;  // one image each, placed by zone
};

// What the engine saw of one pass of the controller: when its first list
// request arrived, when its GET /services did (the read that sees a
// rollout), when the last of its reads had its answer written, and which
// lists it read. A pass reads its lists in a fixed order (nodes, services,
// tasks, configs; all four, or only what events named), so a request for a
// list that does not come after the last one's begins the next pass. (A
// services-only pass and a tasks-only one right after it would count as one:
// this swarm has no node events, and its rollouts are service events.)
struct PassTimes {
  Clock::time_point started{};
  Clock::time_point services_requested{};
  Clock::time_point reads_answered{};
  std::string lists;  // "nodes,services,tasks,configs", "services", ...
};

class FakeSwarm {
 public:
  // Listens on 127.0.0.1 (an ephemeral port); serves once run() runs.
  FakeSwarm(boost::asio::io_context& context, SwarmShape shape);
  ~FakeSwarm();
  FakeSwarm(const FakeSwarm&) = delete;
  FakeSwarm& operator=(const FakeSwarm&) = delete;

  std::uint16_t port() const;
  // Every node's id, as GET /nodes lists them: the agents' --node-id.
  const std::vector<std::string>& node_ids() const { return node_ids_; }
  // The image the rolled-out service runs now, as the docker CLI stores it.
  std::string rollout_image() const;

  // Thread-safe: moves the rolled-out service to its next image (the old
  // spec becomes PreviousSpec) and emits its update event on every open
  // events stream. Returns the new image and the time the event was queued.
  std::pair<std::string, Clock::time_point> rollout();

  // Thread-safe: the controller's first pass whose GET /services came at or
  // after `after` (the first to see a rollout at `after`); empty if none did.
  PassTimes pass_after(Clock::time_point after) const;
  // Thread-safe: requests served so far, by path ("/nodes", ...).
  std::size_t requests() const;

  // Closes the listener and every events stream.
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::vector<std::string> node_ids_;
};

}  // namespace swarm_prepull::load
