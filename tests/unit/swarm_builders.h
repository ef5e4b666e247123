// The smallest swarm objects the placement tests start from: a ready, active
// linux/x86_64 worker, and a service with one image and its constraints.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "reconcile/swarm.h"

namespace swarm_prepull::testing {

inline reconcile::Node make_node(std::string id, std::string hostname,
                                 reconcile::Labels labels = {}) {
  reconcile::Node node;
  node.id = std::move(id);
  node.hostname = std::move(hostname);
  node.role = "worker";
  node.availability = "active";
  node.state = "ready";
  node.addr = "10.0.0.2";
  node.platform = {"x86_64", "linux"};
  node.labels = std::move(labels);
  return node;
}

inline reconcile::Service make_service(std::string name, std::string image,
                                       std::vector<std::string> constraints = {}) {
  reconcile::Service service;
  service.id = "id-" + name;
  service.spec.name = std::move(name);
  service.spec.image = std::move(image);
  service.spec.placement.constraints = std::move(constraints);
  service.spec.replicas = 1;
  return service;
}

}  // namespace swarm_prepull::testing
