// `swarm-prepull wait`, the upgrade gate, on the real sandbox swarm: a
// controller and one agent per node as processes, then `wait` as a process
// too. Presence is checked by asking each node's engine directly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>

#include "engine/client.h"
#include "reconcile/plan.h"
#include "reconcile/reference.h"
#include "tests/integration/process_swarm.h"
#include "tests/integration/sandbox.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

class WaitTest : public ProcessSwarmTest {
 protected:
  void SetUp() override { set_up("wait-test"); }

  void start(bool with_agents = true) {
    start_controller();
    if (with_agents) {
      for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
        agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
      }
    }
    ASSERT_TRUE(eventually(15s, [&] {
      return run_command("curl -sf " + controller_url() + "/healthz").status == 0;
    })) << read_text(controller_.log);
  }

  WaitResult wait(const std::vector<std::string>& args) { return run_wait(args); }
};

TEST_F(WaitTest, ReturnsOnceAFreshImageIsOnEveryNode) {
  start();
  const std::string image = fresh_image();
  const auto result = wait({image, "--timeout", "60s"});
  EXPECT_EQ(result.status, 0) << result.output << read_text(controller_.log);
  const std::string ref = pinned(image);
  for (std::size_t node = 0; node < engines_.size(); ++node) {
    EXPECT_TRUE(engines_.present_on(node, ref)) << box_->nodes[node].name;
  }
  EXPECT_THAT(result.output, ::testing::HasSubstr("3/3 nodes"));
  std::printf("[ figures  ] wait %s (fresh, 3 nodes) -> exit 0 after %.2f s\n", image.c_str(),
              result.seconds);
  // Already warm: at once.
  const auto again = wait({image, "--timeout", "10s"});
  EXPECT_EQ(again.status, 0) << again.output;
  std::printf("[ figures  ] wait %s (already warm) -> exit 0 after %.2f s\n", image.c_str(),
              again.seconds);
}

TEST_F(WaitTest, AMissingTagFailsFastNamingNotFound) {
  start();
  const auto result = wait({box_->missing_image, "--timeout", "60s"});
  // Exit 1, not 4: it failed on the registry's answer, well before its 60 s timeout.
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_THAT(result.output, ::testing::HasSubstr("not_found"));
  EXPECT_THAT(result.output, ::testing::HasSubstr("resolved by the manager"));
  EXPECT_THAT(result.output, ::testing::HasSubstr("not pulled on node-1, node-2, node-3"));
  std::printf("[ figures  ] wait %s -> exit 1 after %.2f s: %s", box_->missing_image.c_str(),
              result.seconds, result.output.c_str());
  // The controller lists the failure for operators.
  const auto images =
      run_command("curl -sf -H 'Authorization: Bearer " + trim(read_text(token_file_)) + "' " +
                  controller_url() + "/v1/images");
  EXPECT_THAT(images.output, ::testing::HasSubstr("\"stage\":\"resolve\""));
}

// Issue 12: a Compose project as a deploy pipeline keeps it, named by its
// directory alone: its .env names two files (COMPOSE_FILE) and the versions.
TEST_F(WaitTest, WarmsTheImagesOfAProjectNamedByItsDirectory) {
  start();
  const std::string first = fresh_image(1);
  const std::string second = fresh_image(1);
  const std::string project = dir_ + "/project";
  const auto tag_of = [](const std::string& image) { return image.substr(image.rfind(':') + 1); };
  const auto repository_of = [](const std::string& image) {
    return image.substr(0, image.rfind(':'));
  };
  run_command("mkdir -p " + project);
  std::ofstream(project + "/.env") << "COMPOSE_FILE=compose.yml:compose.extra.yml\n"
                                   << "VERSION=" << tag_of(first) << "\n"
                                   << "EXTRA_VERSION=" << tag_of(second) << "\n";
  std::ofstream(project + "/compose.yml")
      << "services:\n  web:\n    image: " << repository_of(first) << ":${VERSION}\n"
      << "  debug:\n    image: " << repository_of(first) << ":never-pushed\n"
      << "    profiles: [debug]\n";
  std::ofstream(project + "/compose.extra.yml")
      << "services:\n  worker:\n    image: " << repository_of(second) << ":${EXTRA_VERSION:?}\n";
  const auto result = wait({"--project-directory", project, "--timeout", "60s"});
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_TRUE(engines_.present_everywhere(pinned(first))) << result.output;
  EXPECT_TRUE(engines_.present_everywhere(pinned(second))) << result.output;
  // The debug profile is not active: its image (which does not exist) is not asked for.
  EXPECT_THAT(result.output, ::testing::Not(::testing::HasSubstr("never-pushed")));
  std::printf("[ figures  ] wait --project-directory (2 files from .env) -> exit %d after %.2f s\n",
              result.status, result.seconds);
}

TEST_F(WaitTest, ConstraintsLimitTheNodesWaitedFor) {
  start();
  const std::string image = fresh_image();
  const auto result = wait({image, "--constraint", "node.role==worker", "--timeout", "60s"});
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_THAT(result.output, ::testing::HasSubstr("2/2 nodes"));
  const std::string ref = pinned(image);
  EXPECT_FALSE(engines_.present_on(0, ref)) << "the manager got it";
  EXPECT_TRUE(engines_.present_on(1, ref));
  EXPECT_TRUE(engines_.present_on(2, ref));
  std::printf("[ figures  ] wait --constraint node.role==worker -> exit 0 after %.2f s\n",
              result.seconds);
}

TEST_F(WaitTest, ATimeoutNamesWhatIsMissingWhere) {
  start(/*with_agents=*/false);
  const std::string image = fresh_image();
  const auto result = wait({image, "--timeout", "1s"});
  EXPECT_EQ(result.status, 4) << result.output;
  std::printf("[ figures  ] wait --timeout 1s -> exit 4 after %.2f s\n", result.seconds);
  EXPECT_THAT(result.output, ::testing::HasSubstr("timed out after 1s"));
  // Each node named, with why: no agent runs, and the controller says so.
  for (const auto& node : box_->nodes) {
    EXPECT_THAT(
        result.output,
        ::testing::HasSubstr(node.name + " (unknown; no report or poll from its agent since the "
                                         "controller started)"));
  }
}

TEST_F(WaitTest, SurvivesAControllerRestart) {
  start();
  const std::string image = fresh_image();
  for (auto& agent : agents_) agent.stop();  // nothing arrives while the controller restarts
  agents_.clear();
  std::vector<std::string> all = {"wait",      "--controller", controller_url(), "--token-file",
                                  token_file_, "--interval",   "200ms",          image,
                                  "--timeout", "60s"};
  auto waiting = Process::start(all, dir_ + "/wait-restart.log");
  // The controller has wait's request (it lists the image, by tag or pinned
  // to a digest) before it dies.
  const std::string token = trim(read_text(token_file_));
  const std::string repository = image.substr(0, image.rfind(':'));
  ASSERT_TRUE(wait_until("the controller listing the image wait asked for", 30s, [&] {
    return run_command("curl -sf -H 'Authorization: Bearer " + token + "' " + controller_url() +
                       "/v1/images")
               .output.find(repository) != std::string::npos;
  })) << read_text(dir_ + "/wait-restart.log");
  controller_.kill();  // returns once the process is gone
  start();             // a controller that never heard of the request, and the agents
  const int status = waiting.wait_exit(60s);
  EXPECT_EQ(status, 0) << read_text(dir_ + "/wait-restart.log");
  EXPECT_TRUE(engines_.present_on(1, pinned(image)));
}

}  // namespace
}  // namespace swarm_prepull::testing
