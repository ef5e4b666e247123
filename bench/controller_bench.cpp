// Benchmarks of the controller's state machine (controller/state.h) at the
// scale of 1,000 nodes: what one agent report, one new plan and one readiness
// read cost. A report that changes what the pull grants read (only with
// --max-parallel-node-pulls) rebuilds every node's published set, O(nodes x
// images); any other report costs O(images of the node). docs/benchmarks.md has the figures and how
// to reproduce:
//
//   swarm_prepull_bench --benchmark_filter='State'
#include <benchmark/benchmark.h>

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
State reported_state(const reconcile::Plan& plan, std::uint32_t cap) {
  StateOptions options;
  options.max_parallel_node_pulls = cap;
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

// The worst case: with a cap, every report changes a grant input (the first
// image flips between pulling and present), so every one republishes the swarm.
void BM_StateReportChangingGrants(benchmark::State& bench) {
  const auto plan = global_plan(bench.range(0), bench.range(1));
  auto state = reported_state(plan, static_cast<std::uint32_t>(bench.range(2)));
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
BENCHMARK(BM_StateReportChangingGrants)->Args({1000, 50, 10})->Unit(benchmark::kMillisecond);

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
