// The whole path on the real sandbox swarm: `swarm-prepull controller` on
// loopback and one `swarm-prepull agent` process per node, each bound to its
// node's own engine socket. Services are made with the docker CLI (zero
// replicas: swarm itself pulls nothing, so whatever arrives was pre-pulled),
// and presence is checked by asking each node's engine directly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/client.h"
#include "reconcile/plan.h"
#include "reconcile/reference.h"
#include "tests/integration/process_swarm.h"
#include "tests/integration/sandbox.h"
#include "tests/integration/waiting.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;
using Clock = ProcessClock;

class AgentTest : public ProcessSwarmTest {
 protected:
  void SetUp() override {
    set_up("agent-test");
    token_ = trim(read_text(token_file_));
  }

  std::string token_;
};

TEST_F(AgentTest, WholePathWarmsEveryNodeAndReportsMissingTags) {
  // other/app:1.0 to start with, small:2 as the update, other/app:latest next
  // to a missing tag. None may be on any node before: remove them.
  const std::string first = box_->images[4];
  const std::string update = box_->images[1];
  const std::string other = box_->images[5];
  for (const auto& ref : {first, update, other}) engines_.remove_everywhere(ref);

  // The last agent runs (it serves its metrics) before the controller
  // exists, and must converge anyway. It is agents_[0] until the others start.
  agents_.push_back(start_agent(2, token_file_, 3));
  ASSERT_TRUE(wait_until("node-3's agent serving /metrics", 30s, [&] {
    return metrics_of(0).find("swarm_prepull_") != std::string::npos;
  })) << read_text(agents_[0].log);
  start_controller();
  agents_.insert(agents_.begin(), {start_agent(0, token_file_, 1), start_agent(1, token_file_, 2)});
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);

  // A new service: its (pinned) image arrives on every node.
  const std::string service = create_service("warm", first);
  const std::string first_ref = service_ref(service);
  pulled_.push_back(first_ref);
  const auto created = Clock::now();
  ASSERT_TRUE(wait_until(first_ref + " on all 3 nodes", 60s, [&] {
    return engines_.present_everywhere(first_ref);
  })) << read_text(agents_[2].log);
  std::printf("[ figures  ] service create -> %s on all 3 nodes: %.2f s\n", first_ref.c_str(),
              seconds_since(created));

  // An update to a new tag is warm everywhere within a few seconds.
  const auto updating = Clock::now();
  const auto updated = run_command(docker(
      manager().docker_host, "service update --detach --quiet --image " + update + " " + service));
  ASSERT_EQ(updated.status, 0) << updated.output;
  const std::string update_ref = service_ref(service);
  pulled_.push_back(update_ref);
  ASSERT_TRUE(wait_until(update_ref + " on all 3 nodes", 60s,
                         [&] { return engines_.present_everywhere(update_ref); }));
  std::printf("[ figures  ] service update -> %s on all 3 nodes: %.2f s\n", update_ref.c_str(),
              seconds_since(updating));

  // A missing tag fails with not_found on every node; another image still arrives.
  const std::string missing_service = create_service("missing", box_->missing_image);
  const std::string missing_ref = service_ref(missing_service);
  const std::string other_service = create_service("other", other);
  const std::string other_ref = service_ref(other_service);
  pulled_.push_back(other_ref);
  EXPECT_TRUE(wait_until(other_ref + " on all 3 nodes", 60s,
                         [&] { return engines_.present_everywhere(other_ref); }));
  for (std::size_t node = 0; node < 3; ++node) {
    // Retried only when the desired set changes (the "other" service did once).
    EXPECT_TRUE(wait_until(box_->nodes[node].name + "'s agent counting a not_found failure", 30s,
                           [&] {
                             return counter_value(metrics_of(node),
                                                  "swarm_prepull_pull_failures_total{reason="
                                                  "\"not_found\"}") >= 1;
                           }))
        << metrics_of(node);
  }
  nlohmann::json failures;
  EXPECT_TRUE(wait_until("the controller listing 3 failures for " + missing_ref, 30s, [&] {
    for (const auto& image : controller_images().value("images", nlohmann::json::array())) {
      if (image.value("ref", "") == missing_ref) failures = image.value("failures", failures);
    }
    return failures.is_array() && failures.size() == 3;
  })) << controller_images().dump();
  for (const auto& failure : failures) {
    EXPECT_EQ(failure.value("reason", ""), "not_found") << failure.dump();
  }

  // Metrics: promtool accepts them; the counters add up.
  for (std::size_t node = 0; node < 3; ++node) {
    const std::string text = metrics_of(node);
    std::ofstream(dir_ + "/metrics") << text;
    const auto check = run_command("promtool check metrics < " + dir_ + "/metrics 2>&1");
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_THAT(text, ::testing::HasSubstr("swarm_prepull_cache_hit_ratio"));
    EXPECT_THAT(text, ::testing::HasSubstr("swarm_prepull_pulls_total{result=\"success\"}"));
    EXPECT_THAT(text, ::testing::HasSubstr(
                          "swarm_prepull_engine_requests_total{endpoint=\"/images/json\"}"));
  }
  // The agent never logs the token.
  for (const auto& agent : agents_) {
    EXPECT_EQ(read_text(agent.log).find(token_), std::string::npos);
  }

  for (std::size_t i = 0; i < agents_.size(); ++i) {
    std::printf("[ figures  ] agent %zu RSS %ld KiB\n", i + 1, agents_[i].rss_kib());
  }
  for (auto& agent : agents_) {
    EXPECT_TRUE(agent.alive());
    const auto [seconds, status] = agent.stop();
    EXPECT_GE(seconds, 0) << "did not stop within 10 s of SIGTERM";
    EXPECT_EQ(status, 0);
    std::printf("[ figures  ] agent stopped %.3f s after SIGTERM\n", seconds);
  }
}

// A controller killed without warning and started again converges: it holds
// nothing that the swarm and the agents' next reports do not give back, and
// the agents keep working from their last set while it is away.
TEST_F(AgentTest, KilledAndRestartedControllerConverges) {
  start_controller();
  for (std::size_t node = 0; node < 3; ++node) {
    agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
  }
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);

  controller_.kill();  // returns once the process is gone
  // Created while no controller runs: nobody can have been told about it, and
  // no node holds its image now.
  const std::string service = create_service("restart", box_->images[2]);
  const std::string ref = service_ref(service);
  engines_.remove_everywhere(ref);
  pulled_.push_back(ref);
  for (std::size_t node = 0; node < engines_.size(); ++node) {
    EXPECT_FALSE(engines_.present_on(node, ref)) << box_->nodes[node].name;
  }

  const auto restarted = Clock::now();
  start_controller();
  ASSERT_TRUE(wait_until(ref + " on all 3 nodes after the controller restarted", 60s,
                         [&] { return engines_.present_everywhere(ref); }))
      << read_text(controller_.log) << "\n"
      << read_text(agents_[0].log);
  std::printf("[ figures  ] controller restart -> %s on all 3 nodes: %.2f s\n", ref.c_str(),
              seconds_since(restarted));
  for (auto& agent : agents_) EXPECT_TRUE(agent.alive());
}

TEST_F(AgentTest, WrongTokenIsReportedNotFatal) {
  start_controller();
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  const std::string bad = dir_ + "/bad-token";
  std::ofstream(bad) << "not-the-token\n";
  agents_.push_back(start_agent(1, bad, 1));
  agents_.push_back(start_agent(2, "", 2));  // no token at all
  for (auto& agent : agents_) {
    EXPECT_TRUE(wait_until("the agent logging the controller's HTTP 401", 30s, [&] {
      return read_text(agent.log).find("HTTP 401") != std::string::npos;
    })) << read_text(agent.log);
    EXPECT_TRUE(agent.alive());
    EXPECT_EQ(read_text(agent.log).find("not-the-token"), std::string::npos);
    const auto [seconds, status] = agent.stop();
    EXPECT_GE(seconds, 0) << "did not stop within 10 s of SIGTERM";
    EXPECT_EQ(status, 0);
  }
}

}  // namespace
}  // namespace swarm_prepull::testing
