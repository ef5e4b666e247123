// Registries protected (issue 15), on the real sandbox swarm with a controller
// and one agent per node as processes: the nodes' engines pull through a
// registry of the test's own in front of the sandbox's
// (tests/integration/registry_proxy.h), which records every request and, when
// told to, answers 429 as Docker Hub does at its pull limit. With
// --max-pulls-per-registry 1, no two nodes download from it at once; a task
// swarm starts takes the slot of a pull that only warms a node; a 429 met by
// one node pauses new pulls from it on every node.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/process_swarm.h"
#include "tests/integration/registry_proxy.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

class RegistryCapTest : public ProcessSwarmTest {
 protected:
  void SetUp() override {
    set_up("registry-cap-test");
    if (box_ != nullptr && box_->test_proxy_registry.empty()) {
      GTEST_FAIL() << "the sandbox has no test proxy address: run this tree's scripts/sandbox up";
    }
  }

  void start_all(const std::vector<std::string>& controller_args) {
    start_controller(controller_args);
    for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
      agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
    }
    ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  }

  // A fresh image of the sandbox registry, named through the proxy (pinned
  // there too, so removed from every node at the end).
  std::string fresh_proxied_image(int mib) { return through_proxy(fresh_image(mib)); }

  std::string controller_metrics() const {
    return run_command("curl -sf " + controller_url() + "/metrics").output;
  }

  std::string backoff_series() const {
    return "swarm_prepull_registry_backoff_seconds{registry=\"" + box_->test_proxy_registry + "\"}";
  }

  bool present_everywhere(const std::vector<std::string>& refs) {
    for (std::size_t node = 0; node < engines_.size(); ++node) {
      for (const auto& ref : refs) {
        if (!engines_.present_on(node, ref)) return false;
      }
    }
    return true;
  }

  // The (node, image) pairs the controller lists as pulling now.
  std::size_t pulling_now() const {
    std::size_t pulling = 0;
    const auto images = controller_images();
    for (const auto& image : images.value("images", nlohmann::json::array())) {
      for (const auto& node : image.value("nodes", nlohmann::json::array())) {
        if (node.value("state", "") == "pulling") ++pulling;
      }
    }
    return pulling;
  }
};

TEST_F(RegistryCapTest, OneNodeAtATimeDownloadsFromACappedRegistry) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const auto first = fresh_proxied_image(24);
  const auto second = fresh_proxied_image(24);
  const std::vector<std::string> refs = {pinned(first), pinned(second)};
  // Swarm pins each image as the services are created: the manager asks the
  // registry for the manifest and the config blob, which is no pull by an
  // agent, so it happens before the agents start and is not counted.
  create_service("first", first);
  create_service("second", second);
  const auto before_agents = proxy.requests().size();
  start_all({"--max-pulls-per-registry", "1"});

  std::size_t most_pulling = 0;
  ASSERT_TRUE(wait_until("both images on every node", 180s, [&] {
    most_pulling = std::max(most_pulling, pulling_now());
    return present_everywhere(refs);
  })) << read_text(controller_.log);
  EXPECT_LE(most_pulling, 1u) << "the controller listed two pulls from one registry at once";

  // What the registry saw: each node downloaded both images' blobs through
  // it, and no two nodes' downloads overlapped in time.
  std::vector<RegistryProxy::Request> blobs;
  std::set<std::string> clients;
  ASSERT_TRUE(
      wait_until("the proxy to end its answers", 10s, [&] { return proxy.all_answered(); }));
  const auto requests = proxy.requests();
  for (auto request = requests.begin() + before_agents; request != requests.end(); ++request) {
    if (!request->is_download()) continue;
    blobs.push_back(*request);
    clients.insert(request->client);
  }
  for (const auto& node : box_->nodes) EXPECT_TRUE(clients.contains(node.addr)) << node.name;
  const auto timeline = [&] {
    return download_timeline(
        blobs, blobs.empty() ? RegistryProxy::Clock::time_point{} : blobs.front().started);
  };
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    for (std::size_t j = i + 1; j < blobs.size(); ++j) {
      const auto& a = blobs[i];
      const auto& b = blobs[j];
      if (a.client == b.client) continue;
      EXPECT_FALSE(a.started < b.ended && b.started < a.ended)
          << a.client << " " << a.target << " and " << b.client << " " << b.target
          << " downloaded at the same time; the blobs' downloads:\n"
          << timeline() << "controller:\n"
          << read_text(controller_.log);
    }
  }
}

// A rolling update on a capped registry: the one slot went to a node that
// only warms, then swarm starts a task on another node. The task's node takes
// the slot (its agent's pull joins swarm's own in its engine), the warming
// node's agent cancels its pull without a failure, and pulls once the slot
// comes back.
TEST_F(RegistryCapTest, ATaskSwarmStartsTakesTheSlotOfAWarmingPull) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const auto image = fresh_proxied_image(16);
  const std::string ref = pinned(image);
  const auto service = create_service("starting", image);
  proxy.hold_new_blobs(true);  // every pull stays under way until released
  start_all({"--max-pulls-per-registry", "1"});

  const auto warming_index = task_takes_the_slot(service, ref);
  ASSERT_LT(warming_index, box_->nodes.size());
  EXPECT_TRUE(withdrew_one_pull(warming_index));

  proxy.hold_new_blobs(false);
  ASSERT_TRUE(wait_until("the image on every node", 120s, [&] {
    return present_everywhere({ref});
  })) << read_text(controller_.log);
}

TEST_F(RegistryCapTest, ARateLimitedRegistryPausesPullsOnEveryNode) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const auto image = fresh_proxied_image(8);
  const std::string ref = pinned(image);
  create_service("limited", image);  // swarm pins it while the registry answers
  proxy.set_rate_limited(true);
  const auto before_limit = proxy.requests().size();  // the manager's, pinning
  start_all({"--max-pulls-per-registry", "1"});

  const auto series = backoff_series();
  ASSERT_TRUE(wait_until("the controller pausing the registry after a 429", 60s, [&] {
    return counter_value(controller_metrics(), series) > 0;
  })) << read_text(controller_.log);
  const auto manifest_requests = [&] {
    std::set<std::string> clients;
    std::size_t count = 0;
    const auto requests = proxy.requests();
    for (auto request = requests.begin() + before_limit; request != requests.end(); ++request) {
      if (!request->is_manifest()) continue;
      ++count;
      clients.insert(request->client);
    }
    return std::pair{count, clients.size()};
  };
  // Not a structured binding: a lambda below reads `asked` (clang 14 refuses that).
  const auto first_requests = manifest_requests();
  const auto asked = first_requests.first;
  EXPECT_EQ(first_requests.second, 1u) << "only the node granted the one slot asked";

  // While the pause lasts (5 s; the gauge, updated every second, reads at
  // least 1.5 s left, so it has not ended since), no node asks the registry,
  // although the 429 freed the slot.
  int samples = 0;
  ASSERT_TRUE(wait_until("the pause nearly over", 30s, [&] {
    const auto [count, clients] = manifest_requests();
    const double left = counter_value(controller_metrics(), series);
    if (left < 1.5) return true;
    ++samples;
    EXPECT_EQ(count, asked) << "a node asked the registry during the pause, " << left << " s left";
    return false;
  }));
  EXPECT_GT(samples, 0);

  // The registry serves again: the image reaches every node, and the pull
  // that worked resets the backoff (the series goes).
  proxy.set_rate_limited(false);
  ASSERT_TRUE(wait_until("the image on every node", 120s, [&] {
    return present_everywhere({ref});
  })) << read_text(controller_.log);
  ASSERT_TRUE(wait_until("the registry's backoff reset", 30s, [&] {
    return counter_value(controller_metrics(), series) < 0;
  })) << controller_metrics();

  // The real engine's 429 was read as rate_limited by the agent that met it.
  double rate_limited = 0;
  for (std::size_t node = 0; node < agents_.size(); ++node) {
    rate_limited +=
        std::max(0.0, counter_value(metrics_of(node),
                                    "swarm_prepull_pull_failures_total{reason=\"rate_limited\"}"));
  }
  EXPECT_GE(rate_limited, 1.0);
}

}  // namespace
}  // namespace swarm_prepull::testing
