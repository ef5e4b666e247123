// Where the engine listens, from DOCKER_HOST and friends with the docker CLI's
// conventions (docker/cli opts/hosts.go, docker/docker client/options.go).
// Pure functions: the environment is passed in, so tests need no setenv.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/error.h"
#include "http/endpoint.h"

namespace swarm_prepull::engine {

inline constexpr std::string_view kDefaultUnixSocket = "/var/run/docker.sock";
inline constexpr std::uint16_t kDefaultPort = 2375;
inline constexpr std::uint16_t kDefaultTlsPort = 2376;

// Where the engine listens: the HTTP layer's endpoint (unix socket or TCP,
// with the docker CLI's client-side TLS files).
using TlsOptions = http::TlsOptions;
using Endpoint = http::Endpoint;

// The local engine: unix:///var/run/docker.sock.
Endpoint default_endpoint();

// Parses one DOCKER_HOST value: "unix:///path", "unix://" (the default
// socket), "tcp://host:port", "tcp://host" (port 2375, or 2376 when use_tls),
// or a bare "host:port" (tcp, as the CLI reads it). Other schemes (ssh://,
// npipe://, fd://, http://) and tcp without a host are errors that say why.
// TLS files are not set here; see endpoint_from_environment.
Result<Endpoint> parse_docker_host(std::string_view value, bool use_tls = false);

// Reads an environment variable; returns nullptr when unset (like std::getenv).
using GetEnv = std::function<const char*(const char*)>;

// The endpoint the docker CLI would use: `host` when given (a --host option),
// else DOCKER_HOST, else unix:///var/run/docker.sock. For tcp endpoints TLS is
// on when DOCKER_TLS_VERIFY, DOCKER_TLS or DOCKER_CERT_PATH is non-empty, with
// ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH (default ~/.docker), and
// the engine's certificate is verified when DOCKER_TLS_VERIFY is non-empty.
Result<Endpoint> endpoint_from_environment(const GetEnv& getenv,
                                           std::optional<std::string_view> host = std::nullopt);

}  // namespace swarm_prepull::engine
