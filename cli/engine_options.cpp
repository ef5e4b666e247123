#include "cli/engine_options.h"

#include <map>
#include <mutex>

#include "compose/stack_files.h"

namespace swarm_prepull::cli {

std::vector<OptionSpec> engine_option_specs() {
  return {
      {.name = "host",
       .value_name = "URL",
       .help = "engine to talk to: unix:///path or tcp://host:port (default: $DOCKER_HOST, else "
               "unix:///var/run/docker.sock; TLS from DOCKER_TLS_VERIFY/DOCKER_CERT_PATH)"},
      {.name = "engine-timeout",
       .value_name = "SECONDS",
       .help = "bound on each engine request",
       .default_value = "30"},
  };
}

reconcile::Expected<std::unique_ptr<engine::Client>> make_engine_client(
    const ParsedOptions& options, EnvironmentLookup environment) {
  // endpoint_from_environment wants getenv's shape; keep the looked-up strings
  // alive for the duration of the call.
  std::map<std::string, std::optional<std::string>> seen;
  const engine::GetEnv getenv = [&](const char* name) -> const char* {
    auto [entry, inserted] = seen.try_emplace(name);
    if (inserted) entry->second = environment(name);
    return entry->second ? entry->second->c_str() : nullptr;
  };
  const std::string host = options.get("host");
  auto endpoint = engine::endpoint_from_environment(
      getenv, host.empty() ? std::nullopt : std::optional<std::string_view>(host));
  if (!endpoint) return reconcile::Error{endpoint.error().to_string()};

  engine::ClientOptions client_options;
  client_options.endpoint = std::move(endpoint).value();
  int seconds = 0;
  try {
    seconds = std::stoi(options.get("engine-timeout"));
  } catch (const std::exception&) {
    seconds = 0;
  }
  if (seconds <= 0) {
    return reconcile::Error{"--engine-timeout: expected a positive number of seconds, got '" +
                            options.get("engine-timeout") + "'"};
  }
  client_options.request_timeout = std::chrono::seconds(seconds);
  try {
    return std::make_unique<engine::Client>(std::move(client_options));
  } catch (const std::exception& error) {
    return reconcile::Error{error.what()};
  }
}

reconcile::Expected<std::string> read_token_file(const std::string& path) {
  constexpr std::size_t token_limit = 64 * 1024;
  auto text = compose::read_text_file(path, token_limit);
  if (!text) return reconcile::Error{"--token-file: " + text.error().message};
  const auto space = " \t\r\n";
  const auto first = text->find_first_not_of(space);
  if (first == std::string::npos) return reconcile::Error{"--token-file: " + path + " is empty"};
  return text->substr(first, text->find_last_not_of(space) - first + 1);
}

}  // namespace swarm_prepull::cli
