// One registry's distribution API (the registry's own HTTP API, not the
// engine's): manifests and blobs by digest, read from an origin and written
// into a cache, with the registry's authentication: none, Basic (htpasswd),
// or distribution's bearer tokens (a token per repository scope, fetched from
// the challenge's realm with the credentials, as Docker Hub and most
// registries ask).
//
// Use:
//   Registry origin(*parse_registry_address("docker.io"), credential);
//   auto manifest = co_await origin.manifest("library/nginx", "sha256:...");
//
// Not thread-safe; coroutines run on the awaiting executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/registry_auth.h"
#include "http/client.h"
#include "reconcile/expected.h"
#include "registry/manifest.h"

namespace swarm_prepull::registry {

struct RegistryAddress {
  std::string host;         // as image references name it: "docker.io", "10.0.0.1:5000"
  bool plain_http = false;  // given as http://: no TLS
  // Where its API listens: "registry-1.docker.io" for docker.io, else `host`.
  std::string api_host() const;
  std::string to_string() const { return (plain_http ? "http://" : "") + host; }
  bool operator==(const RegistryAddress&) const = default;
};

// "HOST[:PORT]" (HTTPS, verified against the system's CAs) or
// "http://HOST[:PORT]" (plain HTTP, for a registry on a trusted network).
// Errors say what is wrong with the text.
reconcile::Expected<RegistryAddress> parse_registry_address(std::string_view text);

struct RegistryTimeouts {
  std::chrono::milliseconds request{std::chrono::seconds(30)};  // one exchange, a body's header
  std::chrono::milliseconds idle{std::chrono::seconds(60)};     // between two reads of a blob
};

class Registry {
 public:
  Registry(RegistryAddress address, std::optional<engine::RegistryCredential> credential,
           RegistryTimeouts timeouts = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  const RegistryAddress& address() const { return address_; }

  // The manifest `digest` of `repository`, checked against the digest.
  boost::asio::awaitable<http::Result<Manifest>> manifest(std::string repository,
                                                          std::string digest);
  // Whether the registry holds manifest or blob `digest` of `repository`
  // (HEAD: nothing is downloaded).
  boost::asio::awaitable<http::Result<bool>> has_manifest(std::string repository,
                                                          std::string digest);
  boost::asio::awaitable<http::Result<bool>> has_blob(std::string repository, std::string digest);
  // Stores `manifest`'s bytes unchanged under its digest.
  boost::asio::awaitable<http::Result<void>> push_manifest(std::string repository,
                                                           const Manifest& manifest);
  // Streams blob `blob` of `repository` from `origin` into this registry,
  // hashing it on the way: a blob whose bytes are not its digest is never
  // committed. Returns the bytes read from the origin.
  boost::asio::awaitable<http::Result<std::uint64_t>> copy_blob_from(Registry& origin,
                                                                     std::string repository,
                                                                     Descriptor blob);

 private:
  // Sends `request` to `target` (a path of this registry, or an absolute URL
  // that it handed us), with the authorization for `scope`; a 401 fetches
  // one (a token, or Basic) and sends once more. Statuses in `answers` come
  // back as replies.
  boost::asio::awaitable<http::Result<http::Reply>> send(http::verb method, std::string target,
                                                         std::string scope, std::string body,
                                                         http::Fields fields,
                                                         http::Answers answers);
  // HEAD `target`: true when held (2xx, or 3xx: in storage elsewhere),
  // false on 404.
  boost::asio::awaitable<http::Result<bool>> exists(std::string target, std::string scope,
                                                    http::Fields fields);
  boost::asio::awaitable<http::Result<void>> authorize(const http::Reply& unauthorized,
                                                       const http::Call& call,
                                                       const std::string& scope);
  // The body of blob `digest` to `sink`, following redirects (to storage
  // elsewhere: no authorization is sent there).
  boost::asio::awaitable<http::Result<void>> download_blob(const std::string& repository,
                                                           const std::string& digest,
                                                           http::ChunkSink sink);

  RegistryAddress address_;
  std::optional<engine::RegistryCredential> credential_;
  RegistryTimeouts timeouts_;
  http::Endpoint endpoint_;
  std::map<std::string, std::string> authorization_;  // by scope: the Authorization value
};

// "repository:<repo>:pull": the token scope of reading `repository`.
std::string pull_scope(std::string_view repository);
// "repository:<repo>:pull,push".
std::string push_scope(std::string_view repository);

}  // namespace swarm_prepull::registry
