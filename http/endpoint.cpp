#include "http/endpoint.h"

#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

namespace swarm_prepull::http {
namespace {

Error invalid(std::string_view value, std::string message) {
  return Error{
      make_error_code(errc::invalid_address), std::string(value), {}, 0, std::move(message)};
}

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

std::string Endpoint::to_string() const {
  if (kind == Kind::unix_socket) return "unix://" + path;
  return "tcp://" + bracketed(host) + ":" + std::to_string(port);
}

std::string Endpoint::host_header(std::string_view unix_host) const {
  if (kind == Kind::unix_socket) return std::string(unix_host);
  return bracketed(host) + ":" + std::to_string(port);
}

Result<std::uint16_t> parse_port(std::string_view text) {
  unsigned number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || number == 0 ||
      number > 65535) {
    return invalid(text, "invalid port \"" + std::string(text) + "\": expected 1 to 65535");
  }
  return static_cast<std::uint16_t>(number);
}

Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port) {
  const auto authority = boost::urls::parse_authority(text);
  if (!authority) {
    if (text.starts_with('[') && text.find(']') == std::string_view::npos) {
      return invalid(text, "missing ']' after an IPv6 address");
    }
    if (const auto colon = text.find(':');
        colon != std::string_view::npos && colon == text.rfind(':') && !text.starts_with('[')) {
      // One colon: "host:port" with a port that is not a number says so.
      if (auto port = parse_port(text.substr(colon + 1)); !port && colon + 1 < text.size()) {
        return invalid(text, port.error().message);
      }
    }
    if (text.find(':') != text.rfind(':') && !text.starts_with('[')) {
      return invalid(text, "an IPv6 address must be written in brackets: [::1]:2375");
    }
    return invalid(text, "expected host:port, got \"" + std::string(text) + "\"");
  }
  if (authority->has_userinfo()) return invalid(text, "user info before the host is not supported");
  HostPort result;
  // host_address(): an IPv6 literal without its brackets, a name decoded.
  result.host = authority->host_type() == boost::urls::host_type::ipv6
                    ? authority->host_ipv6_address().to_string()
                    : std::string(authority->host_address());
  if (authority->has_port() && !authority->port().empty()) {
    auto port = parse_port(authority->port());
    if (!port) return invalid(text, port.error().message);
    result.port = *port;
  } else if (default_port != 0) {
    result.port = default_port;
  } else {
    return invalid(text, "no port in \"" + std::string(text) + "\"");
  }
  return result;
}

Result<Url> parse_http_url(std::string_view text) {
  const auto url = boost::urls::parse_uri(text);
  if (!url)
    return invalid(text, "expected http://HOST[:PORT][/PATH], got \"" + std::string(text) + "\"");
  if (url->scheme_id() != boost::urls::scheme::http) {
    return invalid(text, "expected an http:// URL, got \"" + std::string(url->scheme()) + "://\"");
  }
  if (url->has_query() || url->has_fragment()) {
    return invalid(text, "a query or fragment is not supported");
  }
  auto address = parse_host_port(url->encoded_authority(), 80);
  if (!address) return invalid(text, address.error().message);
  if (address->host.empty()) return invalid(text, "no host in \"" + std::string(text) + "\"");
  if (!url->encoded_path().empty() && !url->encoded_path().starts_with('/')) {
    return invalid(text, "expected http://HOST[:PORT][/PATH]");
  }
  Url result;
  result.endpoint.kind = Endpoint::Kind::tcp;
  result.endpoint.host = std::move(address->host);
  result.endpoint.port = address->port;
  result.base_path = std::string(url->encoded_path());
  while (!result.base_path.empty() && result.base_path.back() == '/') result.base_path.pop_back();
  return result;
}

Result<Location> parse_location(std::string_view text) {
  const auto url = boost::urls::parse_uri(text);
  if (!url)
    return invalid(text, "expected an absolute http(s):// URL, got \"" + std::string(text) + "\"");
  const bool tls = url->scheme_id() == boost::urls::scheme::https;
  if (!tls && url->scheme_id() != boost::urls::scheme::http) {
    return invalid(
        text, "expected an http:// or https:// URL, got \"" + std::string(url->scheme()) + "://\"");
  }
  if (url->has_userinfo()) return invalid(text, "user info in a URL is not supported");
  auto address = parse_host_port(url->encoded_host_and_port(), tls ? 443 : 80);
  if (!address) return invalid(text, address.error().message);
  if (address->host.empty()) return invalid(text, "no host in \"" + std::string(text) + "\"");
  Location location;
  location.endpoint.kind = Endpoint::Kind::tcp;
  location.endpoint.host = std::move(address->host);
  location.endpoint.port = address->port;
  if (tls) {
    location.endpoint.tls.emplace();
    location.endpoint.tls->verify = true;
  }
  location.target = url->encoded_path().empty() ? "/" : std::string(url->encoded_path());
  if (url->has_query()) location.target += "?" + std::string(url->encoded_query());
  return location;
}

}  // namespace swarm_prepull::http
