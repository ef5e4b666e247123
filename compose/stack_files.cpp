#include "cli/stack_files.h"

#include <map>
#include <ostream>

#include "cli/engine_options.h"
#include "reconcile/reference.h"

namespace swarm_prepull::cli {

std::vector<OptionSpec> stack_file_option_specs() {
  return {
      {.name = "f",
       .value_name = "FILE",
       .help = "a Compose / stack file; repeat it to override service by service",
       .repeatable = true},
      {.name = "env-file",
       .value_name = "FILE",
       .help = "KEY=VALUE file for interpolation; the process environment wins over it"},
  };
}

reconcile::Expected<std::vector<compose::ServiceImage>> read_stack_images(
    const ParsedOptions& options, const CommandIo& io) {
  const auto paths = options.all("f");
  if (paths.empty()) return reconcile::Error{"no stack file: give -f FILE"};

  std::map<std::string, std::string> env_file;
  if (const std::string path = options.get("env-file"); !path.empty()) {
    auto text = read_file(path, compose_file_limit);
    if (!text) return text.error();
    auto parsed = compose::parse_env_file(*text);
    if (!parsed) return reconcile::Error{path + ": " + parsed.error().message};
    env_file = std::move(*parsed);
  }
  const compose::Lookup lookup = [&](const std::string& name) -> std::optional<std::string> {
    if (auto value = io.environment(name)) return value;
    if (auto found = env_file.find(name); found != env_file.end()) return found->second;
    return std::nullopt;
  };

  std::vector<compose::SourceFile> files;
  for (const auto& path : paths) {
    auto text = read_file(path, compose_file_limit);
    if (!text) return text.error();
    files.push_back({path, std::move(*text)});
  }
  auto stack = compose::stack_images(files, lookup);
  if (!stack) return stack.error();
  for (const auto& warning : stack->warnings)
    io.err << "swarm-prepull: warning: " << warning << "\n";
  for (const auto& service : stack->services) {
    if (auto reference = reconcile::parse_reference(service.image); !reference) {
      return reconcile::Error{service.file + ":" + std::to_string(service.line) + ": services." +
                              service.service + ".image: " + reference.error().message};
    }
  }
  return std::move(stack->services);
}

}  // namespace swarm_prepull::cli
