// The faults a swarm meets (issue 17), each on the real sandbox swarm with a
// controller and one agent per node as processes: a fault starts while a
// newly wanted image (one no node holds) is being pre-pulled, ends, and the
// test waits until the image is on every node it is wanted on, the controller
// lists it there with no failure left, and every process still runs: nothing
// lost, nothing stuck. Each prints its figure, the time to converge after the
// fault ended; docs/faults.md records them. Faults done to the sandbox are
// undone by a guard (tests/integration/faults.h) whatever the test's outcome.
#include "tests/integration/faults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/process_swarm.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

// Long enough for the agents' backoff to grow and for swarm to mark a
// partitioned node down (the figure: 30 s).
constexpr auto outage = 30s;
// Generous: convergence after a fault is a figure, not an assertion.
constexpr auto converge_limit = 120s;

// Holds a process stopped (SIGSTOP) until it goes out of scope (SIGCONT),
// whatever the test's outcome.
class Paused {
 public:
  explicit Paused(const Process& process) : pid_(process.pid) { ::kill(pid_, SIGSTOP); }
  Paused(const Paused&) = delete;
  Paused& operator=(const Paused&) = delete;
  ~Paused() { resume(); }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

class FaultTest : public ProcessSwarmTest {
 protected:
  void SetUp() override { set_up("fault-test"); }

  // The controller, then one agent per node with the token, except
  // `wrong_token_node` (when set) whose agent gets `wrong_token_file`.
  void start_all(std::size_t wrong_token_node = SIZE_MAX,
                 const std::string& wrong_token_file = "") {
    start_controller();
    for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
      agents_.push_back(start_agent(node, node == wrong_token_node ? wrong_token_file : token_file_,
                                    static_cast<int>(node) + 1));
    }
    ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  }

  // The controller's listing of the image pinned as `ref` (matched by its
  // digest, whatever tag it carries; by the whole ref when it has none); null
  // when it does not list it.
  nlohmann::json listed(const std::string& ref) const {
    const auto at = ref.find('@');
    const std::string digest = at == std::string::npos ? ref : ref.substr(at);
    const auto images = controller_images();
    if (images.contains("images")) {
      for (const auto& image : images["images"]) {
        if (image.value("ref", "").find(digest) != std::string::npos) return image;
      }
    }
    return nullptr;
  }

  bool present_on(const std::vector<std::size_t>& nodes, const std::string& ref) const {
    for (const auto node : nodes) {
      if (!engines_.present_on(node, ref)) return false;
    }
    return true;
  }

  // The controller wants `ref` on every node: the fault hits an image that
  // is wanted.
  ::testing::AssertionResult wanted_everywhere(const std::string& ref) const {
    return wait_until("the controller wanting " + ref + " on every node", 60s, [&] {
      const auto image = listed(ref);
      return !image.is_null() && image.value("nodes_desired", 0u) == box_->nodes.size();
    });
  }

  // What a fault looked like, for docs/faults.md: printed, not asserted.
  static void note(const std::string& what, const nlohmann::json& value) {
    std::printf("[ note     ] %s: %s\n", what.c_str(), value.dump().c_str());
    std::fflush(stdout);
  }

  std::string logs() const {
    std::string text = "--- controller:\n" + read_text(controller_.log);
    for (const auto& agent : agents_) text += "--- " + agent.log + ":\n" + read_text(agent.log);
    return text;
  }

  // The end of every fault: `ref` on every node, the controller listing it
  // present on all of them with no failure left, every process alive. Prints
  // the seconds from `since` (the end of the fault) to the image on every node.
  void expect_converged(const std::string& ref, ProcessClock::time_point since,
                        const std::string& fault, const std::string& after) {
    ASSERT_TRUE(wait_until(ref + " on every node after the fault", converge_limit,
                           [&] { return engines_.present_everywhere(ref); }))
        << controller_images().dump() << "\n"
        << logs();
    const double seconds = seconds_since(since);
    std::printf("[ figures  ] fault: %s: converged %.1f s after %s\n", fault.c_str(), seconds,
                after.c_str());
    std::fflush(stdout);
    nlohmann::json image;
    EXPECT_TRUE(wait_until("the controller listing " + ref + " present on every node", 60s, [&] {
      image = listed(ref);
      return !image.is_null() && image.value("nodes_present", 0u) == box_->nodes.size() &&
             image.value("nodes_desired", 0u) == box_->nodes.size() && image["failures"].empty();
    })) << image.dump();
    EXPECT_TRUE(controller_.alive()) << read_text(controller_.log);
    for (const auto& agent : agents_) EXPECT_TRUE(agent.alive()) << read_text(agent.log);
  }
};

// Agents back off on `network` failures while the registry is away; the
// figure is how long after it answers again the image is everywhere (21-24 s
// while nothing cut the backoff short; under a second once the controller,
// seeing the registry answer, tells the agents to retry).
TEST_F(FaultTest, RegistryStopped30s) {
  start_all();
  const std::string image = fresh_image();
  const std::string pinned_ref = pinned(image);  // while the registry answers
  SandboxFault fault("stop-registry", "start-registry");
  ASSERT_TRUE(fault.started());
  // Pinned already: swarm stores it as given (the client warns that it cannot
  // reach the registry to record a digest).
  const std::string ref = service_ref(create_service("registry", pinned_ref));
  ASSERT_TRUE(wanted_everywhere(ref)) << controller_images().dump();
  ASSERT_TRUE(wait_until("an agent reporting the pull failed", 60s, [&] {
    const auto listing = listed(ref);
    return !listing.is_null() && !listing["failures"].empty();
  })) << controller_images().dump();
  // The fault itself: the registry away for 30 s.
  std::this_thread::sleep_until(fault.started_at() + outage);
  note("failures listed as the registry comes back", listed(ref)["failures"]);
  ASSERT_TRUE(fault.end());
  expect_converged(ref, fault.ended_at(), "registry stopped 30 s", "it came back");
}

// The agent of the stopped node keeps running against a socket that does not
// answer, and pulls once its engine is back.
TEST_F(FaultTest, WorkerDockerdStoppedAndRestarted) {
  start_all();
  const std::string image = fresh_image();
  SandboxFault fault("kill-node 3", "start-node 3");
  ASSERT_TRUE(fault.started());
  const std::string ref = service_ref(create_service("dockerd", image));
  ASSERT_TRUE(wait_until(ref + " on node-1 and node-2 while node-3's dockerd is down",
                         converge_limit,
                         [&] {
                           return present_on({0, 1}, ref);
                         }))
      << logs();
  ASSERT_TRUE(fault.end());
  expect_converged(ref, fault.ended_at(), "worker dockerd stopped and restarted",
                   "it was Ready again");
}

// The controller keeps nothing the swarm and the agents' next reports do not
// give back: killed in the middle of a rollout (two nodes hold the image, the
// third's agent is held stopped so that it cannot have it yet) and started
// again, it finishes the rollout.
TEST_F(FaultTest, ControllerKilledDuringARollout) {
  start_all();
  const std::string image = fresh_image();
  Paused third(agents_[2]);
  const std::string ref = service_ref(create_service("controller", image));
  ASSERT_TRUE(wait_until(ref + " on node-1 and node-2", converge_limit, [&] {
    return present_on({0, 1}, ref);
  })) << logs();
  ASSERT_FALSE(engines_.present_on(2, ref)) << "node-3's agent is stopped: nothing pulled it";
  controller_.kill();  // SIGKILL, returns once the process is gone
  third.resume();
  start_controller();
  const auto restarted = ProcessClock::now();
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  expect_converged(ref, restarted, "controller killed (SIGKILL) during a rollout",
                   "it was started again");
}

// A worker cut off from the bridge (registry and managers) for 30 s: swarm
// marks it down meanwhile; once its link is up it registers again and gets
// the image. Its agent (on the host) still talks to the controller.
TEST_F(FaultTest, WorkerPartitioned30s) {
  start_all();
  const std::string image = fresh_image();
  SandboxFault fault("partition-node 3", "heal-node 3");
  ASSERT_TRUE(fault.started());
  const std::string ref = service_ref(create_service("partition", image));
  ASSERT_TRUE(wait_until(ref + " on node-1 and node-2 while node-3 is cut off", converge_limit,
                         [&] {
                           return present_on({0, 1}, ref);
                         }))
      << logs();
  EXPECT_FALSE(engines_.present_on(2, ref)) << "node-3 reached the registry while cut off";
  // The fault itself: the link down for 30 s.
  std::this_thread::sleep_until(fault.started_at() + outage);
  note("the controller's listing as the link comes back", listed(ref));
  ASSERT_TRUE(fault.end());
  expect_converged(ref, fault.ended_at(), "worker partitioned 30 s", "its link came back");
}

// An agent with a wrong token is refused: its log says so, the controller
// does not count it connected and lists its node as not reported; the other
// nodes get the image. Given the right token, it catches up.
TEST_F(FaultTest, AgentWithAWrongToken) {
  const std::string wrong = dir_ + "/wrong-token";
  std::ofstream(wrong) << "not-the-token\n";
  start_all(/*wrong_token_node=*/2, wrong);
  const std::string image = fresh_image();
  const std::string ref = service_ref(create_service("token", image));
  ASSERT_TRUE(wait_until(ref + " on node-1 and node-2", converge_limit, [&] {
    return present_on({0, 1}, ref);
  })) << logs();
  EXPECT_TRUE(wait_until("node-3's agent logging that the controller refused it", 30s, [&] {
    return read_text(agents_[2].log).find("HTTP 401") != std::string::npos;
  })) << read_text(agents_[2].log);
  EXPECT_FALSE(engines_.present_on(2, ref));

  // The controller: two agents connected, node-3 listed as not reported.
  const std::string controller_metrics =
      run_command("curl -sf " + controller_url() + "/metrics").output;
  EXPECT_EQ(counter_value(controller_metrics, "swarm_prepull_agents{state=\"connected\"}"), 2)
      << controller_metrics;
  const auto listing = listed(ref);
  ASSERT_FALSE(listing.is_null()) << controller_images().dump();
  bool third_unknown = false;
  for (const auto& node : listing["nodes"]) {
    if (node.value("hostname", "") != box_->nodes[2].name) continue;
    third_unknown =
        !node.contains("state") || node["state"].is_null() || node["state"] == "unknown";
  }
  EXPECT_TRUE(third_unknown) << listing.dump();

  // The agent itself says it is not in contact, where it has the metric
  // (swarm_prepull_controller_up is being added; absent before that).
  const std::string agent_metrics = metrics_of(2);
  if (agent_metrics.find("swarm_prepull_controller_up") != std::string::npos) {
    EXPECT_EQ(counter_value(agent_metrics, "swarm_prepull_controller_up"), 0) << agent_metrics;
  } else {
    note("the agent has no swarm_prepull_controller_up yet", "not checked");
  }
  EXPECT_TRUE(agents_[2].alive());

  // The fault ends: the same node's agent with the right token.
  agents_[2].stop();
  agents_[2] = start_agent(2, token_file_, 4);
  const auto fixed = ProcessClock::now();
  expect_converged(ref, fixed, "agent with a wrong token", "it got the right token");
}

// One node's engine on a 200 MiB data root: a 240 MiB image cannot fit.
// With disk admission off, its agent reports `failed` with reason
// `disk_full` and nothing crashes;
// once the big image is no longer wanted and a small one is, the small one
// arrives everywhere, the small-disk node included.
TEST_F(FaultTest, DiskFullOnOneNode) {
  SandboxFault fault("small-disk 3 200", "normal-disk 3");
  ASSERT_TRUE(fault.started());
  // Disk admission off on node-3 (--min-free-disk 0), so that the engine
  // itself runs out of space and the agent classifies its real message.
  start_controller();
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    std::vector<std::string> extra;
    if (node == 2) {
      extra = {"--data-root", box_->dir + "/" + box_->nodes[2].name + "/data", "--min-free-disk",
               "0"};
    }
    agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1, extra));
  }
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  const std::string big_image = fresh_image(240);
  const std::string big_service = create_service("big", big_image);
  const std::string big = service_ref(big_service);
  ASSERT_TRUE(wait_until(big + " on node-1 and node-2", converge_limit, [&] {
    return present_on({0, 1}, big);
  })) << logs();
  nlohmann::json failure;
  EXPECT_TRUE(wait_until("node-3's agent reporting " + big + " failed: disk_full", converge_limit,
                         [&] {
                           const auto listing = listed(big);
                           if (listing.is_null()) return false;
                           for (const auto& item : listing["failures"]) {
                             if (item.value("hostname", "") == box_->nodes[2].name) failure = item;
                           }
                           return failure.is_object() && failure.value("reason", "") == "disk_full";
                         }))
      << controller_images().dump() << "\n"
      << read_text(agents_[2].log);
  EXPECT_FALSE(engines_.present_on(2, big));
  note("node-3's failure", failure);
  EXPECT_GT(counter_value(metrics_of(2), "swarm_prepull_pull_failures_total{reason=\"disk_full\"}"),
            0)
      << metrics_of(2);
  // Nothing crashed: the processes run and node-3's engine answers.
  EXPECT_TRUE(controller_.alive());
  for (const auto& agent : agents_) EXPECT_TRUE(agent.alive()) << read_text(agent.log);
  EXPECT_TRUE(engine::run_blocking(engines_[2].images())) << "node-3's engine does not answer";

  // The fault ends: the big image is no longer wanted, a small one is.
  const std::string small_image = fresh_image(8);
  const auto removed = run_command(docker(manager().docker_host, "service rm " + big_service));
  ASSERT_EQ(removed.status, 0) << removed.output;
  const auto unwanted = ProcessClock::now();
  const std::string small = service_ref(create_service("small", small_image));
  expect_converged(small, unwanted, "disk full on one node (240 MiB image, 200 MiB disk)",
                   "the big image was no longer wanted");
}

}  // namespace
}  // namespace swarm_prepull::testing
