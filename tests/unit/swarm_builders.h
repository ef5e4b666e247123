// The smallest swarm objects the placement tests start from: a ready, active
// linux/x86_64 worker, and a service with one image and its constraints; and
// generic resources as swarmkit's tests write them.
#pragma once

#include <cstdint>
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

// Generic resources as swarmkit's genericresource helpers build them:
// NewDiscrete (an amount), NewString (one named unit), NewSet (one named unit
// per value).
inline reconcile::GenericResource discrete_resource(std::string kind, std::int64_t amount) {
  return {std::move(kind), false, {}, amount};
}

inline reconcile::GenericResource named_resource(std::string kind, std::string value) {
  return {std::move(kind), true, std::move(value), 0};
}

inline std::vector<reconcile::GenericResource> named_resources(
    const std::string& kind, const std::vector<std::string>& values) {
  std::vector<reconcile::GenericResource> set;
  for (const std::string& value : values) set.push_back(named_resource(kind, value));
  return set;
}

constexpr std::int64_t nano_cpus_per_cpu = 1'000'000'000;

}  // namespace swarm_prepull::testing
