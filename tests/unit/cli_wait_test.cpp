// `swarm-prepull wait` before it reaches the controller: an image ID (which
// swarm never pulls) is not something to wait for, as the plan never gives
// it to a node.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace swarm_prepull::cli {
namespace {

struct Output {
  int status;
  std::string out;
  std::string err;
};

class CliWait : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "cli-wait-" + std::to_string(::getpid());
    std::ofstream(dir_ + "-token") << "token\n";
  }

  Output wait(std::vector<std::string> args) {
    // Port 1 on loopback: nothing listens, so a request fails at once.
    args.insert(args.begin(), {"wait", "--controller", "http://127.0.0.1:1", "--token-file",
                               dir_ + "-token", "--timeout", "2s"});
    std::ostringstream out;
    std::ostringstream err;
    const int status = run_main(args, CommandIo{out, err});
    return {status, out.str(), err.str()};
  }

  std::string write_stack(const std::string& text) {
    const std::string path = dir_ + "-stack.yml";
    std::ofstream(path) << text;
    return path;
  }

  const std::string image_id = "sha256:" + std::string(64, 'a');
  std::string dir_;
};

TEST_F(CliWait, AnImageIdArgumentIsAUsageError) {
  const auto result = wait({image_id});
  EXPECT_EQ(result.status, exit_usage);
  EXPECT_NE(result.err.find("image '" + image_id + "': an image ID, which swarm never pulls"),
            std::string::npos)
      << result.err;
}

TEST_F(CliWait, AnImageIdInAStackFileIsSkippedWithItsPlace) {
  const auto stack =
      write_stack("services:\n  by-id:\n    image: " + image_id + "\n  web:\n    image: redis:7\n");
  const auto result = wait({"-f", stack});
  // redis:7 is asked for (and the controller is unreachable); the ID is not.
  EXPECT_NE(result.err.find(stack + ":3: service 'by-id': " + image_id +
                            " is an image ID, which swarm never pulls"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("not waited for"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("unreachable"), std::string::npos) << result.err;
}

TEST_F(CliWait, AStackOfImageIdsOnlyHasNothingToWaitFor) {
  const auto stack = write_stack("services:\n  by-id:\n    image: " + image_id + "\n");
  const auto result = wait({"-f", stack});
  EXPECT_EQ(result.status, exit_usage);
  EXPECT_NE(result.err.find("no image"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace swarm_prepull::cli
