#include "controller/report_binding.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>

namespace swarm_prepull::controller {
namespace {

// The canonical text of an IP address (IPv6 in its one short form,
// IPv4-mapped as IPv4), or nullopt.
std::optional<std::string> canonical_address(std::string_view text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

}  // namespace

std::vector<std::string> agent_service_ids(const std::vector<reconcile::Service>& services,
                                           std::string_view name) {
  const auto is_agent = [&](const reconcile::ServiceSpec& spec) {
    if (!name.empty()) return spec.name == name;
    const auto label = spec.labels.find(std::string(agent_component_label));
    return label != spec.labels.end() && label->second == agent_component_value;
  };
  std::vector<std::string> ids;
  for (const auto& service : services) {
    if (is_agent(service.spec)) ids.push_back(service.id);
  }
  return ids;
}

AgentAddresses::AgentAddresses(const std::vector<reconcile::Task>& tasks) {
  for (const auto& task : tasks) {
    if (task.node_id.empty()) continue;  // not scheduled yet: no node to speak for
    auto& addresses = by_node_[task.node_id];
    for (const auto& cidr : task.addresses) {
      // The engine gives the attachment's address with its prefix length.
      auto address = canonical_address(std::string_view(cidr).substr(0, cidr.find('/')));
      if (address && std::find(addresses.begin(), addresses.end(), *address) == addresses.end()) {
        addresses.push_back(std::move(*address));
      }
    }
  }
  for (auto& [node, addresses] : by_node_) std::sort(addresses.begin(), addresses.end());
}

std::optional<std::string> AgentAddresses::refusal(std::string_view node_id,
                                                   std::string_view peer) const {
  const auto peer_address = canonical_address(peer);
  const auto node = by_node_.find(node_id);
  if (node == by_node_.end() || node->second.empty()) {
    return "the status of node " + std::string(node_id) +
           " is accepted only from its agent task, and swarm runs no agent task with an address "
           "on that node (yet)";
  }
  if (peer_address &&
      std::find(node->second.begin(), node->second.end(), *peer_address) != node->second.end()) {
    return std::nullopt;
  }
  std::string known;
  for (const auto& address : node->second) known += (known.empty() ? "" : ", ") + address;
  return "the status of node " + std::string(node_id) +
         " is accepted only from the address of its agent task (" + known + "), not from " +
         (peer.empty() ? std::string("an unknown address") : std::string(peer));
}

}  // namespace swarm_prepull::controller
