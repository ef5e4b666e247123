// Faults done to the sandbox swarm with scripts/sandbox (a registry stopped,
// a node's dockerd stopped, its link down, its disk small), each undone by
// the command that is its inverse when the test ends it or, whatever happened
// to the test (a failed assertion returns early), when the guard goes out of
// scope: the tests after it find the sandbox whole.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "tests/integration/processes.h"
#include "tests/integration/sandbox.h"

namespace swarm_prepull::testing {

// scripts/sandbox ARGS (on the sandbox the tests run against: it reads
// $SWARM_PREPULL_SANDBOX_DIR as they do), its status and output.
inline CommandResult sandbox_command(const std::string& args) {
  return run_command(std::string(SWARM_PREPULL_SOURCE_DIR) + "/scripts/sandbox " + args + " 2>&1");
}

class SandboxFault {
 public:
  // Runs `scripts/sandbox start`; `undo` is what ends the fault.
  SandboxFault(const std::string& start, std::string undo) : undo_(std::move(undo)) {
    const auto result = sandbox_command(start);
    start_status_ = result.status;
    output_ = "scripts/sandbox " + start + ":\n" + result.output;
    started_at_ = ProcessClock::now();
  }
  SandboxFault(const SandboxFault&) = delete;
  SandboxFault& operator=(const SandboxFault&) = delete;
  ~SandboxFault() {
    if (!ended_) (void)end();
  }

  ::testing::AssertionResult started() const {
    if (start_status_ == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << output_;
  }

  // Undoes the fault (once); ended_at() is when the sandbox was whole again
  // (the registry answering, the node Ready, the link up).
  ::testing::AssertionResult end() {
    if (ended_) return ::testing::AssertionSuccess();
    ended_ = true;
    const auto result = sandbox_command(undo_);
    ended_at_ = ProcessClock::now();
    if (result.status == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "scripts/sandbox " << undo_ << ":\n" << result.output;
  }

  ProcessClock::time_point started_at() const { return started_at_; }
  ProcessClock::time_point ended_at() const { return ended_at_; }

 private:
  std::string undo_, output_;
  int start_status_ = -1;
  bool ended_ = false;
  ProcessClock::time_point started_at_{}, ended_at_{};
};

}  // namespace swarm_prepull::testing
