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

// What the engine saw of one pass of the controller after a rollout: when
// its GET /nodes arrived (the pass started) and when the last of its reads
// (nodes, services, tasks, configs, in that order today) had its answer
// written.
struct PassTimes {
  Clock::time_point nodes_requested{};
  Clock::time_point reads_answered{};
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

  // Thread-safe: the controller's first pass that began after `after`.
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
