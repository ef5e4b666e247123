// --controller and --token-file, as the commands that ask the controller
// (wait, status) take them: one spelling, one default, one way to fail.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/controller_client.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace swarm_prepull::cli {

std::vector<OptionSpec> controller_option_specs();

// The client's options from --controller and --token-file; nullopt after
// printing why to io.err ("swarm-prepull COMMAND: ...") with the exit status
// in `status`: a bad URL is a usage error, an unreadable token file input.
std::optional<api::ControllerClientOptions> controller_client_options(const ParsedOptions& options,
                                                                      const CommandIo& io,
                                                                      std::string_view command,
                                                                      std::string_view usage,
                                                                      int& status);

}  // namespace swarm_prepull::cli
