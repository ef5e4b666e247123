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
    io.out
        << "Usage: swarm-prepull images [-f FILE...] [--project-directory DIR]\n"
           "                            [--env-file FILE] [--profile NAME...]\n\n"
           "Prints the images a Compose project would run, one per line, as\n"
           "`docker compose config --images` finds them. Needs no Docker engine.\n\n"
           "The project directory is --project-directory, else the first -f file's, else the\n"
           "current one. Variables come from the environment, then from --env-file, else from\n"
           "the project directory's .env. The files are the -f files, else COMPOSE_FILE (split\n"
           "on COMPOSE_PATH_SEPARATOR, default ':'), else the first of compose.yaml, compose.yml,\n"
           "docker-compose.yml, docker-compose.yaml in the project directory or above it, with\n"
           "its override file (compose.override.yml, ...) merged. Services with profiles: count\n"
           "when one is active (--profile, else COMPOSE_PROFILES); extends and include are\n"
           "followed; a service with only build: gives no image (a warning says so).\n"
           "See docs/compose.md.\n\n"
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
