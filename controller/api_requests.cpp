#include "controller/api_requests.h"

namespace swarm_prepull::controller {
namespace {

bool is_refusal(unsigned status) { return status == 401 || status == 403; }

std::string_view refusal_reason(unsigned status) {
  return status == 401 ? "missing or invalid bearer token"
                       : "not from the address of the node's agent task";
}

}  // namespace

void ApiRequestRecorder::record(const http::Answered& answered) {
  const std::string route = answered.pattern.empty() ? "unmatched" : std::string(answered.pattern);
  requests_.Add({{"route", route}, {"code", std::to_string(answered.status)}}).Increment();

  const auto node = answered.params.find("node_id");
  Caller key{std::string(answered.peer), route, node == answered.params.end() ? "" : node->second};
  if (is_refusal(answered.status)) {
    const auto now = std::chrono::steady_clock::now();
    const auto known = refused_.find(key);
    if (known != refused_.end() && known->second.status == answered.status) {
      known->second.last = now;
      return;
    }
    if (known == refused_.end() && refused_.size() >= max_logged_peers) {
      if (!overflow_logged_) {
        logger_->warn(
            "agent API refusing requests from more than {} peers; further ones are only counted "
            "(swarm_prepull_api_requests_total)",
            max_logged_peers);
        overflow_logged_ = true;
      }
      return;
    }
    refused_[key] = Refusal{answered.status, now};
    logger_->warn(
        "agent API refused peer={} route={} claimed_node={} code={} (logged once until its answer "
        "changes; counted in swarm_prepull_api_requests_total)",
        key.peer, route, key.node.empty() ? "-" : key.node, answered.status);
    return;
  }
  if (answered.status < 200 || answered.status >= 300) return;
  if (const auto known = refused_.find(key); known != refused_.end()) {
    logger_->info("agent API accepts peer={} route={} claimed_node={} again (was refused with {})",
                  key.peer, route, key.node.empty() ? "-" : key.node, known->second.status);
    refused_.erase(known);
    if (refused_.empty()) overflow_logged_ = false;
  }
}

std::optional<std::string> ApiRequestRecorder::refusal_of(
    std::string_view node_id, std::chrono::steady_clock::time_point since) const {
  const std::pair<const Caller, Refusal>* latest = nullptr;
  for (const auto& entry : refused_) {
    if (entry.first.node != node_id || entry.second.last < since) continue;
    if (latest == nullptr || entry.second.last > latest->second.last) latest = &entry;
  }
  if (latest == nullptr) return std::nullopt;
  return std::to_string(latest->second.status) + " (" +
         std::string(refusal_reason(latest->second.status)) + ") from " + latest->first.peer;
}

}  // namespace swarm_prepull::controller
