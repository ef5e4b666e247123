// Live pulls first (issue 15), on the real sandbox swarm with a controller and
// one agent per node as processes. Swarm starts a task on node-2 whose image
// comes through the test's registry proxy (tests/integration/registry_proxy.h),
// which holds its blob downloads back, so the task stays in `preparing` as long
// as the test wants. Meanwhile an image set asks every node for another image:
// node-1 and node-3 pull it, node-2 does not until the task's image is there.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/process_swarm.h"
#include "tests/integration/registry_proxy.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

class LivePullsTest : public ProcessSwarmTest {
 protected:
  void SetUp() override {
    set_up("live-pulls-test");
    if (box_ != nullptr && box_->test_proxy_registry.empty()) {
      GTEST_FAIL() << "the sandbox has no test proxy address: run this tree's scripts/sandbox up";
    }
  }

  void TearDown() override {
    for (const auto& config : configs_) {
      run_command(docker(manager().docker_host, "config rm " + config));
    }
    ProcessSwarmTest::TearDown();
  }

  // The desired set the controller publishes for box_->nodes[node] (null
  // while it does not answer).
  nlohmann::json desired_of(std::size_t node) const {
    const auto body = run_command("curl -sf -H 'Authorization: Bearer " + token() + "' " +
                                  controller_url() + "/v1/nodes/" + node_ids_[node] + "/desired");
    return nlohmann::json::parse(body.output, nullptr, false);
  }

  // Whether the node's set marks `ref` as wanted by a task swarm is starting.
  bool marked_starting(std::size_t node, const std::string& ref) const {
    const auto set = desired_of(node);
    if (set.is_discarded() || !set.contains("images")) return false;
    for (const auto& image : set["images"]) {
      if (image.value("ref", "") == ref) return image.value("starting", false);
    }
    return false;
  }

  // An image set (a config labelled swarm-prepull.imageset=true) of `image`
  // for every node; removed at the end.
  void declare(const std::string& image) {
    const std::string config = name_ + "-set-" + std::to_string(::getpid());
    const std::string file = dir_ + "/imageset.yaml";
    std::ofstream(file) << "images:\n  - " << image << "\n";
    const auto created = run_command(
        docker(manager().docker_host,
               "config create --label swarm-prepull.imageset=true " + config + " " + file));
    ASSERT_EQ(created.status, 0) << created.output;
    configs_.push_back(config);
  }

  std::vector<std::string> configs_;
};

TEST_F(LivePullsTest, AStartingTasksPullHoldsBackLowerPrioritiesOnItsNodeOnly) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const std::string runnable = fresh_runnable_image(16);
  const std::string live = through_proxy(runnable);
  const std::string live_ref = pinned(live);
  const std::string declared = fresh_image(8);
  const std::string declared_ref = pinned(declared);  // what the engines list
  const std::string declared_set_ref = reconcile::parse_reference(declared)->canonical();
  start_controller();
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);

  // Swarm starts one task on node-2; its pull cannot finish yet (pinned()
  // above had the image's config blob read, which the CLI needs again).
  proxy.hold_new_blobs(true);
  const std::string service = name_ + "-live-" + std::to_string(::getpid());
  services_.push_back(service);
  const auto created =
      run_command(docker(manager().docker_host,
                         "service create --detach --quiet --replicas 1 --constraint "
                         "node.hostname==" +
                             box_->nodes[1].name + " --name " + service + " " + live +
                             " /bin/busybox sleep 2147483647"));
  ASSERT_EQ(created.status, 0) << created.output;
  ASSERT_TRUE(wait_until("node-2's set marking the task's image as starting", 60s, [&] {
    return marked_starting(1, live_ref);
  })) << read_text(controller_.log);
  EXPECT_FALSE(marked_starting(0, live_ref));

  // Only now something of lower priority is wanted everywhere, and the agents start.
  declare(declared);
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
  }
  ASSERT_TRUE(wait_until("the declared image on node-1 and node-3", 120s, [&] {
    return engines_.present_on(0, declared_ref) && engines_.present_on(2, declared_ref);
  })) << read_text(controller_.log);
  // node-2's agent has had every chance to start it (its other slot is free):
  // it reported the image, and waits for the task's.
  ASSERT_TRUE(wait_until("node-2's agent reporting the declared image waiting", 30s, [&] {
    for (const auto& image : controller_images().value("images", nlohmann::json::array())) {
      if (image.value("ref", "") != declared_set_ref) continue;
      for (const auto& node : image.value("nodes", nlohmann::json::array())) {
        if (node.value("id", "") == node_ids_[1]) return node.value("state", "") == "waiting";
      }
    }
    return false;
  })) << controller_images().dump();
  EXPECT_FALSE(engines_.present_on(1, declared_ref));
  EXPECT_TRUE(marked_starting(1, live_ref));

  // The registry serves the blobs: the task runs, the mark goes, and node-2
  // pulls the declared image too.
  proxy.hold_new_blobs(false);
  ASSERT_TRUE(wait_until("the declared image on node-2 after the task's", 120s, [&] {
    return engines_.present_on(1, declared_ref);
  })) << read_text(controller_.log);
  EXPECT_TRUE(engines_.present_on(1, live_ref));
  EXPECT_TRUE(wait_until("the mark gone once the task runs", 30s,
                         [&] { return !marked_starting(1, live_ref); }));
}

}  // namespace
}  // namespace swarm_prepull::testing
