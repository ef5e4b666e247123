// The subcommands of swarm-prepull. Each takes its arguments (after the
// subcommand's name) and streams, and returns the process exit status, so the
// tests can drive them without a process.
#pragma once

#include <iosfwd>
#include <optional>
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
int run_healthcheck(const std::vector<std::string>& args, const CommandIo& io);

// The server `healthcheck` probes without --url, from the container's main
// process (its arguments, as /proc/1/cmdline holds them) and the
// SWARM_PREPULL_LISTEN it was given: "http://127.0.0.1:7963" for a controller
// listening on every address. nullopt when that process is no controller or
// agent (nothing to probe); an error when its listen address is not one.
reconcile::Expected<std::optional<std::string>> healthcheck_url(
    const std::vector<std::string>& process_args, const std::optional<std::string>& listen);

// Dispatches argv[1] to a subcommand; prints help and version.
int run_main(const std::vector<std::string>& args, const CommandIo& io);

}  // namespace swarm_prepull::cli
