#include "compose/stack_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "reconcile/reference.h"

namespace swarm_prepull::compose {

reconcile::Expected<std::string> read_text_file(const std::string& path, std::size_t limit) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return reconcile::Error{path + ": " + std::strerror(errno)};
  std::string content;
  char buffer[64 * 1024];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    content.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (content.size() > limit) {
      return reconcile::Error{path + ": larger than " + std::to_string(limit) + " bytes"};
    }
  }
  if (file.bad()) return reconcile::Error{path + ": read error"};
  return content;
}

reconcile::Expected<StackImages> read_stack_images(const StackFiles& stack,
                                                   const Lookup& environment) {
  if (stack.files.empty()) return reconcile::Error{"no stack file: give -f FILE"};

  std::map<std::string, std::string> env_file;
  if (!stack.env_file.empty()) {
    auto text = read_text_file(stack.env_file, stack_file_limit);
    if (!text) return text.error();
    auto parsed = parse_env_file(*text, environment);
    if (!parsed) return reconcile::Error{stack.env_file + ": " + parsed.error().message};
    env_file = std::move(*parsed);
  }
  const Lookup lookup = [&](const std::string& name) -> std::optional<std::string> {
    if (auto value = environment(name)) return value;
    if (auto found = env_file.find(name); found != env_file.end()) return found->second;
    return std::nullopt;
  };

  std::vector<SourceFile> files;
  for (const auto& path : stack.files) {
    auto text = read_text_file(path, stack_file_limit);
    if (!text) return text.error();
    files.push_back({path, std::move(*text)});
  }
  auto images = stack_images(files, lookup);
  if (!images) return images.error();
  for (const auto& service : images->services) {
    if (auto reference = reconcile::parse_reference(service.image); !reference) {
      return reconcile::Error{service.file + ":" + std::to_string(service.line) + ": services." +
                              service.service + ".image: " + reference.error().message};
    }
  }
  return images;
}

}  // namespace swarm_prepull::compose
