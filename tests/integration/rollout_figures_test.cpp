// Issue 15's rolling update on one link all nodes share, on the real sandbox
// swarm, with the timeline e2e cannot give: which node downloaded what from
// the registry, and when, against swarm's own task replacements. The link is
// the test's registry proxy paced to one rate for every client together
// (tests/integration/registry_proxy.h). Side by side, alternating: swarm
// alone (its service labelled swarm-prepull.skip) and the agents with
// `--max-pulls-per-registry 1`. A figure run, not a check: skipped unless
// SWARM_PREPULL_ROLLOUT_FIGURES is set (docs/benchmarks.md has its output).
// With the sandbox up, 3 pairs:
//   SWARM_PREPULL_ROLLOUT_FIGURES=3 build/asan/tests/integration_tests --gtest_filter='Rollout*'
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tests/integration/process_swarm.h"
#include "tests/integration/registry_proxy.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

class RolloutFiguresTest : public ProcessSwarmTest {
 protected:
  void SetUp() override {
    const char* pairs = std::getenv("SWARM_PREPULL_ROLLOUT_FIGURES");
    // About 30 s a pair: a figures run a person starts, not a check CI needs.
    if (pairs == nullptr || *pairs == '\0') {
      GTEST_SKIP() << "a figures run: SWARM_PREPULL_ROLLOUT_FIGURES=N runs N pairs of rollouts";
    }
    pairs_ = std::max(1, std::atoi(pairs));
    set_up("rollout-figures");
    if (box_ != nullptr && box_->test_proxy_registry.empty()) {
      GTEST_FAIL() << "the sandbox has no test proxy address: run this tree's scripts/sandbox up";
    }
  }

  // A service of 3 replicas, one per node, replaced one at a time, stop-first.
  std::string create_rollout_service(const std::string& role, const std::string& image,
                                     const std::string& flags) {
    const std::string service = name_ + "-" + role + "-" + std::to_string(::getpid());
    services_.push_back(service);
    const auto created =
        run_command(docker(manager().docker_host,
                           "service create --detach --quiet --replicas 3 --replicas-max-per-node 1 "
                           "--update-order stop-first --update-parallelism 1 --update-delay 0s " +
                               flags + " --name " + service + " " + image));
    EXPECT_EQ(created.status, 0) << created.output;
    return service;
  }

  // Whether every replica swarm wants running runs `image` (as the service
  // names it: swarm lists it pinned, image@digest).
  bool runs(const std::string& service, const std::string& image) const {
    const auto tasks =
        run_command(docker(manager().docker_host,
                           "service ps --no-trunc --filter desired-state=running --format "
                           "'{{.Image}} {{.CurrentState}}' " +
                               service))
            .output;
    std::size_t running = 0;
    std::size_t start = 0;
    while (start < tasks.size()) {
      auto end = tasks.find('\n', start);
      if (end == std::string::npos) end = tasks.size();
      const auto line = tasks.substr(start, end - start);
      if (line.starts_with(image + "@") && line.find(" Running") != std::string::npos) ++running;
      start = end + 1;
    }
    return running == 3;
  }

  // `docker service update --image`, timed until every replica runs it.
  double rolling_update(const std::string& service, const std::string& image) {
    const auto started = ProcessClock::now();
    const auto updated = run_command(docker(
        manager().docker_host, "service update --detach --quiet --image " + image + " " + service));
    EXPECT_EQ(updated.status, 0) << updated.output;
    EXPECT_TRUE(wait_until(
        service + " running " + image, 180s, [&] { return runs(service, image); }, 50ms))
        << run_command(docker(manager().docker_host, "service ps --no-trunc " + service)).output;
    return seconds_since(started);
  }

  // The registry's downloads of a layer (1 MiB or more) since request
  // `since`, by node, in ms from `origin`.
  std::string timeline(const RegistryProxy& proxy, std::size_t since,
                       RegistryProxy::Clock::time_point origin) const {
    const auto requests = proxy.requests();
    const auto node_at = [&](const std::string& address) {
      for (const auto& node : box_->nodes) {
        if (node.addr == address) return node.name;
      }
      return address;
    };
    return download_timeline(
        {requests.begin() + static_cast<std::ptrdiff_t>(since), requests.end()}, origin, node_at,
        1024 * 1024);
  }

  int pairs_ = 1;
};

TEST_F(RolloutFiguresTest, CappedRollingUpdateOnASharedLink) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  constexpr int kMib = 32;
  constexpr std::uint64_t kRate = 8 * 1024 * 1024;  // bytes a second, every node together
  const auto base = through_proxy(fresh_runnable_image(1));
  const auto alone = create_rollout_service("alone", base, "--label swarm-prepull.skip=true");
  const auto agents = create_rollout_service("agents", base, "");
  start_controller({"--max-pulls-per-registry", "1"});
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
  }
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  ASSERT_TRUE(wait_until("both services running", 120s, [&] {
    return runs(alone, base) && runs(agents, base);
  })) << run_command(docker(manager().docker_host, "service ps --no-trunc " + alone)).output;
  // Every image pushed at full speed, before the link is paced.
  std::vector<std::pair<std::string, std::string>> images;
  for (int pair = 0; pair < pairs_; ++pair) {
    images.emplace_back(through_proxy(fresh_runnable_image(kMib)),
                        through_proxy(fresh_runnable_image(kMib)));
  }
  ASSERT_TRUE(wait_until("every node warm with the base image", 60s,
                         [&] { return engines_.present_everywhere(pinned(base)); }));
  proxy.limit_rate(kRate);
  std::vector<double> ratios;
  for (int pair = 0; pair < pairs_; ++pair) {
    double alone_seconds = 0;
    double agents_seconds = 0;
    for (int turn = 0; turn < 2; ++turn) {
      const bool agents_turn = (turn == 1) == (pair % 2 == 0);
      const auto since = proxy.requests().size();
      const auto origin = RegistryProxy::Clock::now();
      const double seconds = agents_turn ? rolling_update(agents, images[pair].second)
                                         : rolling_update(alone, images[pair].first);
      (agents_turn ? agents_seconds : alone_seconds) = seconds;
      std::cout << "pair " << pair + 1 << ", "
                << (agents_turn ? "agents (capped at 1)" : "swarm alone") << ": " << seconds
                << " s\n"
                << timeline(proxy, since, origin);
    }
    ratios.push_back(agents_seconds / alone_seconds);
    std::cout << "figure: pair " << pair + 1 << ": swarm alone " << alone_seconds
              << " s, agents capped at 1 " << agents_seconds << " s ("
              << agents_seconds / alone_seconds << "x)\n";
  }
  std::sort(ratios.begin(), ratios.end());
  std::cout << "figure: agents capped at 1 against swarm alone, median "
            << ratios[ratios.size() / 2] << "x over " << ratios.size() << " pairs, on one "
            << kRate / (1024 * 1024) << " MiB/s link, " << kMib << " MiB images\n";
  for (std::size_t node = 0; node < agents_.size(); ++node) {
    std::cout << "agent " << node + 1 << ":\n"
              << grep_lines(read_text(agents_[node].log), "\"pull ");
  }
}

}  // namespace
}  // namespace swarm_prepull::testing
