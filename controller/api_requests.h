// What the controller's agent API answered, where operators look: every
// answer counted by route and status (swarm_prepull_api_requests_total), and
// refusals (401 no or wrong token, 403 a report from an address that is not
// the node's agent task) logged once per change per peer and claimed node, not
// once per request: an agent with a wrong token retries forever, and its
// refusals must be visible without flooding the log.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <spdlog/logger.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/server.h"

namespace swarm_prepull::controller {

class ApiRequestRecorder {
 public:
  ApiRequestRecorder(prometheus::Family<prometheus::Counter>& requests,
                     std::shared_ptr<spdlog::logger> logger)
      : requests_(requests), logger_(std::move(logger)) {}

  // http::ServerOptions::on_answered.
  void record(const http::Answered& answered);

  // Callers (peer, route, claimed node) whose last answer was a refusal.
  std::size_t refused_peers() const { return refused_.size(); }

  // The latest refusal of a request that claimed to be node_id's agent, no
  // older than `since`: "401 (missing or invalid bearer token) from 10.0.1.5".
  std::optional<std::string> refusal_of(std::string_view node_id,
                                        std::chrono::steady_clock::time_point since) const;

 private:
  // More distinct refused peers than this are counted, not logged one by one:
  // the log of a scan stays bounded.
  static constexpr std::size_t max_logged_peers = 1024;

  prometheus::Family<prometheus::Counter>& requests_;
  std::shared_ptr<spdlog::logger> logger_;
  struct Caller {
    std::string peer, route, node;  // node: the claimed node id, "" for none
    auto operator<=>(const Caller&) const = default;
  };
  struct Refusal {
    unsigned status = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::map<Caller, Refusal> refused_;  // each caller's last refusal
  bool overflow_logged_ = false;
};

}  // namespace swarm_prepull::controller
