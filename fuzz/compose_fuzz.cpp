// Compose / stack files and .env files are written by people and read by the
// CLI before a deploy: any bytes must give images or an error that names
// where. The first byte picks the reader: variable interpolation, a .env file
// (compose-go's dotenv format, expanding from the same environment), or a
// Compose project (the rest split at NUL bytes into files: the first two are
// the project's, read in order, and every one can be reached by `include` and
// `extends.file` as /p/stack1.yml, /p/stack2.yml, ...; a fixed environment so
// ${VAR}, defaults and ${VAR:?} all occur; profile "a" active).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compose/compose.h"
#include "compose/project.h"
#include "reconcile/reference.h"

namespace {

namespace compose = swarm_prepull::compose;

std::optional<std::string> lookup(const std::string& name) {
  static const std::map<std::string, std::string> environment = {
      {"TAG", "1.2"}, {"REGISTRY", "registry.example:5000"}, {"EMPTY", ""}, {"DOLLAR", "$X"}};
  const auto found = environment.find(name);
  if (found == environment.end()) return std::nullopt;
  return found->second;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const auto value = compose::interpolate(text, &lookup);
      if (!value && value.error().message.empty()) std::abort();
      break;
    }
    case 1: {
      const auto variables = compose::parse_env_file(text, &lookup);
      if (!variables && variables.error().message.empty()) std::abort();
      break;
    }
    default: {
      // As compose::read_stack_images does, minus the disk: the first part is
      // the env file, the others the files; the environment wins over the env
      // file, and every image must be a valid reference.
      std::vector<std::string_view> parts;
      std::size_t start = 0;
      while (start <= text.size() && parts.size() < 6) {
        const auto end = std::min(text.find('\0', start), text.size());
        parts.push_back(text.substr(start, end - start));
        start = end + 1;
      }
      const auto env_file = compose::parse_env_file(parts.front(), &lookup);
      if (!env_file) break;
      const compose::Lookup combined = [&](const std::string& name) -> std::optional<std::string> {
        if (auto value = lookup(name)) return value;
        if (auto found = env_file->find(name); found != env_file->end()) return found->second;
        return std::nullopt;
      };
      std::map<std::string, std::string> disk;
      for (std::size_t i = 1; i < parts.size(); ++i) {
        disk["/p/stack" + std::to_string(i) + ".yml"] = std::string(parts[i]);
      }
      if (disk.empty()) break;
      compose::Project project{
          .directory = "/p",
          .lookup = combined,
          .profiles = {"a"},
          .access = {.read = [&](const std::string& path)
                         -> swarm_prepull::reconcile::Expected<std::string> {
                       auto found = disk.find(path);
                       if (found == disk.end())
                         return swarm_prepull::reconcile::Error{path + ": none"};
                       return found->second;
                     },
                     .is_file = [&](const std::string& path) { return disk.count(path) > 0; }}};
      for (const auto& [path, content] : disk) {
        if (project.files.size() < 2) project.files.push_back({path, content});
      }
      const auto images = compose::project_images(project);
      if (!images) {
        if (images.error().message.empty()) std::abort();
        break;
      }
      for (const auto& service : images->services) {
        const auto reference = swarm_prepull::reconcile::parse_reference(service.image);
        if (!reference && reference.error().message.empty()) std::abort();
      }
      break;
    }
  }
  return 0;
}
