// Benchmarks of the controller's state machine (controller/state.h) at the
// scale of 1,000 nodes: what one agent report, one new plan, one readiness
// read and a whole one-image rollout under the pull caps cost. A report costs
// O(images of the node) plus, when it ends or fails a grant, O(images of its
// registry) to hand the slot over (controller/pull_grants.h).
// docs/benchmarks.md has the figures and how to reproduce:
//
//   swarm_prepull_bench --benchmark_filter='State'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "controller/state.h"
#include "reconcile/plan.h"

namespace swarm_prepull::controller {
namespace {

// `nodes` ready workers; `services` global services, one image each, so every
// node wants every image: nodes x services (node, image) pairs.
reconcile::Plan global_plan(std::size_t nodes, std::size_t services) {
  std::vector<reconcile::Node> swarm;
  for (std::size_t i = 0; i < nodes; ++i) {
    reconcile::Node node;
    node.id = "node-id-" + std::to_string(i);
    node.hostname = "node-" + std::to_string(i);
    node.role = i < 3 ? "manager" : "worker";
    node.availability = "active";
    node.state = "ready";
    node.platform = {"x86_64", "linux"};
    swarm.push_back(std::move(node));
  }
  std::vector<reconcile::Service> wanted;
  for (std::size_t i = 0; i < services; ++i) {
    reconcile::Service service;
    service.id = "service-id-" + std::to_string(i);
    service.spec.name = "service-" + std::to_string(i);
    service.spec.image = "registry.example.com/team/app-" + std::to_string(i) + ":1.0";
    service.spec.mode = reconcile::ServiceMode::global;
    wanted.push_back(std::move(service));
  }
  return reconcile::desired_images(swarm, wanted);
}

// A node's report: every image of its set in `state`.
NodeReport full_report(const NodeDesired& desired, reconcile::ImageState state) {
  NodeReport report;
  report.generation = desired.generation;
  for (const auto& image : desired.images) report.images.push_back({image.ref, state});
  return report;
}

// A swarm where every agent has reported its whole set present: the steady state.
State reported_state(const reconcile::Plan& plan, std::uint32_t cap,
                     std::uint32_t registry_cap = 0) {
  StateOptions options;
  options.max_parallel_node_pulls = cap;
  options.max_pulls_per_registry = registry_cap;
  State state(options);
  state.set_plan(plan);
  const auto now = Clock::now();
  for (const auto& node : plan.nodes) {
    const auto* desired = state.desired(node.node_id);
    state.report(node.node_id, full_report(*desired, reconcile::ImageState::present), now);
  }
  return state;
}

// One agent's report in the steady state (args: nodes, images per node, cap).
void BM_StateReport(benchmark::State& bench) {
  const auto plan = global_plan(bench.range(0), bench.range(1));
  auto state = reported_state(plan, static_cast<std::uint32_t>(bench.range(2)));
  const auto& node_id = plan.nodes.front().node_id;
  const auto report = full_report(*state.desired(node_id), reconcile::ImageState::present);
  for (auto _ : bench) {
    auto changes = state.report(node_id, report, Clock::now());
    benchmark::DoNotOptimize(changes);
  }
  bench.counters["pairs"] = static_cast<double>(bench.range(0) * bench.range(1));
}
BENCHMARK(BM_StateReport)
    ->Args({100, 50, 0})
    ->Args({1000, 50, 0})
    ->Args({1000, 50, 10})
    ->Args({1000, 200, 0})
    ->Unit(benchmark::kMillisecond);

// The worst case: every report changes a grant input (the first image flips
// between pulling and present), so each one ends a grant and hands the slot
// over (args: nodes, images per node, per-image cap, per-registry cap; every
// image here is in one registry, so with a registry cap each hand-over looks
// at all of its images).
void BM_StateReportChangingGrants(benchmark::State& bench) {
  const auto plan = global_plan(bench.range(0), bench.range(1));
  auto state = reported_state(plan, static_cast<std::uint32_t>(bench.range(2)),
                              static_cast<std::uint32_t>(bench.range(3)));
  const auto& node_id = plan.nodes.front().node_id;
  auto present = full_report(*state.desired(node_id), reconcile::ImageState::present);
  auto pulling = present;
  pulling.images.front().state = reconcile::ImageState::pulling;
  bool flip = false;
  for (auto _ : bench) {
    auto changes = state.report(node_id, (flip = !flip) ? pulling : present, Clock::now());
    benchmark::DoNotOptimize(changes);
  }
}
BENCHMARK(BM_StateReportChangingGrants)
    ->Args({1000, 50, 10, 0})
    ->Args({1000, 50, 10, 10})
    ->Args({1000, 50, 0, 0})
    ->Unit(benchmark::kMillisecond);

// A one-image rollout under the caps (args: nodes, images already present,
// per-image cap, per-registry cap): a new plan adds an image to every node,
// then every node granted it reports it pulling, then present, which hands
// its slot to the next, until every node holds it. Timed: the plan and every
// report, 2 per node; the reports are built beforehand.
void BM_StateRollout(benchmark::State& bench) {
  const auto nodes = static_cast<std::size_t>(bench.range(0));
  const auto images = static_cast<std::size_t>(bench.range(1));
  const auto before = global_plan(nodes, images);
  const auto after = global_plan(nodes, images + 1);
  const std::string new_ref = after.images.back().ref;
  std::size_t reports = 0;
  for (auto _ : bench) {
    bench.PauseTiming();
    auto state = reported_state(before, static_cast<std::uint32_t>(bench.range(2)),
                                static_cast<std::uint32_t>(bench.range(3)));
    // Every node's two reports of the new image, the rest of its set present.
    std::map<std::string, std::pair<NodeReport, NodeReport>> prepared;
    for (const auto& node : after.nodes) {
      NodeReport pulling =
          full_report(*state.desired(node.node_id), reconcile::ImageState::present);
      pulling.images.push_back({new_ref, reconcile::ImageState::pulling});
      std::sort(pulling.images.begin(), pulling.images.end(),
                [](const auto& a, const auto& b) { return a.ref < b.ref; });
      NodeReport present = pulling;
      for (auto& image : present.images) image.state = reconcile::ImageState::present;
      prepared.emplace(node.node_id, std::pair{std::move(pulling), std::move(present)});
    }
    bench.ResumeTiming();

    const auto granted = [&](const std::string& node_id) {
      const auto& set = state.desired(node_id)->images;
      return std::any_of(set.begin(), set.end(), [&](const api::DesiredImage& image) {
        return image.ref == new_ref && image.pull;
      });
    };
    std::deque<std::string> pulling;
    std::set<std::string> started;
    const auto start_granted = [&](const std::vector<std::string>& bumped) {
      for (const auto& node_id : bumped) {
        if (started.contains(node_id) || !granted(node_id)) continue;
        started.insert(node_id);
        pulling.push_back(node_id);
      }
    };
    const auto now = Clock::now();
    start_granted(state.set_plan(after).bumped_nodes);
    while (!pulling.empty()) {
      const auto node_id = pulling.front();
      pulling.pop_front();
      auto& [pulling_report, present_report] = prepared.at(node_id);
      state.report(node_id, std::move(pulling_report), now);
      start_granted(state.report(node_id, std::move(present_report), now)->bumped_nodes);
      reports += 2;
    }
    if (started.size() != nodes) bench.SkipWithError("the rollout stopped before every node");
  }
  bench.counters["reports"] =
      benchmark::Counter(static_cast<double>(reports), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_StateRollout)
    ->Args({1000, 50, 10, 0})
    ->Args({1000, 50, 10, 10})
    ->Args({1000, 50, 0, 0})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// A reconcile pass's new plan, the same as the last one (nothing bumps).
void BM_StateSetPlan(benchmark::State& bench) {
  const auto plan = global_plan(bench.range(0), bench.range(1));
  auto state = reported_state(plan, 0);
  for (auto _ : bench) {
    auto changes = state.set_plan(plan);
    benchmark::DoNotOptimize(changes);
  }
}
BENCHMARK(BM_StateSetPlan)->Args({1000, 50})->Unit(benchmark::kMillisecond);

// What a scrape and GET /v1/images compute.
void BM_StateReadiness(benchmark::State& bench) {
  const auto plan = global_plan(bench.range(0), bench.range(1));
  const auto state = reported_state(plan, 0);
  for (auto _ : bench) {
    auto readiness = state.readiness();
    benchmark::DoNotOptimize(readiness);
  }
}
BENCHMARK(BM_StateReadiness)->Args({1000, 50})->Unit(benchmark::kMillisecond);

void BM_StateImagesJson(benchmark::State& bench) {
  const auto plan = global_plan(bench.range(0), bench.range(1));
  const auto state = reported_state(plan, 0);
  for (auto _ : bench) {
    auto body = api::encode(state.images());
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(BM_StateImagesJson)->Args({1000, 50})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace swarm_prepull::controller
