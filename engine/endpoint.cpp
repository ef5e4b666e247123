#include "engine/endpoint.h"

namespace swarm_prepull::engine {
namespace {

Error invalid(std::string_view value, std::string message) {
  return Error{make_error_code(engine_errc::invalid_endpoint),
               std::string(value),
               {},
               0,
               std::move(message)};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// "host:port", "host", "[v6]:port", "[v6]", with an optional trailing "/".
Result<Endpoint> parse_tcp(std::string_view value, std::string_view address, bool use_tls) {
  if (address.ends_with('/')) address.remove_suffix(1);
  if (address.find('/') != std::string_view::npos) {
    return invalid(value, "a path after host:port is not supported");
  }
  auto parsed = http::parse_host_port(address, use_tls ? kDefaultTlsPort : kDefaultPort);
  if (!parsed) return invalid(value, parsed.error().message);
  // The CLI would fill in localhost; an explicit host is less surprising for a
  // controller that may run anywhere.
  if (parsed->host.empty()) return invalid(value, "tcp:// needs a host, e.g. tcp://10.0.0.1:2375");
  Endpoint endpoint;
  endpoint.kind = Endpoint::Kind::tcp;
  endpoint.host = std::move(parsed->host);
  endpoint.port = parsed->port;
  return endpoint;
}

bool set(const char* value) { return value != nullptr && *value != '\0'; }

}  // namespace

Endpoint default_endpoint() {
  Endpoint endpoint;
  endpoint.path = kDefaultUnixSocket;
  return endpoint;
}

Result<Endpoint> parse_docker_host(std::string_view value, bool use_tls) {
  const std::string_view text = trim(value);
  const auto separator = text.find("://");
  // Like the CLI, a value without a scheme is a TCP address ("localhost:2375").
  if (separator == std::string_view::npos) return parse_tcp(value, text, use_tls);
  const std::string_view scheme = text.substr(0, separator);
  const std::string_view rest = text.substr(separator + 3);
  if (scheme == "unix") {
    Endpoint endpoint = default_endpoint();
    if (!rest.empty()) endpoint.path = rest;
    return endpoint;
  }
  if (scheme == "tcp") return parse_tcp(value, rest, use_tls);
  if (scheme == "ssh" || scheme == "npipe" || scheme == "fd" || scheme == "http" ||
      scheme == "https") {
    return invalid(value,
                   std::string(scheme) +
                       ":// is not supported; use unix:///path/docker.sock or tcp://host:port");
  }
  return invalid(value, "unknown scheme \"" + std::string(scheme) +
                            "://\"; use unix:///path/docker.sock or tcp://host:port");
}

Result<Endpoint> endpoint_from_environment(const GetEnv& getenv,
                                           std::optional<std::string_view> host) {
  const char* tls_verify = getenv("DOCKER_TLS_VERIFY");
  const char* cert_path = getenv("DOCKER_CERT_PATH");
  // DOCKER_CERT_PATH alone turns TLS on in the Go client (client.FromEnv), DOCKER_TLS in the CLI.
  const bool use_tls = set(tls_verify) || set(cert_path) || set(getenv("DOCKER_TLS"));

  if (!host) {
    const char* docker_host = getenv("DOCKER_HOST");
    if (set(docker_host)) host = docker_host;
  }
  // Unset means the local socket even with TLS settings, as in the Go client.
  Result<Endpoint> endpoint = host ? parse_docker_host(*host, use_tls) : default_endpoint();
  if (!endpoint || endpoint->kind != Endpoint::Kind::tcp || !use_tls) return endpoint;

  std::string directory;
  if (set(cert_path)) {
    directory = cert_path;
  } else {
    const char* home = getenv("HOME");
    if (!set(home))
      return invalid(endpoint->to_string(),
                     "TLS is on but neither DOCKER_CERT_PATH nor HOME is set");
    directory = std::string(home) + "/.docker";
  }
  endpoint->tls = TlsOptions{directory + "/ca.pem", directory + "/cert.pem", directory + "/key.pem",
                             set(tls_verify)};
  return endpoint;
}

}  // namespace swarm_prepull::engine
