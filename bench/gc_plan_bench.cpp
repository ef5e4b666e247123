// The cost of one GC plan (agent/gc_plan.h) on a node with 1,000 images and
// 200 desired refs, the listing a fake engine would give (a real one would
// take too long to fill). docs/benchmarks.md has the figure and how to
// reproduce:
//
//   swarm_prepull_bench --benchmark_filter='Gc'
//
// BM_GcPass is the whole pass as the agent runs it, but for the two engine
// requests: decoding the engine's GET /images/json and GET
// /containers/json?all=true bodies, what the agent remembers, and the plan.
//
// The node is built by arithmetic, not drawn at random, so every machine
// plans the same input.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "agent/gc_activity.h"
#include "agent/gc_plan.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::agent {
namespace {

using namespace std::chrono_literals;

const WallTime now = WallTime{std::chrono::sys_days{std::chrono::year{2026} / 12 / 1}};

std::string hex64(std::size_t n, char salt) {
  std::string out = std::to_string(n) + salt;
  out.resize(64, salt);
  return out;
}

struct Node {
  std::vector<GcImage> images;
  std::unordered_set<std::string> in_use;
  std::vector<api::DesiredImage> desired;
};

// 100 repositories of a private registry with 10 versions each: version 0-1
// of every repository desired (the current and the previous spec), every
// tenth version pinned by digest with no tag (as swarm pulls pinned images),
// every 50th left dangling, every 20th used by a container, one image in 100
// labelled keep; pulled over the last 100 days (one in 97 ten minutes ago),
// one in 3 never seen pulled.
Node node_with(std::size_t images, std::size_t desired) {
  Node node;
  const std::size_t versions = 10;
  for (std::size_t i = 0; i < images; ++i) {
    const std::size_t repository = i / versions;
    const std::size_t version = i % versions;
    const std::string name = "10.0.0.1:5000/team/service-" + std::to_string(repository);
    const std::string digest = "sha256:" + hex64(i, 'd');
    GcImage image;
    image.id = "sha256:" + hex64(i, 'e');
    image.size = static_cast<std::int64_t>(50 + (i * 7919) % 900) * 1024 * 1024;
    image.created = now - std::chrono::hours(24 * 200 - i);
    if (i % 50 == 49) {
      // dangling: neither tag nor digest
    } else if (version == 9) {
      image.repo_digests = {name + "@" + digest};
    } else {
      image.repo_tags = {name + ":" + std::to_string(version)};
      image.repo_digests = {name + "@" + digest};
    }
    if (i % 3 != 0) image.last_used = now - std::chrono::hours((i * 104729) % 2400);
    if (i % 97 == 3) image.last_used = now - 10min;
    if (i % 100 == 7) image.labels = {{"swarm-prepull.keep", "true"}, {"maintainer", "team"}};
    if (i % 20 == 5) node.in_use.insert(image.id);
    const bool wanted = version < 2 && node.desired.size() < desired;
    if (wanted) {
      node.desired.push_back({.ref = name + ":" + std::to_string(version), .digest = digest});
    }
    node.images.push_back(std::move(image));
  }
  // The rest of the desired set: refs the node does not hold yet (missing).
  for (std::size_t i = 0; node.desired.size() < desired; ++i) {
    node.desired.push_back({.ref = "10.0.0.1:5000/team/new-" + std::to_string(i) + ":1"});
  }
  return node;
}

void BM_GcPlan(benchmark::State& state) {
  const Node node =
      node_with(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  const DiskSpace disk{.free_bytes = 100ULL << 30, .size_bytes = 1000ULL << 30};
  const GcOptions options{};
  for (auto _ : state) {
    GcPlan plan = plan_gc(node.images, node.in_use, node.desired, disk, options, now);
    benchmark::DoNotOptimize(plan);
  }
  // What the plan decided, so that the figure says what it covered.
  const GcPlan plan = plan_gc(node.images, node.in_use, node.desired, disk, options, now);
  state.counters["candidates"] = static_cast<double>(plan.candidates.size());
  for (KeepRule rule : {KeepRule::desired, KeepRule::in_use, KeepRule::keep_label,
                        KeepRule::min_age, KeepRule::not_needed}) {
    state.counters[std::string(keep_rule_name(rule))] = static_cast<double>(
        std::count_if(plan.kept.begin(), plan.kept.end(),
                      [rule](const GcKept& kept) { return kept.rule == rule; }));
  }
}
BENCHMARK(BM_GcPlan)->Args({1000, 200})->Unit(benchmark::kMicrosecond);

// The engine's answers for `node`, as the engine writes them.
std::pair<std::string, std::string> engine_bodies(const Node& node) {
  nlohmann::json images = nlohmann::json::array();
  for (const GcImage& image : node.images) {
    images.push_back(
        {{"Id", image.id},
         {"ParentId", ""},
         {"RepoTags",
          image.repo_tags.empty() ? nlohmann::json(nullptr) : nlohmann::json(image.repo_tags)},
         {"RepoDigests", image.repo_digests},
         {"Created", image.created.time_since_epoch().count()},
         {"Size", image.size},
         {"SharedSize", -1},
         {"VirtualSize", image.size},
         {"Labels", image.labels.empty() ? nlohmann::json(nullptr) : nlohmann::json(image.labels)},
         {"Containers", -1}});
  }
  nlohmann::json containers = nlohmann::json::array();
  std::size_t n = 0;
  for (const std::string& id : node.in_use) {
    containers.push_back({{"Id", hex64(n++, 'c')},
                          {"Names", {"/task." + std::to_string(n)}},
                          {"Image", "10.0.0.1:5000/team/service@sha256:" + hex64(n, 'd')},
                          {"ImageID", id},
                          {"Command", "/entrypoint"},
                          {"Created", 1764600000},
                          {"State", n % 2 == 0 ? "running" : "exited"},
                          {"Status", "Up 2 hours"}});
  }
  return {images.dump(), containers.dump()};
}

void BM_GcPass(benchmark::State& state) {
  const Node node =
      node_with(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  const auto [images_body, containers_body] = engine_bodies(node);
  const DiskSpace disk{.free_bytes = 100ULL << 30, .size_bytes = 1000ULL << 30};
  const GcOptions options{};
  GcActivity activity;  // past its first pass, as in steady state
  {
    auto images = reconcile::decode_list<reconcile::Image>(nlohmann::json::parse(images_body),
                                                           &reconcile::decode_image);
    activity.observe(*images, {}, now - 24h);
  }
  for (auto _ : state) {
    auto images = reconcile::decode_list<reconcile::Image>(nlohmann::json::parse(images_body),
                                                           &reconcile::decode_image);
    auto containers = reconcile::decode_list<reconcile::Container>(
        nlohmann::json::parse(containers_body), &reconcile::decode_container);
    const auto in_use = images_in_use(*containers);
    activity.observe(*images, in_use, now);
    const auto listed = activity.gc_images(*images);
    GcPlan plan = plan_gc(listed, in_use, node.desired, disk, options, now);
    benchmark::DoNotOptimize(plan);
  }
  state.counters["listing_bytes"] = static_cast<double>(images_body.size());
}
BENCHMARK(BM_GcPass)->Args({1000, 200})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace swarm_prepull::agent
