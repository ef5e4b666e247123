#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <ostream>
#include <string_view>

#include "cli/commands.h"

namespace swarm_prepull::cli {
namespace {

struct Subcommand {
  std::string_view name;
  std::string_view summary;
  int (*run)(const std::vector<std::string>&, const CommandIo&);
};

constexpr Subcommand subcommands[] = {
    {"plan", "print the images every node should hold (a dry run of the controller)", run_plan},
    {"controller", "publish every node's desired images to the agents (on a manager)",
     run_controller},
    {"agent", "keep this node's engine warm with the images the controller names", run_agent},
    {"images", "print the images a Compose / stack file set would run (no engine needed)",
     run_images},
    {"wait", "warm images on their nodes and wait until they are present (before a deploy)",
     run_wait},
    {"status", "show which image is present on which node (the controller's view)", run_status},
    {"healthcheck", "exit 0 when this container's controller or agent answers /healthz",
     run_healthcheck},
};

// The top-level command line: the subcommands, --help and --version. Each
// subcommand takes every argument after its name (prefix_command) and parses
// them itself, so `swarm-prepull wait --help` is the command's own help.
std::unique_ptr<CLI::App> make_main_app() {
  auto app = std::make_unique<CLI::App>(
      "swarm-prepull: pre-pulls the images of a Docker Swarm's services on every node",
      "swarm-prepull");
  app->set_help_flag("-h,--help", "show help (also after a command)");
  app->add_flag("--version")->description("print the version");
  app->require_subcommand(0, 1);
  for (const auto& command : subcommands) {
    app->add_subcommand(std::string(command.name), std::string(command.summary))
        ->prefix_command()
        ->set_help_flag();
  }
  app->footer(
      "Every option is also read from an environment variable SWARM_PREPULL_<OPTION>\n"
      "(upper case, '-' as '_'); a flag wins over the variable. `swarm-prepull COMMAND --help`\n"
      "lists a command's options with their variables and defaults.");
  return app;
}

}  // namespace

int run_main(const std::vector<std::string>& args, const CommandIo& io) {
  auto app = make_main_app();
  if (args.empty() || args[0] == "help") {
    io.out << app->help();
    return args.empty() ? exit_usage : exit_ok;
  }
  if (args[0] == "version") {
    io.out << "swarm-prepull " << SWARM_PREPULL_VERSION << "\n";
    return exit_ok;
  }
  try {
    app->parse(std::vector<std::string>(args.rbegin(), args.rend()));
  } catch (const CLI::CallForHelp&) {
    io.out << app->help();
    return exit_ok;
  } catch (const CLI::ParseError& error) {
    io.err << "swarm-prepull: " << error.what() << " (see swarm-prepull --help)\n";
    return exit_usage;
  }
  for (const auto& command : subcommands) {
    if (CLI::App* chosen = app->get_subcommand(std::string(command.name)); chosen->parsed()) {
      return command.run(chosen->remaining(), io);
    }
  }
  if (app->get_option("--version")->count() > 0) {
    io.out << "swarm-prepull " << SWARM_PREPULL_VERSION << "\n";
    return exit_ok;
  }
  io.out << app->help();
  return exit_usage;
}

}  // namespace swarm_prepull::cli
