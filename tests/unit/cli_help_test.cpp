// Every command's --help is the operator's reference: it must list every
// option with the variable that also sets it, and the top-level help every
// command.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace swarm_prepull::cli {
namespace {

const std::vector<std::string> commands = {"plan", "controller", "agent", "images", "wait"};

struct Output {
  int status;
  std::string out;
  std::string err;
};

Output run(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  const int status = run_main(args, CommandIo{out, err});
  return {status, out.str(), err.str()};
}

TEST(CliHelp, TopLevelHelpListsEveryCommand) {
  const auto help = run({"--help"});
  EXPECT_EQ(help.status, exit_ok);
  for (const auto& command : commands) {
    EXPECT_NE(help.out.find("  " + command + " "), std::string::npos) << command << "\n"
                                                                      << help.out;
  }
  EXPECT_NE(help.out.find("--version"), std::string::npos);
}

TEST(CliHelp, UnknownCommandIsAUsageError) {
  const auto unknown = run({"frobnicate"});
  EXPECT_EQ(unknown.status, exit_usage);
  EXPECT_NE(unknown.err.find("frobnicate"), std::string::npos) << unknown.err;
}

TEST(CliHelp, VersionPrintsTheVersion) {
  const auto version = run({"--version"});
  EXPECT_EQ(version.status, exit_ok);
  EXPECT_EQ(version.out.rfind("swarm-prepull ", 0), 0u) << version.out;
}

// Every long option line names its SWARM_PREPULL_ variable.
TEST(CliHelp, EveryOptionNamesItsVariable) {
  for (const auto& command : commands) {
    const auto help = run({command, "--help"});
    EXPECT_EQ(help.status, exit_ok) << command;
    std::istringstream lines(help.out);
    int options = 0;
    for (std::string line; std::getline(lines, line);) {
      const auto first = line.find_first_not_of(' ');
      if (first == std::string::npos || line.compare(first, 2, "--") != 0) continue;
      if (line.find("--help") != std::string::npos) continue;
      ++options;
      EXPECT_NE(line.find("[SWARM_PREPULL_"), std::string::npos)
          << command << ": option without its variable: " << line;
    }
    EXPECT_GT(options, 0) << command << " --help lists no option:\n" << help.out;
  }
}

}  // namespace
}  // namespace swarm_prepull::cli
