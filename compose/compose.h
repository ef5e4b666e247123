// The images a Compose / stack file set would run, read the way Compose reads
// it: variables interpolated ($VAR, ${VAR:-default}, ${VAR:?error}, ...),
// later files overriding earlier ones service by service. Needs no engine:
// it is what a deploy pipeline asks before `docker stack deploy`.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"

namespace swarm_prepull::compose {

// Looks a variable up; nullopt when it is not set at all (which differs from
// set-but-empty for ${VAR-default} and ${VAR?error}).
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// Interpolates one value as compose-go's template package does: $$ is a
// literal $, names are [_A-Za-z][_A-Za-z0-9]*, defaults and alternatives may
// themselves hold ${...} and are read only when used; a $ that starts no
// expression ($5, "a $ b", a trailing $) stays as written. An unset $VAR or
// ${VAR} becomes "" and is named in `unset` (Compose warns about it). Errors:
// a malformed ${...}, nesting deeper than 64 levels, or a required variable
// (${VAR:?msg}) without a value, with msg.
reconcile::Expected<std::string> interpolate(std::string_view text, const Lookup& lookup,
                                             std::vector<std::string>* unset = nullptr);

// A .env / --env-file file as compose-go's dotenv package reads it (the
// format is described in docs/compose.md): KEY=VALUE or KEY: VALUE, an
// optional `export`, '#' comments (after an unquoted value only when a space
// precedes them), 'single-quoted' values taken literally, "double-quoted"
// values with escapes, both possibly spanning lines, $VAR and ${VAR...}
// expanded outside single quotes from `environment` first and then from
// earlier lines, a bare KEY taking its value from there. Errors say
// "line N: what".
reconcile::Expected<std::map<std::string, std::string>> parse_env_file(
    std::string_view text, const Lookup& environment = {});

struct SourceFile {
  std::string path;  // for messages
  std::string text;
};

struct ServiceImage {
  std::string service;
  std::string image;  // after interpolation, as written
  std::string file;   // where the winning image: came from
  int line = 0;       // 1-based
};

struct StackImages {
  std::vector<ServiceImage> services;  // sorted by service name
  std::vector<std::string> warnings;   // unset variables, services without an image
};

// project_images (compose/project.h) on these files alone: no profile
// active, no other file reachable (an `include` or `extends.file` is an
// error naming it). Errors carry "file:line:column".
reconcile::Expected<StackImages> stack_images(const std::vector<SourceFile>& files,
                                              const Lookup& lookup);

}  // namespace swarm_prepull::compose
