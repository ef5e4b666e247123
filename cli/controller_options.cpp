#include "cli/controller_options.h"

#include <ostream>

#include "cli/engine_options.h"

namespace swarm_prepull::cli {

std::vector<OptionSpec> controller_option_specs() {
  return {
      {.name = "controller",
       .value_name = "URL",
       .help = "the controller's API",
       .default_value = "http://127.0.0.1:7963"},
      {.name = "token-file",
       .value_name = "FILE",
       .help = "file holding the controller's bearer token"},
  };
}

std::optional<api::ControllerClientOptions> controller_client_options(const ParsedOptions& options,
                                                                      const CommandIo& io,
                                                                      std::string_view command,
                                                                      std::string_view usage,
                                                                      int& status) {
  auto url = api::parse_controller_url(options.get("controller"));
  if (!url) {
    io.err << "swarm-prepull " << command << ": --controller: " << url.error().message << "\n"
           << usage;
    status = exit_usage;
    return std::nullopt;
  }
  std::string token;
  if (const std::string path = options.get("token-file"); !path.empty()) {
    auto read = read_token_file(path);
    if (!read) {
      io.err << "swarm-prepull " << command << ": " << read.error().message << "\n";
      status = exit_input;
      return std::nullopt;
    }
    token = std::move(read).value();
  }
  return api::ControllerClientOptions{.url = std::move(*url), .token = std::move(token)};
}

}  // namespace swarm_prepull::cli
