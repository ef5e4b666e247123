// Where a peer listens: a unix socket or host:port (with TLS), and the one
// parser of host:port and http:// URLs (Boost.URL's grammar, one port check).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/error.h"

namespace swarm_prepull::http {

// Client-side TLS as the docker CLI sets it up: CA, client certificate, key.
struct TlsOptions {
  std::string ca_file;  // trusted to sign the peer's certificate (when verify); empty: the system's
  std::string cert_file;  // cert_file and key_file: our client certificate, used when present
  std::string key_file;
  bool verify = false;  // verify the peer's certificate and host name
  bool operator==(const TlsOptions&) const = default;
};

struct Endpoint {
  enum class Kind { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;               // unix_socket only
  std::string host;               // tcp only; IPv6 without brackets
  std::uint16_t port = 0;         // tcp only
  std::optional<TlsOptions> tls;  // tcp only

  // "unix:///var/run/docker.sock", "tcp://[::1]:2376".
  std::string to_string() const;
  // The Host header for this endpoint: "host:port", "[::1]:port"; for a unix
  // socket `unix_host` (the engine ignores it; the Go client sends "docker").
  std::string host_header(std::string_view unix_host = "localhost") const;
  bool operator==(const Endpoint&) const = default;
};

struct HostPort {
  std::string host;  // without brackets; may be empty (":7963" = all addresses)
  std::uint16_t port = 0;
};

// The one port check: a decimal number from 1 to 65535.
Result<std::uint16_t> parse_port(std::string_view text);

// "host:port", "host", "[v6]:port", "[v6]", ":port" (RFC 3986 authority
// without user info). Without a port (or with an empty one, as Go reads
// "host:"), `default_port`; when that is 0 the port
// is required. An IPv6 address must be in brackets.
Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port = 0);

// An http:// URL to a peer: its endpoint and base path ("" or "/prefix",
// without a trailing '/'). "http://host" is port 80. https://, user info, a
// query or a fragment are refused with a message saying which.
struct Url {
  Endpoint endpoint;
  std::string base_path;
};
Result<Url> parse_http_url(std::string_view text);

// An absolute http:// or https:// URL that a peer handed us (a redirect's
// Location, a token service's realm): where to connect (https verifies the
// peer against the system's CAs) and the request target in origin form, its
// query kept ("/v2/token?service=x"). User info and other schemes are refused.
struct Location {
  Endpoint endpoint;
  std::string target;
};
Result<Location> parse_location(std::string_view url);

}  // namespace swarm_prepull::http
