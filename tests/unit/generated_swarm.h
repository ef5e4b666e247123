// Random swarms for property tests: nodes with labels, roles, platforms,
// states, availabilities, resources and engine plugins; services with
// constraints (some invalid), platforms, reservations, volume and log
// drivers, previous specs, the images and skip labels, plugin runtimes, image
// IDs; image sets, some invalid. Seeded, so a failure names the case that
// reproduces it.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "reconcile/plan.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::testing {

struct GeneratedSwarm {
  std::vector<reconcile::Node> nodes;
  std::vector<reconcile::Service> services;
  std::vector<reconcile::NamedImageSet> sets;
  std::vector<std::string> images;  // every reference the swarm names, as written
};

class SwarmGenerator {
 public:
  explicit SwarmGenerator(std::uint32_t seed) : random_(seed) {}

  GeneratedSwarm generate(int max_nodes, int max_services, int max_sets) {
    GeneratedSwarm swarm;
    const int node_count = 1 + below(max_nodes);
    for (int i = 0; i < node_count; ++i) swarm.nodes.push_back(node(i));
    const int service_count = below(max_services + 1);
    for (int i = 0; i < service_count; ++i) swarm.services.push_back(service(i, swarm.images));
    const int set_count = below(max_sets + 1);
    for (int i = 0; i < set_count; ++i) swarm.sets.push_back(image_set(i, swarm.images));
    return swarm;
  }

 private:
  int below(int n) { return n <= 0 ? 0 : static_cast<int>(random_() % static_cast<unsigned>(n)); }
  bool one_in(int n) { return below(n) == 0; }
  std::string pick(const std::vector<std::string>& choices) {
    return choices[static_cast<std::size_t>(below(static_cast<int>(choices.size())))];
  }

  reconcile::Node node(int i) {
    reconcile::Node node;
    node.id = "id" + std::to_string(i);
    // Hostnames collide now and then: the plan orders by hostname, then id.
    node.hostname = "host-" + std::to_string(below(6));
    node.role = pick({"worker", "worker", "manager"});
    node.availability = pick({"active", "active", "active", "drain", "pause"});
    node.state = pick({"ready", "ready", "ready", "down", "disconnected", "unknown"});
    node.addr = pick({"10.0.0.", "10.0.1.", "2001:db8::"}) + std::to_string(i + 1);
    node.platform = {pick({"x86_64", "aarch64", "amd64", "arm64", ""}), pick({"linux", "windows"})};
    if (!one_in(4)) node.labels["zone"] = pick({"a", "b", "A", "c"});
    if (one_in(2)) node.labels["Tier"] = pick({"web", "db"});
    if (one_in(3)) node.engine_labels["disk"] = pick({"ssd", "hdd"});
    node.resources.nano_cpus = below(3) * 1'000'000'000LL;
    node.resources.memory_bytes = below(3) * (1LL << 30);
    if (one_in(3)) node.resources.generic.push_back({"gpu", false, "", below(3)});
    for (int k = below(3); k > 0; --k) {
      node.resources.generic.push_back({"fpga", true, "f" + std::to_string(k), 0});
    }
    if (!one_in(5)) {  // else no engine description: not filtered on plugins
      node.plugins.emplace();
      if (!one_in(4)) node.plugins->push_back({"Log", "json-file"});
      if (one_in(2)) node.plugins->push_back({"Log", "gelf"});
      if (one_in(2)) node.plugins->push_back({"Volume", pick({"rexray", "rexray:latest"})});
    }
    return node;
  }

  std::string image(std::vector<std::string>& named) {
    std::string text =
        pick({"redis", "redis:latest", "docker.io/library/redis", "nginx:1.25", "team/app:1",
              "team/app:2", "Bad:ref", "busybox@sha256:" + std::string(64, 'a'), "alpine:3",
              "sha256:" + std::string(64, 'b')});
    named.push_back(text);
    return text;
  }

  reconcile::Placement placement() {
    static const std::vector<std::string> constraints = {"node.role==manager",
                                                         "node.role != worker",
                                                         "node.labels.zone==a",
                                                         "NODE.LABELS.zone!=b",
                                                         "node.labels.Tier==web",
                                                         "node.labels.tier==web",
                                                         "engine.labels.disk==ssd",
                                                         "node.platform.arch==x86_64",
                                                         "node.platform.os!=windows",
                                                         "node.hostname==host-3",
                                                         "node.id==id2",
                                                         "node.ip==10.0.0.0/24",
                                                         "node.ip!=2001:db8::/64",
                                                         "node.name==x",
                                                         "bad constraint"};
    reconcile::Placement placement;
    for (int k = below(3); k > 0; --k) placement.constraints.push_back(pick(constraints));
    for (int k = below(3); k > 0; --k) {
      placement.platforms.push_back({pick({"amd64", "arm64", "", "x86_64"}), pick({"linux", ""})});
    }
    return placement;
  }

  reconcile::ServiceSpec spec(const std::string& name, std::vector<std::string>& named) {
    reconcile::ServiceSpec spec;
    spec.name = name;
    spec.image = one_in(20) ? std::string() : image(named);
    spec.placement = placement();
    if (one_in(6)) spec.labels["swarm-prepull.images"] = image(named) + ", " + image(named);
    if (one_in(15)) spec.runtime = reconcile::TaskRuntime::plugin;
    if (one_in(3)) spec.needs.reservations.nano_cpus = below(3) * 1'000'000'000LL;
    if (one_in(3)) spec.needs.reservations.memory_bytes = below(3) * (1LL << 30);
    if (one_in(4)) {
      spec.needs.reservations.generic.push_back({pick({"gpu", "fpga"}), false, "", below(3)});
    }
    if (one_in(4)) spec.needs.volume_drivers.push_back("rexray");
    if (one_in(4)) spec.needs.log_driver = pick({"gelf", "json-file", "none", "syslog"});
    spec.mode = one_in(3) ? reconcile::ServiceMode::global : reconcile::ServiceMode::replicated;
    spec.replicas = static_cast<std::uint64_t>(below(3));
    return spec;
  }

  reconcile::Service service(int i, std::vector<std::string>& named) {
    reconcile::Service service;
    service.id = "svc-id-" + std::to_string(i);
    // Names collide now and then (two stacks), and may be empty (the id stands in).
    service.spec = spec(one_in(10) ? "" : "svc-" + std::to_string(below(8)), named);
    if (one_in(12)) service.spec.labels["swarm-prepull.skip"] = pick({"true", "TRUE", "no"});
    if (one_in(3)) {
      service.previous_spec = spec(service.spec.name, named);
      if (one_in(4)) service.previous_spec->labels["swarm-prepull.skip"] = "true";
    }
    return service;
  }

  reconcile::NamedImageSet image_set(int i, std::vector<std::string>& named) {
    reconcile::NamedImageSet set;
    set.source = (one_in(2) ? "config:set-" : "warm:") + std::to_string(i);
    for (int k = 1 + below(3); k > 0; --k) set.set.images.push_back(image(named));
    set.set.placement = placement();
    if (one_in(8)) set.error = reconcile::Error{"line 1, column 1: the document is broken"};
    return set;
  }

  std::mt19937 random_;
};

}  // namespace swarm_prepull::testing
