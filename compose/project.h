// A Compose project's services as compose-go's loader builds them, reduced to
// what decides the images a deploy pulls: `image`, `build`, `profiles`,
// `extends` and the top-level `include`. Files are read through FileAccess,
// so the rules need no disk (the stack reader in stack_files.h gives it one).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "compose/compose.h"
#include "reconcile/expected.h"

namespace swarm_prepull::compose {

// How a project reaches files other than its own (`include`,
// `extends.file`, an included project's .env). Empty functions: such a
// reference is an error naming it.
struct FileAccess {
  std::function<reconcile::Expected<std::string>(const std::string& path)> read{};
  std::function<bool(const std::string& path)> is_file{};
};

struct Project {
  std::vector<SourceFile> files{};      // in order: later ones override service by service
  std::string directory{};              // relative `include` and `extends.file` paths start here
  Lookup lookup{};                      // for interpolation
  std::vector<std::string> profiles{};  // the active ones; "*" activates every profile
  FileAccess access{};
};

// The images of the project's enabled services (those without `profiles`,
// or with one that is active), sorted by service. A service with `build:` and
// no image is named in a warning (it is built, not pulled), as is one with
// neither. Errors carry "file:line:column" and what is wrong: malformed YAML,
// a bad interpolation (with the variable), a non-string image.
reconcile::Expected<StackImages> project_images(const Project& project);

// COMPOSE_PROFILES: names separated by commas, blanks around them dropped.
std::vector<std::string> split_profiles(std::string_view text);

}  // namespace swarm_prepull::compose
