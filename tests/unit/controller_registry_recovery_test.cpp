// Recovery as soon as a registry answers again (controller/registry_recovery.h):
// the transitions that bump a registry's retry epoch, the epochs in every
// desired image of that registry, and the whole path through the controller
// with a scripted resolver standing for the manager's engine.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "controller/registry_recovery.h"
#include "controller/state.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/http_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::controller {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using swarm_prepull::testing::http_call;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using swarm_prepull::testing::wait_until;
using Probe = std::pair<std::string, std::string>;

const std::string registry = "10.0.0.1:5000";
const std::string image = registry + "/team/app:2";

TEST(RegistryRecovery, OnlyAnAnswerAfterSilenceBumpsTheEpoch) {
  RegistryRecovery recovery(2s);
  const auto t0 = RegistryRecovery::Clock::time_point{} + 1h;
  const std::map<std::string, std::string> failing = {{registry, image}};
  EXPECT_TRUE(recovery.due({}, t0).empty());  // nothing failing: no probe

  EXPECT_EQ(recovery.due(failing, t0), (std::vector<Probe>{{registry, image}}));
  EXPECT_TRUE(recovery.due(failing, t0 + 5s).empty());  // one in flight at a time
  // Answered at once: the nodes' own network, not the registry. No bump.
  EXPECT_FALSE(recovery.finished(registry, true));
  EXPECT_TRUE(recovery.due(failing, t0 + 1s).empty());  // within the interval
  EXPECT_EQ(recovery.due(failing, t0 + 2s).size(), 1u);
  EXPECT_FALSE(recovery.finished(registry, false));  // silent: down
  EXPECT_EQ(recovery.due(failing, t0 + 4s).size(), 1u);
  EXPECT_FALSE(recovery.finished(registry, false));
  EXPECT_TRUE(recovery.epochs().empty());
  EXPECT_EQ(recovery.due(failing, t0 + 6s).size(), 1u);
  EXPECT_TRUE(recovery.finished(registry, true));  // back
  EXPECT_EQ(recovery.epochs().at(registry), 1u);
  EXPECT_EQ(recovery.due(failing, t0 + 8s).size(), 1u);
  EXPECT_FALSE(recovery.finished(registry, true));  // still up: no second bump
  // Failures gone: forgotten, but the epoch stays what the agents were told.
  EXPECT_TRUE(recovery.due({}, t0 + 10s).empty());
  EXPECT_EQ(recovery.epochs().at(registry), 1u);
}

TEST(StateRetryEpochs, PublishedWithTheImagesOfThatRegistryOnly) {
  State state(StateOptions{.max_parallel_node_pulls = 0, .agent_stale_after = 90s, .wall_ms = [] {
                             return std::uint64_t{1000};
                           }});
  const std::string other = "docker.io/library/redis:7";
  state.set_plan(
      reconcile::desired_images({test_node("id1", "node-1"), test_node("id2", "node-2")},
                                {test_service("app", image), test_service("db", other)}));
  const auto now = Clock::now();
  NodeReport report{.generation = 1, .images = {}, .agent_version = {}, .engine_version = {}};
  report.images.push_back({.ref = image,
                           .state = reconcile::ImageState::failed,
                           .reason = api::FailureReason::network,
                           .message = "dial tcp: connection refused",
                           .attempts = 3,
                           .since = 0});
  ASSERT_TRUE(state.report("id1", report, now));
  EXPECT_EQ(state.registries_failing(), (std::map<std::string, std::string>{{registry, image}}));

  const auto generation = state.desired("id1")->generation;
  const auto changes = state.set_retry_epochs({{registry, 1}});
  EXPECT_EQ(changes.bumped_nodes, (std::vector<std::string>{"id1", "id2"}));
  for (const auto* node : {"id1", "id2"}) {
    const auto* desired = state.desired(node);
    ASSERT_NE(desired, nullptr);
    for (const auto& entry : desired->images) {
      EXPECT_EQ(entry.retry, entry.ref == image ? 1u : 0u) << node << " " << entry.ref;
    }
  }
  EXPECT_GT(state.desired("id1")->generation, generation);
  EXPECT_TRUE(state.set_retry_epochs({{registry, 1}}).bumped_nodes.empty());
}

class RegistryRecoveryControllerTest : public testing::LoopbackControllerTest {
 protected:
  void SetUp() override {
    auto options = loopback_options();
    options.registry_probe_interval = 50ms;
    options.resolve = [this](std::string) -> net::awaitable<engine::Result<engine::Distribution>> {
      ++probes_;
      if (registry_up_) {
        co_return engine::Distribution{
            "sha256:" + std::string(64, 'b'), "application/vnd.oci.image.index.v1+json", 100, {}};
      }
      co_return engine::Error{make_error_code(engine::engine_errc::server_error), "", "", 500,
                              "Get \"http://10.0.0.1:5000/v2/\": dial tcp 10.0.0.1:5000: connect: "
                              "connection refused"};
    };
    start(std::move(options));
    on_loop([&] {
      controller_->apply_plan(
          reconcile::desired_images({test_node("id1", "node-1")}, {test_service("app", image)}));
      return 0;
    });
  }
  std::uint64_t retry_epoch() {
    const auto reply =
        http_call(port_, http::verb::get, "/v1/nodes/id1/desired", {}, testing::loopback_token);
    return json::parse(reply.body)["images"][0].value("retry", std::uint64_t{0});
  }
  std::atomic<bool> registry_up_{false};
  std::atomic<int> probes_{0};
};

TEST_F(RegistryRecoveryControllerTest, NodesAreToldOnceTheRegistryAnswersAgain) {
  const auto reply = http_call(port_, http::verb::post, "/v1/nodes/id1/status",
                               json{{"generation", 1},
                                    {"images",
                                     {{{"ref", image},
                                       {"state", "failed"},
                                       {"reason", "network"},
                                       {"message", "connection refused"},
                                       {"attempts", 4}}}}}
                                   .dump(),
                               testing::loopback_token);
  ASSERT_EQ(reply.status, 204) << reply.body;
  // Probed (once a second, by the agents loop) and found silent.
  ASSERT_TRUE(wait_until([&] { return probes_ >= 1; }, 5s));
  EXPECT_EQ(retry_epoch(), 0u);
  registry_up_ = true;
  ASSERT_TRUE(wait_until([&] { return retry_epoch() == 1; }, 5s));
  const std::string text = metrics_text();
  EXPECT_NE(text.find(R"(swarm_prepull_engine_requests_total{endpoint="/distribution"})"),
            std::string::npos);
}

}  // namespace
}  // namespace swarm_prepull::controller
