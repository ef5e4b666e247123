// The images a set of Compose / stack files would run (-f FILE..., --env-file
// FILE), shared by `swarm-prepull images` and `swarm-prepull wait`.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/compose.h"
#include "cli/options.h"
#include "reconcile/expected.h"

namespace swarm_prepull::cli {

inline constexpr std::size_t compose_file_limit = 4 * 1024 * 1024;

// -f FILE (repeatable) and --env-file FILE.
std::vector<OptionSpec> stack_file_option_specs();

// Reads every -f file with --env-file and the process environment (which wins)
// for interpolation; warnings go to io.err. Errors name the file and line; an
// image that is not a valid reference is one.
reconcile::Expected<std::vector<compose::ServiceImage>> read_stack_images(
    const ParsedOptions& options, const CommandIo& io);

}  // namespace swarm_prepull::cli
