// Benchmarks of the reconcile core on a generated swarm of 1,000 nodes and
// 10,000 services (docs/benchmarks.md has the figures and how to reproduce):
//
//   swarm_prepull_bench --benchmark_filter='DesiredImages|MissingImages'
//   swarm_prepull_bench --plan_peak_rss     # peak memory of one plan, then exit
//
// The swarm is generated from a fixed seed with our own generator (the
// standard distributions differ between standard libraries), so every run and
// every machine plans the same input.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "compose/imageset_document.h"
#include "reconcile/plan.h"

namespace swarm_prepull::reconcile {
namespace {

// splitmix64: small, fast and identical everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  bool percent(unsigned p) { return below(100) < p; }
  std::string hex(std::size_t length) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(length, '0');
    for (char& c : out) c = digits[below(16)];
    return out;
  }
  std::string id() {
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string out(25, '0');
    for (char& c : out) c = digits[below(36)];
    return out;
  }

 private:
  std::uint64_t state_;
};

struct Swarm {
  std::vector<Node> nodes;
  std::vector<Service> services;
  std::vector<Config> configs;
  std::vector<NamedImageSet> sets;  // the configs read, as the controller does once per pass
};

std::string numbered(const char* prefix, std::size_t n, int width) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s%0*zu", prefix, width, n);
  return buffer;
}

constexpr const char* zones[] = {"a", "b", "c"};
constexpr const char* tiers[] = {"frontend", "backend", "batch"};

// 1,000 nodes: 3 managers, 3 zones, 20 racks, 3 tiers, some GPU and SSD
// nodes, three platforms (75% x86_64, 20% aarch64, 5% ppc64le), and a few
// down, disconnected, drained or paused.
std::vector<Node> generate_nodes(Random& random, std::size_t count) {
  std::vector<Node> nodes;
  nodes.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Node node;
    node.id = random.id();
    node.hostname = numbered("node-", i, 4);
    node.role = i < 3 ? "manager" : "worker";
    node.availability = random.percent(3) ? "drain" : random.percent(1) ? "pause" : "active";
    node.state = random.percent(2) ? "down" : random.percent(1) ? "disconnected" : "ready";
    node.addr = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                std::to_string(i % 256);
    const std::size_t platform = random.below(100);
    node.platform = {platform < 75 ? "x86_64" : platform < 95 ? "aarch64" : "ppc64le", "linux"};
    node.labels["zone"] = zones[i % 3];
    node.labels["rack"] = numbered("r", i % 20, 2);
    node.labels["tier"] = tiers[random.below(3)];
    if (random.percent(5)) node.labels["gpu"] = "true";
    if (random.percent(30)) node.labels["ssd"] = "true";
    node.engine_labels["storage"] = "overlay2";
    node.engine_version = "24.0.7";
    nodes.push_back(std::move(node));
  }
  return nodes;
}

// ~2,500 distinct repositories, as the docker CLI stores them: familiar
// names, private registries with ports, and (when the CLI reached the
// registry) tag@digest.
std::string generate_image(Random& random) {
  static constexpr const char* library[] = {"redis",  "nginx",   "postgres",  "busybox",
                                            "alpine", "traefik", "memcached", "rabbitmq"};
  std::string name;
  switch (random.below(4)) {
    case 0:
      name = library[random.below(8)];
      break;
    case 1:
      name = numbered("registry.example.com:5000/team-", random.below(40), 2) +
             numbered("/app-", random.below(40), 2);
      break;
    case 2:
      name = numbered("ghcr.io/org/service-", random.below(800), 3);
      break;
    default:
      name = numbered("team-", random.below(20), 2) + numbered("/worker-", random.below(30), 2);
  }
  std::string image = name + ":" + numbered("1.", random.below(5), 1);
  if (random.percent(40)) image += "@sha256:" + random.hex(64);
  return image;
}

// `singled_out`: the stress variant, where a further 10% of services name
// one node (node.hostname == or !=), so that nearly every node is unlike
// every other and the plan cannot share lists between them.
Placement generate_placement(Random& random, std::size_t node_count, bool singled_out) {
  Placement placement;
  const std::size_t kind = random.below(100);
  if (kind < 30) {
    // no constraint
  } else if (kind < 55) {
    placement.constraints = {std::string("node.labels.zone==") + zones[random.below(3)]};
  } else if (kind < 70) {
    placement.constraints = {"node.role == worker",
                             std::string("node.labels.zone==") + zones[random.below(3)]};
  } else if (kind < 80) {
    placement.constraints = {std::string("node.labels.tier==") + tiers[random.below(3)]};
  } else if (kind < 85) {
    placement.constraints = {singled_out ? "node.hostname!=" +
                                               numbered("node-", random.below(node_count), 4)
                                         : "node.labels.gpu==true"};
  } else if (kind < 90) {
    placement.constraints = {singled_out ? "node.hostname==" +
                                               numbered("node-", random.below(node_count), 4)
                                         : "node.role==manager"};
  } else if (kind < 95) {
    placement.constraints = {"node.hostname==" + numbered("node-", random.below(node_count), 4)};
  } else {
    placement.constraints = {"node.labels.rack!=" + numbered("r", random.below(20), 2),
                             "node.labels.ssd==true"};
  }
  const std::size_t platforms = random.below(100);
  if (platforms < 60) {
    placement.platforms = {{"amd64", "linux"}};
  } else if (platforms < 80) {
    placement.platforms = {{"amd64", "linux"}, {"arm64", "linux"}};
  }
  return placement;
}

// 10,000 services: 85% replicated (some scaled to 0), 10% global, 5% jobs;
// 10% with a PreviousSpec; 2% with a swarm-prepull.images label; 0.5% with
// a bad reference, 0.2% with a bad constraint.
std::vector<Service> generate_services(Random& random, std::size_t count, std::size_t node_count,
                                       bool singled_out) {
  std::vector<std::string> pool;
  for (int i = 0; i < 2500; ++i) pool.push_back(generate_image(random));
  std::vector<Service> services;
  services.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Service service;
    service.id = random.id();
    service.version = 100 + i;
    ServiceSpec& spec = service.spec;
    spec.name = numbered("stack-", i / 10, 4) + numbered("_svc-", i % 10, 1);
    spec.image = pool[random.below(pool.size())];
    spec.placement = generate_placement(random, node_count, singled_out);
    const std::size_t mode = random.below(100);
    spec.mode = mode < 85   ? ServiceMode::replicated
                : mode < 95 ? ServiceMode::global
                : mode < 98 ? ServiceMode::replicated_job
                            : ServiceMode::global_job;
    spec.replicas =
        spec.mode == ServiceMode::replicated && !random.percent(5) ? 1 + random.below(5) : 0;
    spec.labels["com.docker.stack.namespace"] = numbered("stack-", i / 10, 4);
    if (random.percent(2)) {
      spec.labels["swarm-prepull.images"] =
          pool[random.below(pool.size())] + "," + pool[random.below(pool.size())];
    }
    if (random.below(1000) < 5) spec.image = numbered("Team/Broken-", i, 5) + ":1";
    if (random.below(1000) < 2) spec.placement.constraints.push_back("node.labels.zone = a");
    if (random.percent(10)) {
      ServiceSpec previous = spec;
      previous.image = pool[random.below(pool.size())];
      if (random.percent(30))
        previous.placement = generate_placement(random, node_count, singled_out);
      service.previous_spec = std::move(previous);
      service.update_status = UpdateStatus{"completed", "update completed"};
    }
    services.push_back(std::move(service));
  }
  return services;
}

std::vector<Config> generate_imagesets() {
  std::vector<Config> configs;
  const char* documents[] = {
      "images:\n  - redis:7\n  - nginx:1.25\n",
      "images: [busybox, alpine:3.19]\nplacement:\n  constraints: [node.labels.gpu==true]\n",
      R"({"images": ["ghcr.io/org/tools:1"], "placement": {"platforms": ["linux/arm64"]}})",
      R"(images:
  - postgres:16
placement:
  constraints:
    - node.labels.ssd == true
    - node.role != manager
)",
      "images:\n  - traefik:2.11\nplacement:\n  constraints: [node.labels.tier==frontend]\n",
  };
  for (std::size_t i = 0; i < std::size(documents); ++i) {
    Config config;
    config.id = numbered("cfg", i, 2);
    config.name = numbered("imageset-", i, 1);
    config.labels["swarm-prepull.imageset"] = "true";
    config.data = documents[i];
    configs.push_back(std::move(config));
  }
  return configs;
}

Swarm generate_swarm(bool singled_out) {
  Random random(20240601);
  Swarm s;
  s.nodes = generate_nodes(random, 1000);
  s.services = generate_services(random, 10000, s.nodes.size(), singled_out);
  s.configs = generate_imagesets();
  s.sets = swarm_prepull::compose::image_sets(s.configs);
  return s;
}

const Swarm& swarm() {
  static const Swarm generated = generate_swarm(false);
  return generated;
}

const Swarm& swarm_singled_out() {
  static const Swarm generated = generate_swarm(true);
  return generated;
}

// What a busy node holds: ~200 images, half of them from its desired set
// (as the engine lists them: familiar names, pinned ones under RepoDigests
// only), half unrelated or older tags.
std::vector<Image> generate_present(const Plan& plan, const NodePlan& node) {
  Random random(7);
  std::vector<Image> present;
  for (std::uint32_t id : node.images) {
    if (present.size() >= 100) break;
    if (!random.percent(50)) continue;
    const std::string& ref = plan.images[id].ref;
    Image image;
    image.id = "sha256:" + random.hex(64);
    const std::size_t at = ref.find('@');
    std::string familiar = ref.starts_with("docker.io/library/") ? ref.substr(18)
                           : ref.starts_with("docker.io/")       ? ref.substr(10)
                                                                 : ref;
    if (at != std::string::npos) {
      image.repo_digests = {familiar};
    } else {
      image.repo_tags = {familiar};
      image.repo_digests = {familiar.substr(0, familiar.rfind(':')) + "@sha256:" + random.hex(64)};
    }
    present.push_back(std::move(image));
  }
  while (present.size() < 200) {
    Image image;
    image.id = "sha256:" + random.hex(64);
    const std::string name = numbered("registry.example.com:5000/old/app-", present.size(), 3);
    image.repo_tags = {name + ":0.9"};
    image.repo_digests = {name + "@sha256:" + random.hex(64)};
    present.push_back(std::move(image));
  }
  return present;
}

double max_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void plan_benchmark(benchmark::State& state, const Swarm& input) {
  std::size_t entries = 0;
  for (auto _ : state) {
    Plan plan = desired_images(input.nodes, input.services, input.sets);
    benchmark::DoNotOptimize(plan.nodes.data());
    entries = 0;
    for (const NodePlan& node : plan.nodes) entries += node.images.size();
  }
  state.counters["nodes"] = static_cast<double>(input.nodes.size());
  state.counters["services"] = static_cast<double>(input.services.size());
  state.counters["node_images"] = static_cast<double>(entries);
  state.counters["max_rss_MiB"] = max_rss_mib();
}
void BM_DesiredImages(benchmark::State& state) { plan_benchmark(state, swarm()); }
BENCHMARK(BM_DesiredImages)->Unit(benchmark::kMillisecond);

void BM_DesiredImagesNodesSingledOut(benchmark::State& state) {
  plan_benchmark(state, swarm_singled_out());
}
BENCHMARK(BM_DesiredImagesNodesSingledOut)->Unit(benchmark::kMillisecond);

void BM_MissingImages(benchmark::State& state) {
  const Swarm& input = swarm();
  const Plan plan = desired_images(input.nodes, input.services, input.sets);
  // The eligible node with the longest list.
  const NodePlan* busiest = &plan.nodes.front();
  for (const NodePlan& node : plan.nodes) {
    if (node.images.size() > busiest->images.size()) busiest = &node;
  }
  const std::vector<Image> present = generate_present(plan, *busiest);
  std::size_t missing = 0;
  for (auto _ : state) {
    const std::vector<std::string> result = missing_images(plan, *busiest, present);
    missing = result.size();
    benchmark::DoNotOptimize(result.data());
  }
  state.counters["desired"] = static_cast<double>(busiest->images.size());
  state.counters["present"] = static_cast<double>(present.size());
  state.counters["missing"] = static_cast<double>(missing);
}
BENCHMARK(BM_MissingImages)->Unit(benchmark::kMicrosecond);

// Peak RSS of one plan, measured in this process alone: generate the swarm,
// give freed memory back to the kernel (malloc_trim), reset the kernel's
// high-water mark (writing 5 to /proc/self/clear_refs, Linux >= 4.0), plan
// once, then read VmHWM. VmHWM - VmRSS(before) is what the plan added.
long status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  }
  return -1;
}

void report_plan_peak_rss(const char* name, const Swarm& input) {
  malloc_trim(0);
  const long before = status_kib("VmRSS");
  std::ofstream("/proc/self/clear_refs") << "5";
  const long reset = status_kib("VmHWM");
  Plan plan = desired_images(input.nodes, input.services, input.sets);
  const long peak = status_kib("VmHWM");
  const long after = status_kib("VmRSS");
  std::size_t entries = 0;
  std::size_t placed_nodes = 0;
  for (const NodePlan& node : plan.nodes) {
    entries += node.images.size();
    placed_nodes += node.images.empty() ? 0 : 1;
  }
  std::printf("%s\n", name);
  std::printf("  resident before the plan:    %.1f MiB\n", before / 1024.0);
  std::printf("  high-water mark after reset: %.1f MiB%s\n", reset / 1024.0,
              reset > before + 1024 ? " (reset not supported?)" : "");
  std::printf("  peak during the plan:        %.1f MiB (+%.1f MiB)\n", peak / 1024.0,
              (peak - before) / 1024.0);
  std::printf("  resident with the plan kept: %.1f MiB (+%.1f MiB)\n", after / 1024.0,
              (after - before) / 1024.0);
  std::printf(
      "  plan: %zu nodes with images, %zu distinct (ref, services) entries, "
      "%zu node entries, %zu errors\n",
      placed_nodes, plan.images.size(), entries, plan.errors.size());
}

// Each swarm is generated just before it is measured, so the first figure
// holds one input and the second two.
int report_plan_peak_rss() {
  report_plan_peak_rss("BM_DesiredImages swarm", swarm());
  report_plan_peak_rss("BM_DesiredImagesNodesSingledOut swarm", swarm_singled_out());
  return 0;
}

}  // namespace
}  // namespace swarm_prepull::reconcile

// This file owns the bench binary's main (bench/CMakeLists.txt links
// benchmark::benchmark, not benchmark_main) to add --plan_peak_rss.
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--plan_peak_rss") == 0) {
      return swarm_prepull::reconcile::report_plan_peak_rss();
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
