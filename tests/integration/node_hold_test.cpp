// New nodes held until warm (issue 15), on the real sandbox swarm with a
// controller (--hold-new-nodes) and one agent per node as processes. A fourth
// engine joins the running swarm (scripts/sandbox add-node). Once its agent
// reports, the controller pauses it and labels it; while the test's registry
// proxy holds the image's blobs it stays paused; when the image is there it is
// active again without the label, and a task scaled onto it starts without a
// pull.
#include "reconcile/node_hold.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

#include "tests/integration/faults.h"
#include "tests/integration/process_swarm.h"
#include "tests/integration/registry_proxy.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

class NodeHoldTest : public ProcessSwarmTest {
 protected:
  void SetUp() override {
    set_up("node-hold-test");
    if (box_ != nullptr && box_->test_proxy_registry.empty()) {
      GTEST_FAIL() << "the sandbox has no test proxy address: run this tree's scripts/sandbox up";
    }
  }

  void TearDown() override {
    ProcessSwarmTest::TearDown();
    // Later tests expect the sandbox's own nodes only.
    if (!added_id_.empty()) {
      const auto removed = sandbox_command("remove-node " + std::to_string(added_number_));
      EXPECT_EQ(removed.status, 0) << removed.output;
    }
  }

  // scripts/sandbox add-node; its last line is "node N ID".
  ::testing::AssertionResult add_node() {
    const auto added = sandbox_command("add-node");
    const auto last_line = added.output.substr(
        added.output.find_last_of('\n', added.output.size() >= 2 ? added.output.size() - 2 : 0) +
        1);
    std::istringstream words(last_line);
    std::string word;
    words >> word >> added_number_ >> added_id_;
    if (added.status != 0 || word != "node" || added_id_.empty()) {
      added_id_.clear();
      return ::testing::AssertionFailure() << "scripts/sandbox add-node:\n" << added.output;
    }
    added_host_ = box_->nodes[0].docker_host;
    const auto at = added_host_.find("node-1");
    if (at == std::string::npos) {
      return ::testing::AssertionFailure() << "no node-1 in " << added_host_;
    }
    added_host_.replace(at, 6, "node-" + std::to_string(added_number_));
    return ::testing::AssertionSuccess();
  }

  // The added node's availability and hold label, as the manager has them.
  std::string availability() const {
    return trim(run_command(docker(manager().docker_host,
                                   "node inspect -f '{{.Spec.Availability}}' " + added_id_))
                    .output);
  }
  std::string hold_label() const {
    return trim(run_command(docker(manager().docker_host,
                                   "node inspect -f '{{index .Spec.Labels \"" +
                                       std::string(reconcile::kHoldLabel) + "\"}}' " + added_id_))
                    .output);
  }

  // node-4 active again and without the hold label.
  ::testing::AssertionResult released_within(std::chrono::seconds limit) const {
    return wait_until("node-4 active again without the label", limit,
                      [&] { return availability() == "active" && hold_label().empty(); });
  }

  std::string controller_metrics() const {
    return run_command("curl -sf " + controller_url() + "/metrics").output;
  }

  // The added node's state of `ref` in the controller's GET /v1/images.
  std::string added_node_state(const std::string& ref) const {
    const auto images = controller_images();
    for (const auto& image : images.value("images", nlohmann::json::array())) {
      if (image.value("ref", "") != ref) continue;
      for (const auto& node : image.value("nodes", nlohmann::json::array())) {
        if (node.value("id", "") == added_id_) return node.value("state", "");
      }
    }
    return "";
  }

  // A service that wants a fresh image on node-4 only (no task yet), the
  // controller with --hold-new-nodes `hold` and the agents; node-4 joins while
  // the registry proxy holds the image's blobs, its agent starts, and the
  // controller pauses it; its pull then waits at the registry.
  void join_held_node(RegistryProxy& proxy, const std::string& hold) {
    image_ = through_proxy(fresh_runnable_image(16));
    ref_ = pinned(image_);
    service_ = name_ + "-web-" + std::to_string(::getpid());
    services_.push_back(service_);
    const auto created =
        run_command(docker(manager().docker_host,
                           "service create --detach --quiet --replicas 0 --constraint "
                           "node.hostname==node-4 --name " +
                               service_ + " " + image_));
    ASSERT_EQ(created.status, 0) << created.output;

    start_controller({"--hold-new-nodes", hold});
    for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
      agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
    }
    ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);

    proxy.hold_new_blobs(true);
    ASSERT_TRUE(add_node());
    const auto joined = std::chrono::steady_clock::now();
    const auto since_join = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - joined).count();
    };
    ASSERT_EQ(added_number_, 4) << "the service's constraint names node-4";
    // Without an agent there yet it is not paused: paused, swarm would start
    // no task of the agents' global service on it.
    EXPECT_EQ(availability(), "active");

    agents_.push_back(start_agent_on(added_id_, added_host_, token_file_, 4));
    ASSERT_TRUE(wait_until("node-4 paused and labelled by the controller", 30s, [&] {
      return availability() == "pause" && !hold_label().empty();
    })) << read_text(controller_.log);
    std::printf("node-4 joined, its agent started -> paused: %.2f s\n", since_join());

    // Its pull is under way, held at the registry: the node stays paused.
    ASSERT_TRUE(wait_until("node-4 pulling the image", 60s, [&] {
      return added_node_state(ref_) == "pulling";
    })) << controller_images().dump();
    std::printf("-> pulling (as the controller lists it): %.2f s\n", since_join());
    EXPECT_EQ(availability(), "pause");
  }

  int added_number_ = 0;
  std::string added_id_, added_host_;
  std::string image_, ref_, service_;  // what join_held_node() made
};

TEST_F(NodeHoldTest, AJoiningNodeIsPausedUntilWarmThenTakesATaskWithoutAPull) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  join_held_node(proxy, "120s");
  if (HasFatalFailure()) return;
  const std::string& ref = ref_;
  const std::string& service = service_;

  proxy.hold_new_blobs(false);
  const auto released_hold = std::chrono::steady_clock::now();
  ASSERT_TRUE(released_within(60s)) << read_text(controller_.log);
  std::printf(
      "registry answering -> node-4 active: %.2f s\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - released_hold).count());
  EXPECT_EQ(run_command(docker(added_host_, "image inspect " + ref)).status, 0)
      << "released before the image was there";
  const std::string metrics = controller_metrics();
  EXPECT_EQ(counter_value(metrics, "swarm_prepull_node_warm_seconds_count"), 1) << metrics;
  EXPECT_EQ(counter_value(metrics, "swarm_prepull_node_hold_timeouts_total"), 0) << metrics;
  const std::string log = read_text(controller_.log);
  EXPECT_NE(log.find("node paused until warm"), std::string::npos) << log;
  EXPECT_NE(log.find("node released: warm"), std::string::npos) << log;

  // The scale-up lands on the warm node and starts without a pull.
  const std::string since = events_time_now();
  const auto scaled =
      run_command(docker(manager().docker_host, "service scale --detach " + service + "=1"));
  ASSERT_EQ(scaled.status, 0) << scaled.output;
  ASSERT_TRUE(wait_until("the task running on node-4", 60s, [&] {
    return running_tasks(service).find("node-4 Running") != std::string::npos;
  })) << run_command(docker(manager().docker_host, "service ps --no-trunc " + service)).output;
  const auto pulls = pull_events_since(added_host_, since);
  EXPECT_EQ(pulls.status, 0) << pulls.output;
  EXPECT_EQ(pulls.output.find(ref.substr(ref.find('@'))), std::string::npos)
      << "the task pulled its image on node-4:\n"
      << pulls.output;
}

TEST_F(NodeHoldTest, ANodeThatCannotWarmIsReleasedWhenTheHoldRunsOut) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  join_held_node(proxy, "4s");
  if (HasFatalFailure()) return;
  // The registry never answers: the hold runs out, and capacity comes back.
  ASSERT_TRUE(released_within(30s)) << read_text(controller_.log);
  EXPECT_NE(run_command(docker(added_host_, "image inspect " + ref_)).status, 0)
      << "the image arrived: this shows no timeout";
  const std::string metrics = controller_metrics();
  EXPECT_EQ(counter_value(metrics, "swarm_prepull_node_hold_timeouts_total"), 1) << metrics;
  EXPECT_EQ(counter_value(metrics, "swarm_prepull_node_warm_seconds_count"), 0) << metrics;
  const std::string log = read_text(controller_.log);
  EXPECT_NE(log.find("node released: hold ran out"), std::string::npos) << log;
  proxy.hold_new_blobs(false);  // the agent's pull ends before the proxy stops
}

}  // namespace
}  // namespace swarm_prepull::testing
