// Registry credentials from a docker config.json (a swarm secret in
// deployment), turned into the X-Registry-Auth header of one pull, as the
// docker CLI does it (docker/cli cli/config/configfile, registry.EncodeAuthConfig).
//
// Only inline credentials are read: "auths" entries with "auth" (base64
// "user:password"), "username"/"password" or "identitytoken". Credential
// stores ("credsStore", "credHelpers") need helper binaries the agent does
// not run; a config that names them is reported once (credential_helpers_ignored).
//
// Nothing here logs, and no error message quotes a secret.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "reconcile/expected.h"

namespace spdlog {
class logger;
}

namespace swarm_prepull::engine {

// The registry host Docker Hub's entries are keyed by.
inline constexpr std::string_view docker_hub_server = "https://index.docker.io/v1/";

struct RegistryCredential {
  std::string username;
  std::string password;
  std::string identity_token;
  bool operator==(const RegistryCredential&) const = default;
};

struct RegistryAuthConfig {
  // Keyed by host as the engine names it: "docker.io" for Docker Hub,
  // "10.0.0.1:5000", "ghcr.io"; schemes and paths of the file's keys dropped.
  std::map<std::string, RegistryCredential> registries;
  bool credential_helpers_ignored = false;  // the file names credsStore or credHelpers
};

// Parses config.json. Malformed JSON or wrong types are errors naming the
// JSON path, never the value. Empty entries ({} or "auth": "") are skipped.
reconcile::Expected<RegistryAuthConfig> parse_docker_config(std::string_view json);

// "https://index.docker.io/v1/" -> "docker.io", "https://host:5000/v2/" ->
// "host:5000", "Host" -> "host"; the Docker Hub aliases (index.docker.io,
// registry-1.docker.io) -> "docker.io".
std::string registry_host(std::string_view key);

// The X-Registry-Auth value for a pull from `domain` (a Reference's domain:
// "docker.io", "127.0.0.1:5000"): base64url (with padding, as Go's
// base64.URLEncoding) of {"username","password","serveraddress"} or
// {"identitytoken","serveraddress"}; empty when the config has nothing for it.
std::string registry_auth_header(const RegistryAuthConfig& config, std::string_view domain);

// RFC 4648 §5 base64url with padding.
std::string base64url_encode(std::string_view data);

// A config.json on disk (in deployment a swarm secret's file), re-read when
// its content changes so that rotated credentials take effect without a
// restart. A file that turns unreadable or invalid keeps the last good
// credentials: a half-written secret must not log every pull out. The agent
// (pulls) and the controller (resolving tags at registries) share it.
class RegistryAuthFile {
 public:
  explicit RegistryAuthFile(std::string path) : path_(std::move(path)) {}

  // Re-reads the file. Logs each new error once (path and JSON path, never a
  // value), the hosts of credentials loaded, and credential helpers once.
  // True when new credentials took effect.
  bool reload(spdlog::logger& logger);

  const std::string& path() const { return path_; }
  const RegistryAuthConfig& config() const { return config_; }
  // Differs for each content loaded; 0 before the first.
  std::uint64_t fingerprint() const { return fingerprint_; }
  // The X-Registry-Auth value for `domain`; empty without credentials for it.
  std::string header_for(std::string_view domain) const {
    return registry_auth_header(config_, domain);
  }

 private:
  std::string path_;
  RegistryAuthConfig config_;
  std::uint64_t fingerprint_ = 0;
  std::string last_error_;  // the last one logged, so each is logged once
  bool helpers_warned_ = false;
};

}  // namespace swarm_prepull::engine
