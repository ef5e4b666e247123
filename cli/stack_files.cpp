#include "cli/stack_files.h"

#include <ostream>

namespace swarm_prepull::cli {

std::vector<OptionSpec> stack_file_option_specs() {
  return {
      {.name = "f",
       .value_name = "FILE",
       .help = "a Compose / stack file; repeat it to override service by service",
       .repeatable = true},
      {.name = "env-file",
       .value_name = "FILE",
       .help = "a .env file in compose's dotenv format (docs/compose.md) for interpolation; the "
               "process environment wins over it"},
  };
}

reconcile::Expected<std::vector<compose::ServiceImage>> read_stack_images(
    const ParsedOptions& options, const CommandIo& io) {
  auto stack =
      compose::read_stack_images({options.all("f"), options.get("env-file")},
                                 [&](const std::string& name) { return io.environment(name); });
  if (!stack) return stack.error();
  for (const auto& warning : stack->warnings) {
    io.err << "swarm-prepull: warning: " << warning << "\n";
  }
  return std::move(stack->services);
}

}  // namespace swarm_prepull::cli
