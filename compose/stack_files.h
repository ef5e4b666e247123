// The images a Compose project would run, found and read from disk the way
// `docker compose config --images` finds them (compose-go's cli/options.go):
// a project directory and its .env, the files from -f, else COMPOSE_FILE,
// else compose.yaml & co. with their override file; later files override
// earlier ones service by service. Shared by `swarm-prepull images`,
// `swarm-prepull wait` and the tests; the command-line wiring stays in cli/.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "compose/compose.h"
#include "reconcile/expected.h"

namespace swarm_prepull::compose {

// A stack file is a few KiB; this only keeps a wrong path (a disk image, a
// device) from being read whole.
inline constexpr std::size_t stack_file_limit = 4 * 1024 * 1024;

struct StackFiles {
  std::vector<std::string> files{};     // -f FILE..., in order; empty: COMPOSE_FILE, defaults
  std::string env_file{};               // --env-file FILE; empty: the project directory's .env
  std::string project_directory{};      // empty: the first -f file's directory, else cwd
  std::vector<std::string> profiles{};  // --profile; empty: COMPOSE_PROFILES
  std::string current_directory{};      // empty: the process's own (tests give one)
};

// Where the project is and what names it, before any file is read.
struct ProjectLayout {
  std::string directory;                   // absolute
  std::vector<std::string> files;          // in order
  std::vector<std::string> env_files;      // the .env files read, in order
  std::vector<std::string> warnings;       // several default files in one directory
  std::map<std::string, std::string> env;  // from the env files (the environment wins)
};

// Finds the project as compose does: the directory, its .env (or the
// --env-file), then the files: -f, else COMPOSE_FILE (the environment first,
// then the .env) split on COMPOSE_PATH_SEPARATOR (default ':'), else the
// first of compose.yaml, compose.yml, docker-compose.yml,
// docker-compose.yaml in the directory or the nearest parent holding one,
// with the first override file (compose.override.yml, ...) beside it.
reconcile::Expected<ProjectLayout> find_project(const StackFiles& stack, const Lookup& environment);

// Reads every file of the project, interpolating with `environment` first and
// the env files second (the process environment wins, as in Compose), with
// the profiles given, else those of COMPOSE_PROFILES, active. Errors
// name the file and line: one that cannot be read, malformed YAML, a bad
// interpolation, an image that is not a valid reference. Warnings (unset
// variables, services without an image) are returned for the caller to print.
reconcile::Expected<StackImages> read_stack_images(const StackFiles& stack,
                                                   const Lookup& environment);

// The whole file, or "PATH: <reason>"; more than `limit` bytes is an error.
reconcile::Expected<std::string> read_text_file(const std::string& path, std::size_t limit);

}  // namespace swarm_prepull::compose
