// The options every subcommand that talks to an engine shares, and the one
// place that turns them into an engine::Client.
#pragma once

#include <memory>
#include <vector>

#include "cli/options.h"
#include "engine/client.h"

namespace swarm_prepull::cli {

// --host (else DOCKER_HOST, as the docker CLI) and --engine-timeout.
std::vector<OptionSpec> engine_option_specs();

reconcile::Expected<std::unique_ptr<engine::Client>> make_engine_client(
    const ParsedOptions& options, EnvironmentLookup environment);

// The bearer token in `path` (a swarm secret), trimmed of surrounding white
// space; an unreadable or empty file is an error naming --token-file.
reconcile::Expected<std::string> read_token_file(const std::string& path);

}  // namespace swarm_prepull::cli
