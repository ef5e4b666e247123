// The subcommands of swarm-prepull. Each takes its arguments (after the
// subcommand's name) and streams, and returns the process exit status, so the
// tests can drive them without a process.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "cli/options.h"

namespace swarm_prepull::cli {

struct CommandIo {
  std::ostream& out;
  std::ostream& err;
  EnvironmentLookup environment = process_environment;
};

// Exit statuses shared by every subcommand.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // the work was done and found a problem
inline constexpr int exit_usage = 2;    // bad command line
inline constexpr int exit_input = 3;    // input could not be read (engine, file)

int run_plan(const std::vector<std::string>& args, const CommandIo& io);
int run_images(const std::vector<std::string>& args, const CommandIo& io);
int run_controller(const std::vector<std::string>& args, const CommandIo& io);
int run_agent(const std::vector<std::string>& args, const CommandIo& io);
int run_wait(const std::vector<std::string>& args, const CommandIo& io);  // api/gate.h
int run_status(const std::vector<std::string>& args, const CommandIo& io);

// Dispatches argv[1] to a subcommand; prints help and version.
int run_main(const std::vector<std::string>& args, const CommandIo& io);

}  // namespace swarm_prepull::cli
