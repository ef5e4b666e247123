#include "cli/stack_files.h"

#include <ostream>

namespace swarm_prepull::cli {

std::vector<OptionSpec> stack_file_option_specs() {
  return {
      {.name = "f",
       .value_name = "FILE",
       .help = "a Compose / stack file; repeat it to override service by service (default: "
               "COMPOSE_FILE, else compose.yaml, compose.yml, docker-compose.yml or "
               "docker-compose.yaml in the project directory or above, with its override file)",
       .repeatable = true},
      {.name = "project-directory",
       .value_name = "DIR",
       .help = "the Compose project's directory, holding its .env and default files (default: "
               "the first -f file's directory, else the current one)"},
      {.name = "profile",
       .value_name = "NAME",
       .help = "activate services with this profile; repeat it for several, '*' for all "
               "(default: COMPOSE_PROFILES, comma-separated)",
       .repeatable = true},
      {.name = "env-file",
       .value_name = "FILE",
       .help = "an env file in compose's dotenv format (docs/compose.md) for interpolation, "
               "instead of the project directory's .env; the process environment wins over it"},
  };
}

bool stack_requested(const ParsedOptions& options) {
  return !options.all("f").empty() || !options.get("project-directory").empty() ||
         !options.all("profile").empty();
}

reconcile::Expected<std::vector<compose::ServiceImage>> read_stack_images(
    const ParsedOptions& options, const CommandIo& io) {
  auto stack =
      compose::read_stack_images({.files = options.all("f"),
                                  .env_file = options.get("env-file"),
                                  .project_directory = options.get("project-directory"),
                                  .profiles = options.all("profile")},
                                 [&](const std::string& name) { return io.environment(name); });
  if (!stack) return stack.error();
  for (const auto& warning : stack->warnings) {
    io.err << "swarm-prepull: warning: " << warning << "\n";
  }
  return std::move(stack->services);
}

}  // namespace swarm_prepull::cli
