// One engine client per sandbox node: the tests ask each node's own engine
// what it holds, never the controller's or an agent's view of it.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/client.h"
#include "reconcile/plan.h"
#include "tests/integration/sandbox.h"

namespace swarm_prepull::testing {

class NodeEngines {
 public:
  NodeEngines() = default;
  explicit NodeEngines(const Sandbox& box) {
    for (const auto& node : box.nodes) clients_.push_back(client_for(node));
    // Swarm's node ids, in the sandbox's order, as the manager lists them.
    auto listed = engine::run_blocking(clients_.front()->nodes());
    if (!listed) throw std::runtime_error("GET /nodes: " + listed.error().to_string());
    for (const auto& node : box.nodes) {
      const auto found = std::find_if(listed->begin(), listed->end(),
                                      [&](const auto& item) { return item.hostname == node.name; });
      if (found == listed->end()) throw std::runtime_error(node.name + " is not in the swarm");
      node_ids_.push_back(found->id);
    }
  }

  std::size_t size() const { return clients_.size(); }
  const std::vector<std::string>& node_ids() const { return node_ids_; }
  engine::Client& operator[](std::size_t node) const { return *clients_[node]; }

  // Presence as the agent decides it: a digest-pinned ref only by that digest.
  bool present_on(std::size_t node, const std::string& ref) const {
    auto images = engine::run_blocking(clients_[node]->images());
    if (!images) return false;
    return reconcile::missing_images(std::vector<std::string>{ref}, *images).empty();
  }

  bool present_everywhere(const std::string& ref) const {
    for (std::size_t node = 0; node < clients_.size(); ++node) {
      if (!present_on(node, ref)) return false;
    }
    return true;
  }

  // Removes the image a ref names from every node, by id so that its tags and
  // digests all go: the next test starts from nodes that lack it.
  void remove_everywhere(const std::string& ref) const {
    for (const auto& client : clients_) {
      auto image = engine::run_blocking(client->inspect_image(ref));
      if (!image) continue;
      (void)engine::run_blocking(client->remove_image(image->id, /*force=*/true));
    }
  }

 private:
  static std::unique_ptr<engine::Client> client_for(const SandboxNode& node) {
    engine::ClientOptions options;
    auto endpoint = engine::parse_docker_host(node.docker_host);
    if (!endpoint) throw std::runtime_error(node.name + ": " + endpoint.error().to_string());
    options.endpoint = *endpoint;
    options.request_timeout = std::chrono::seconds(10);
    return std::make_unique<engine::Client>(options);
  }

  std::vector<std::unique_ptr<engine::Client>> clients_;
  std::vector<std::string> node_ids_;
};

}  // namespace swarm_prepull::testing
