// The images a set of Compose / stack files would run, read from disk the way
// `docker stack deploy -c FILE` and `docker compose -f FILE` do: files in
// order (later ones override service by service), a .env-style file and the
// process environment for interpolation. Shared by `swarm-prepull images`,
// `swarm-prepull wait` and the tests; the command-line wiring stays in cli/.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "compose/compose.h"
#include "reconcile/expected.h"

namespace swarm_prepull::compose {

// A stack file is a few KiB; this only keeps a wrong path (a disk image, a
// device) from being read whole.
inline constexpr std::size_t stack_file_limit = 4 * 1024 * 1024;

struct StackFiles {
  std::vector<std::string> files;  // -f FILE..., in order; at least one
  std::string env_file;            // --env-file FILE, empty for none
};

// Reads every file, interpolating with `environment` first and the env file
// second (the process environment wins, as in Compose). Errors name the file
// and line: one that cannot be read, malformed YAML, a bad interpolation, an
// image that is not a valid reference. Warnings (unset variables, services
// without an image) are returned for the caller to print.
reconcile::Expected<StackImages> read_stack_images(const StackFiles& stack,
                                                   const Lookup& environment);

// The whole file, or "PATH: <reason>"; more than `limit` bytes is an error.
reconcile::Expected<std::string> read_text_file(const std::string& path, std::size_t limit);

}  // namespace swarm_prepull::compose
