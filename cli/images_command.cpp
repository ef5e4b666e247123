#include <ostream>
#include <set>

#include "cli/commands.h"
#include "cli/stack_files.h"

namespace swarm_prepull::cli {
namespace {

const std::vector<OptionSpec>& images_option_specs() {
  static const std::vector<OptionSpec> specs = stack_file_option_specs();
  return specs;
}

}  // namespace

int run_images(const std::vector<std::string>& args, const CommandIo& io) {
  const auto& specs = images_option_specs();
  auto options = parse_options(specs, args, io.environment);
  if (!options) {
    io.err << "swarm-prepull images: " << options.error().message << "\n";
    return exit_usage;
  }
  if (options->help) {
    io.out << "Usage: swarm-prepull images -f FILE [-f FILE...] [--env-file FILE]\n\n"
              "Prints the images a Compose / stack file set would run, one per line, after\n"
              "variable interpolation as Compose does it. Needs no Docker engine.\n\n"
              "Options:\n"
           << format_options_help(specs);
    return exit_ok;
  }
  if (!options->positional.empty()) {
    io.err << "swarm-prepull images: unexpected argument '" << options->positional.front() << "'\n";
    return exit_usage;
  }
  auto services = read_stack_images(*options, io);
  if (!services) {
    io.err << "swarm-prepull images: " << services.error().message << "\n";
    return exit_input;
  }
  std::set<std::string> images;
  for (const auto& service : *services) images.insert(service.image);
  for (const auto& image : images) io.out << image << "\n";
  return exit_ok;
}

}  // namespace swarm_prepull::cli
