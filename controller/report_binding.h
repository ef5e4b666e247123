// Whose status report for a node counts (docs/agent-api.md, "Whose report
// counts"). Every agent holds the same token, so the token alone cannot tell
// one node's agent from another's: anyone holding it could report for every
// node and make `wait` see images that are nowhere. Swarm itself knows which
// agent task runs on which node and at which address, so the controller takes
// a node's report only from the address swarm gave the agent task on that
// node. Pure: built from the engine's task list, no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/swarm.h"

namespace swarm_prepull::controller {

// The label manifests/stack.yml puts on the agents' service.
inline constexpr std::string_view agent_component_label = "io.swarm-prepull.component";
inline constexpr std::string_view agent_component_value = "agent";

// The ids of the agents' services: the one named `name`, or when `name` is
// empty every service labelled io.swarm-prepull.component=agent.
std::vector<std::string> agent_service_ids(const std::vector<reconcile::Service>& services,
                                           std::string_view name);

class AgentAddresses {
 public:
  AgentAddresses() = default;
  // From the agent services' tasks that swarm wants running (GET /tasks with
  // filters service=<ids>, desired-state=running): each task's addresses on
  // its networks, by the node it is on. Addresses that do not parse are
  // skipped (they could match no peer).
  explicit AgentAddresses(const std::vector<reconcile::Task>& tasks);

  // nullopt when `peer` (an IP address as text) is an address of an agent
  // task on `node_id`; otherwise why the report is refused, for the 403 body.
  std::optional<std::string> refusal(std::string_view node_id, std::string_view peer) const;

  std::size_t nodes() const { return by_node_.size(); }
  bool operator==(const AgentAddresses&) const = default;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> by_node_;  // canonical IP text
};

}  // namespace swarm_prepull::controller
