// A fixture for tests that run swarm-prepull as processes on the sandbox: a
// controller on loopback and agents bound to each node's own engine socket,
// with a folder of their own for logs and the token, stopped by pid and
// cleaned up (with the images the test pulled) at the end.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/node_engines.h"
#include "tests/integration/processes.h"
#include "tests/integration/sandbox.h"
#include "tests/integration/waiting.h"

namespace swarm_prepull::testing {

using namespace std::chrono_literals;

class ProcessSwarmTest : public ::testing::Test {
 protected:
  // `name` names the folder and the token. Call from SetUp.
  void set_up(const std::string& name) {
    box_ = sandbox();
    if (box_ == nullptr) GTEST_FAIL() << "no sandbox: run scripts/sandbox up";
    ASSERT_GE(box_->nodes.size(), 3u);
    ASSERT_GE(box_->images.size(), 6u);
    dir_ = "/tmp/swarm-prepull-" + name + "-" + std::to_string(::getpid());
    run_command("rm -rf " + dir_ + " && mkdir -p " + dir_);
    token_file_ = dir_ + "/token";
    std::ofstream(token_file_) << name << "-token-" << ::getpid() << "\n";
    // Agents are told the controller's address before it may run, and it
    // must come back on the same one after a restart: a port the kernel gave.
    controller_port_ = free_port();
    engines_ = NodeEngines(*box_);
    node_ids_ = engines_.node_ids();
  }

  void TearDown() override {
    for (auto& process : agents_) process.stop();
    controller_.stop();
    for (const auto& ref : pulled_) engines_.remove_everywhere(ref);
    if (!HasFailure()) run_command("rm -rf " + dir_);
  }

  const SandboxNode& manager() const { return box_->nodes[0]; }
  std::string controller_url() const {
    return "http://127.0.0.1:" + std::to_string(controller_port_);
  }

  void start_controller() {
    controller_ = Process::start(
        {"controller", "--listen", "127.0.0.1:" + std::to_string(controller_port_), "--token-file",
         token_file_, "--host", manager().docker_host, "--resync-interval", "5s",
         // The agents here are processes on the host, not swarm tasks.
         "--report-binding", "none"},
        dir_ + "/controller.log");
  }

  // The controller answering /healthz (within a generous deadline).
  ::testing::AssertionResult controller_healthy() const {
    return wait_until("the controller answering " + controller_url() + "/healthz", 30s, [&] {
      return run_command("curl -sf " + controller_url() + "/healthz").status == 0;
    });
  }

  // The agent of box_->nodes[node], serving metrics on a port of its choice
  // (Process::port tells it), logging to agent-<index>.log; no --token-file
  // when `token_file` is empty.
  Process start_agent(std::size_t node, const std::string& token_file, int index) {
    std::vector<std::string> args = {"agent",
                                     "--node-id",
                                     node_ids_[node],
                                     "--controller",
                                     controller_url(),
                                     "--host",
                                     box_->nodes[node].docker_host,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--check-interval",
                                     "2s",
                                     "--poll-wait",
                                     "10",
                                     "--log-format",
                                     "json"};
    if (!token_file.empty()) {
      args.push_back("--token-file");
      args.push_back(token_file);
    }
    return Process::start(args, dir_ + "/agent-" + std::to_string(index) + ".log");
  }

  const Sandbox* box_ = nullptr;
  std::string dir_, token_file_;
  int controller_port_ = 0;
  std::vector<std::string> node_ids_;
  NodeEngines engines_;
  std::vector<std::string> pulled_;  // removed from every node at the end
  Process controller_;
  std::vector<Process> agents_;
};

}  // namespace swarm_prepull::testing
