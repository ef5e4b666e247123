// -f FILE... and --env-file FILE for the commands that read a stack
// (`images`, `wait`): option wiring and warnings only; the reading is
// compose/stack_files.h.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "compose/stack_files.h"
#include "reconcile/expected.h"

namespace swarm_prepull::cli {

// -f FILE (repeatable) and --env-file FILE.
std::vector<OptionSpec> stack_file_option_specs();

// Reads the stack named by the options, with io.environment for
// interpolation; warnings go to io.err.
reconcile::Expected<std::vector<compose::ServiceImage>> read_stack_images(
    const ParsedOptions& options, const CommandIo& io);

}  // namespace swarm_prepull::cli
