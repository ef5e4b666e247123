#include <algorithm>
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
    {"controller", "publish every node's desired images to the agents (on a manager)", run_controller},
    {"agent", "keep this node's engine warm with the images the controller names", run_agent},
    {"images", "print the images a Compose / stack file set would run (no engine needed)",
     run_images},
    {"wait", "warm images on their nodes and wait until they are present (before a deploy)",
     run_wait},
};

void print_help(std::ostream& out) {
  std::size_t width = 0;
  for (const auto& command : subcommands) width = std::max(width, command.name.size());
  out << "swarm-prepull: pre-pulls the images of a Docker Swarm's services on every node\n\n"
         "Usage: swarm-prepull COMMAND [OPTIONS]\n\nCommands:\n";
  for (const auto& command : subcommands) {
    out << "  " << command.name << std::string(width + 2 - command.name.size(), ' ')
        << command.summary << "\n";
  }
  out << "\nOptions:\n  -h, --help     show help (also after a command)\n"
         "  --version      print the version\n\n"
         "Every option is also read from an environment variable SWARM_PREPULL_<OPTION>\n"
         "(upper case, '-' as '_'); a flag wins over the variable.\n";
}

}  // namespace

int run_main(const std::vector<std::string>& args, const CommandIo& io) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    print_help(io.out);
    return args.empty() ? exit_usage : exit_ok;
  }
  if (args[0] == "--version" || args[0] == "version") {
    io.out << "swarm-prepull " << SWARM_PREPULL_VERSION << "\n";
    return exit_ok;
  }
  for (const auto& command : subcommands) {
    if (command.name == args[0]) {
      return command.run(std::vector<std::string>(args.begin() + 1, args.end()), io);
    }
  }
  io.err << "swarm-prepull: unknown command '" << args[0] << "' (see swarm-prepull --help)\n";
  return exit_usage;
}

}  // namespace swarm_prepull::cli
