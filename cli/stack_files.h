// -f FILE..., --project-directory DIR, --profile NAME and --env-file FILE for the commands
// that read a Compose project (`images`, `wait`): option wiring and warnings
// only; finding and reading the project is compose/stack_files.h.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "compose/stack_files.h"
#include "reconcile/expected.h"

namespace swarm_prepull::cli {

// -f FILE (repeatable), --project-directory DIR, --profile NAME (repeatable)
// and --env-file FILE.
std::vector<OptionSpec> stack_file_option_specs();

// Whether the command line names a project (-f, --project-directory or
// --profile), for
// `wait`, whose images may come from its arguments alone.
bool stack_requested(const ParsedOptions& options);

// Reads the stack named by the options, with io.environment for
// interpolation; warnings go to io.err.
reconcile::Expected<std::vector<compose::ServiceImage>> read_stack_images(
    const ParsedOptions& options, const CommandIo& io);

}  // namespace swarm_prepull::cli
