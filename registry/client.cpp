#include "registry/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "http/base64.h"
#include "http/url.h"
#include "registry/challenge.h"

namespace swarm_prepull::registry {
namespace {

namespace net = boost::asio;
using namespace net::experimental::awaitable_operators;
using http::errc;
using http::field;
using http::verb;

// Bytes sent per PATCH of an upload: bounded memory per blob in flight, few
// enough requests for a large layer.
constexpr std::size_t kUploadChunk = 8 * 1024 * 1024;
// Chunks handed from a blob's download to its upload.
using Chunks = net::experimental::channel<void(boost::system::error_code, std::string)>;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// Redirects followed for one blob (a registry hands blobs to its storage).
constexpr int kMaxRedirects = 5;

bool takes(http::Answers answers, unsigned status) {
  if (status / 100 == 2 || answers == http::Answers::any) return true;
  return answers == http::Answers::success_or_redirect && status / 100 == 3;
}

// Distribution's error body: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}.
std::string distribution_message(std::string_view body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    const auto errors = parsed.find("errors");
    if (errors != parsed.end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      const auto& first = (*errors)[0];
      const auto string_of = [&](const char* key) {
        const auto found = first.find(key);
        return found != first.end() && found->is_string() ? found->get<std::string>()
                                                          : std::string();
      };
      std::string text = string_of("code");
      const std::string message = string_of("message");
      if (!message.empty()) text += (text.empty() ? "" : ": ") + message;
      if (!text.empty()) return text;
    }
  }
  return http::peer_message(body);
}

struct Target {
  http::Endpoint endpoint;
  std::string target;
};

// A target a server handed us: a path on that server (`from`), or an
// absolute URL.
http::Result<Target> locate(const http::Endpoint& from, const std::string& target) {
  if (target.starts_with('/')) return Target{from, target};
  auto location = http::parse_location(target);
  if (!location) return location.error();
  return Target{std::move(location->endpoint), std::move(location->target)};
}

std::string header(const http::Reply& reply, field name) {
  return std::string(reply.headers[name]);
}

}  // namespace

std::string RegistryAddress::api_host() const {
  return host == "docker.io" ? "registry-1.docker.io" : host;
}

reconcile::Expected<RegistryAddress> parse_registry_address(std::string_view text) {
  RegistryAddress address;
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    address.plain_http = true;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  }
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/@?# ") != std::string_view::npos) {
    return reconcile::Error{"registry \"" + std::string(text) +
                            "\": expected HOST[:PORT] or http://HOST[:PORT]"};
  }
  auto parsed = http::parse_host_port(rest, address.plain_http ? 80 : 443);
  if (!parsed) {
    return reconcile::Error{"registry \"" + std::string(text) + "\": " + parsed.error().message};
  }
  address.host = engine::registry_host(rest);
  return address;
}

std::string pull_scope(std::string_view repository) {
  return "repository:" + std::string(repository) + ":pull";
}

std::string push_scope(std::string_view repository) {
  return "repository:" + std::string(repository) + ":pull,push";
}

Registry::Registry(RegistryAddress address, std::optional<engine::RegistryCredential> credential,
                   RegistryTimeouts timeouts)
    : address_(std::move(address)), credential_(std::move(credential)), timeouts_(timeouts) {
  const auto api = http::parse_host_port(address_.api_host(), address_.plain_http ? 80 : 443);
  endpoint_.kind = http::Endpoint::Kind::tcp;
  endpoint_.host = api ? api->host : address_.api_host();
  endpoint_.port = api ? api->port : 443;
  if (!address_.plain_http) {
    endpoint_.tls.emplace();
    endpoint_.tls->verify = true;
  }
}

Registry::~Registry() = default;

net::awaitable<http::Result<http::Reply>> Registry::send(verb method, std::string target,
                                                         std::string scope, std::string body,
                                                         http::Fields fields,
                                                         http::Answers answers) {
  auto located = locate(endpoint_, target);
  if (!located) co_return located.error();
  http::Client client(located->endpoint, {.timeout = timeouts_.request});
  for (int attempt = 0;; ++attempt) {
    http::Request request{method, located->target, 11};
    for (const auto& entry : fields) request.set(entry.name_string(), entry.value());
    request.set(field::user_agent, "swarm-prepull");
    // Credentials go to this registry only, never to a host it points us to.
    const auto authorization = authorization_.find(scope);
    if (authorization != authorization_.end() && located->endpoint == endpoint_) {
      request.set(field::authorization, authorization->second);
    }
    request.body() = body;
    request = client.prepare(std::move(request));
    const http::Call call = client.call_for(request);
    auto reply =
        co_await client.exchange(call, std::move(request), client.limits(), http::Answers::any);
    if (!reply) co_return reply.error();
    if (reply->status == 401 && attempt == 0 && located->endpoint == endpoint_) {
      auto authorized = co_await authorize(*reply, call, scope);
      if (!authorized) co_return authorized.error();
      continue;
    }
    if (takes(answers, reply->status)) co_return reply;
    co_return call.fail(errc::status, distribution_message(reply->body), reply->status);
  }
}

net::awaitable<http::Result<void>> Registry::authorize(const http::Reply& unauthorized,
                                                       const http::Call& call,
                                                       const std::string& scope) {
  const std::string header_value = header(unauthorized, field::www_authenticate);
  if (header_value.empty()) {
    co_return call.fail(errc::status, "HTTP 401 without a WWW-Authenticate challenge", 401);
  }
  auto challenge = parse_challenge(header_value);
  if (!challenge) co_return call.fail(errc::bad_response, challenge.error().message, 401);
  const bool with_password = credential_ && !credential_->password.empty();
  const std::string basic =
      with_password
          ? "Basic " + http::base64_encode(credential_->username + ":" + credential_->password)
          : "";
  if (challenge->scheme == "basic") {
    if (!with_password) {
      co_return call.fail(
          errc::status,
          "the registry asks for a password and none is configured for " + address_.host, 401);
    }
    authorization_[scope] = basic;
    co_return http::Result<void>();
  }
  if (challenge->scheme != "bearer") {
    co_return call.fail(errc::status,
                        "unsupported authentication scheme \"" + challenge->scheme + "\"", 401);
  }
  // An identity token (what `docker login` keeps for an OAuth2 login) is a
  // refresh token: exchanged at the realm for an access token by POST, as the
  // engine does, never sent as a password.
  const bool with_identity_token =
      credential_ && !credential_->identity_token.empty() && !with_password;
  const auto realm = challenge->params.find("realm");
  if (realm == challenge->params.end()) {
    co_return call.fail(errc::bad_response, "a Bearer challenge without a realm", 401);
  }
  auto location = http::parse_location(realm->second);
  if (!location) {
    co_return call.fail(errc::bad_response, "the token realm: " + location.error().message, 401);
  }
  // The password goes to a token service over TLS, or to the registry's own
  // host: a challenge must not be able to send it in clear elsewhere.
  if ((with_password || with_identity_token) && !location->endpoint.tls &&
      location->endpoint.host != endpoint_.host) {
    co_return call.fail(errc::status,
                        "the token realm " + realm->second +
                            " is plain HTTP on another host than the registry: the credentials "
                            "for " +
                            address_.host + " are not sent there",
                        401);
  }
  http::Client client(location->endpoint, {.timeout = timeouts_.request});
  http::Request request{verb::get, location->target, 11};
  if (with_identity_token) {
    request.method(verb::post);
    request.set(field::content_type, "application/x-www-form-urlencoded");
    request.body() = oauth_refresh_form(*challenge, scope, credential_->identity_token);
  } else {
    const std::string query = token_query(*challenge, scope);
    if (!query.empty()) {
      request.target(location->target +
                     (location->target.find('?') == std::string::npos ? "?" : "&") + query);
    }
    if (with_password) request.set(field::authorization, basic);
  }
  request.set(field::user_agent, "swarm-prepull");
  request = client.prepare(std::move(request));
  const http::Call token_call = client.call_for(request);
  auto reply = co_await client.request(token_call, std::move(request), client.limits());
  if (!reply) co_return reply.error();
  const auto parsed = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  std::string token;
  if (parsed.is_object()) {
    for (const char* key : {"token", "access_token"}) {
      const auto found = parsed.find(key);
      if (found != parsed.end() && found->is_string() && !found->get<std::string>().empty()) {
        token = found->get<std::string>();
        break;
      }
    }
  }
  if (token.empty()) {
    co_return token_call.fail(errc::bad_response, "no \"token\" in the token service's answer",
                              reply->status);
  }
  authorization_[scope] = "Bearer " + token;
  co_return http::Result<void>();
}

net::awaitable<http::Result<Manifest>> Registry::manifest(std::string repository,
                                                          std::string digest) {
  http::Fields fields;
  fields.set(field::accept, manifest_accept());
  auto reply = co_await send(verb::get, "/v2/" + repository + "/manifests/" + digest,
                             pull_scope(repository), {}, std::move(fields), http::Answers::success);
  if (!reply) co_return reply.error();
  auto parsed = parse_manifest(header(*reply, field::content_type), std::move(reply->body), digest);
  if (!parsed) {
    co_return http::Call{endpoint_.to_string(), "GET /v2/" + repository + "/manifests/" + digest}
        .fail(errc::bad_response, parsed.error().message, reply->status);
  }
  co_return std::move(*parsed);
}

net::awaitable<http::Result<bool>> Registry::exists(std::string target, std::string scope,
                                                    http::Fields fields) {
  auto reply = co_await send(verb::head, target, std::move(scope), {}, std::move(fields),
                             http::Answers::any);
  if (!reply) co_return reply.error();
  if (reply->status == 404) co_return false;
  // A redirect hands the content to storage elsewhere (distribution on S3
  // with redirects on): the registry holds it.
  if (reply->status / 100 == 2 || reply->status / 100 == 3) co_return true;
  co_return http::Call{endpoint_.to_string(), "HEAD " + target}.fail(errc::status, "",
                                                                     reply->status);
}

net::awaitable<http::Result<bool>> Registry::has_manifest(std::string repository,
                                                          std::string digest) {
  http::Fields fields;
  fields.set(field::accept, manifest_accept());
  co_return co_await exists("/v2/" + repository + "/manifests/" + digest, pull_scope(repository),
                            std::move(fields));
}

net::awaitable<http::Result<bool>> Registry::has_blob(std::string repository, std::string digest) {
  co_return co_await exists("/v2/" + repository + "/blobs/" + digest, push_scope(repository), {});
}

net::awaitable<http::Result<void>> Registry::push_manifest(std::string repository,
                                                           const Manifest& manifest) {
  http::Fields fields;
  fields.set(field::content_type, manifest.media_type);
  auto reply = co_await send(verb::put, "/v2/" + repository + "/manifests/" + manifest.digest,
                             push_scope(repository), manifest.body, std::move(fields),
                             http::Answers::success);
  if (!reply) co_return reply.error();
  co_return http::Result<void>();
}

net::awaitable<http::Result<void>> Registry::download_blob(const std::string& repository,
                                                           const std::string& digest,
                                                           http::ChunkSink sink) {
  std::string target = "/v2/" + repository + "/blobs/" + digest;
  const std::string scope = pull_scope(repository);
  bool authorized_once = false;
  http::Endpoint from = endpoint_;  // who named `target`: a relative redirect stays there
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    auto located = locate(from, target);
    if (!located) co_return located.error();
    from = located->endpoint;
    const bool own = located->endpoint == endpoint_;
    http::Client client(located->endpoint, {.timeout = timeouts_.request});
    http::Request request{verb::get, located->target, 11};
    request.set(field::user_agent, "swarm-prepull");
    if (const auto authorization = authorization_.find(scope);
        own && authorization != authorization_.end()) {
      request.set(field::authorization, authorization->second);
    }
    request = client.prepare(std::move(request));
    const http::Call call = client.call_for(request);
    auto reply = co_await client.download(call, std::move(request), client.limits(),
                                          {.total = std::nullopt, .idle = timeouts_.idle},
                                          http::Answers::any, sink);
    if (!reply) co_return reply.error();
    if (reply->status / 100 == 2) co_return http::Result<void>();
    if (reply->status == 401 && own && !authorized_once) {
      authorized_once = true;
      auto authorized = co_await authorize(*reply, call, scope);
      if (!authorized) co_return authorized.error();
      --hop;  // the same target again, now with credentials
      continue;
    }
    if (reply->status / 100 != 3) co_return call.fail(errc::status, "", reply->status);
    target = header(*reply, field::location);
    if (target.empty())
      co_return call.fail(errc::bad_response, "a redirect without a Location", reply->status);
  }
  co_return http::Call{endpoint_.to_string(), "GET /v2/" + repository + "/blobs/" + digest}.fail(
      errc::bad_response, "more than " + std::to_string(kMaxRedirects) + " redirects");
}

net::awaitable<http::Result<std::uint64_t>> Registry::copy_blob_from(Registry& origin,
                                                                     std::string repository,
                                                                     Descriptor blob) {
  const std::string scope = push_scope(repository);
  const http::Call call{endpoint_.to_string(), "copy blob " + blob.digest + " of " + repository};
  auto started = co_await send(verb::post, "/v2/" + repository + "/blobs/uploads/", scope, {}, {},
                               http::Answers::success);
  if (!started) co_return started.error();
  std::string upload = header(*started, field::location);
  if (upload.empty()) co_return call.fail(errc::bad_response, "an upload without a Location");

  // The reader fills a chunk from the origin while the writer PATCHes the one
  // before into this registry: the two links are busy at once, and at most
  // two chunks of a blob are in memory. The channel has no buffer, so a send
  // waits for the writer to take the chunk; closing it ends the other side.
  Chunks chunks(co_await net::this_coro::executor);
  std::optional<http::Error> read_failure;
  std::optional<http::Error> write_failure;
  Sha256 hash;
  std::uint64_t bytes = 0;
  const auto read = [&]() -> net::awaitable<void> {
    std::string pending;
    const auto hand_over = [&]() -> net::awaitable<http::Result<void>> {
      auto [error] = co_await chunks.async_send({}, std::exchange(pending, {}), use_tuple);
      // Closed by the writer, which keeps its own error.
      if (error) co_return call.fail(errc::cancelled, "the upload stopped");
      co_return http::Result<void>();
    };
    const http::ChunkSink sink = [&](std::string_view piece) -> net::awaitable<http::Result<void>> {
      bytes += piece.size();
      if (bytes > blob.size) {
        co_return call.fail(errc::too_large, "the origin sent more than the " +
                                                 std::to_string(blob.size) +
                                                 " bytes the manifest gives");
      }
      hash.update(piece);
      pending.append(piece);
      if (pending.size() >= kUploadChunk) co_return co_await hand_over();
      co_return http::Result<void>();
    };
    auto downloaded = co_await origin.download_blob(repository, blob.digest, sink);
    if (downloaded && !pending.empty()) downloaded = co_await hand_over();
    if (!downloaded) read_failure = downloaded.error();
    chunks.close();
  };
  const auto write = [&]() -> net::awaitable<void> {
    std::uint64_t uploaded = 0;
    for (;;) {
      auto [closed, chunk] = co_await chunks.async_receive(use_tuple);
      if (closed) co_return;  // the reader is done, or failed
      http::Fields fields;
      fields.set(field::content_type, "application/octet-stream");
      // Distribution's form (no "bytes " unit): what registries that insist on
      // ordered chunks check.
      fields.set(field::content_range,
                 std::to_string(uploaded) + "-" + std::to_string(uploaded + chunk.size() - 1));
      uploaded += chunk.size();
      auto appended = co_await send(verb::patch, upload, scope, std::move(chunk), std::move(fields),
                                    http::Answers::success);
      if (appended) {
        upload = header(*appended, field::location);
        if (upload.empty()) {
          appended = call.fail(errc::bad_response, "a PATCH answer without a Location");
        }
      }
      if (!appended) {
        write_failure = appended.error();
        chunks.close();
        co_return;
      }
    }
  };
  co_await (read() && write());
  // A failed PATCH also fails the reader (its chunk has nowhere to go): the
  // PATCH's error is the cause.
  if (write_failure) co_return *write_failure;
  if (read_failure) co_return *read_failure;
  if (const auto actual = hash.digest(); actual != blob.digest || bytes != blob.size) {
    co_return call.fail(errc::bad_response, "the origin's " + std::to_string(bytes) +
                                                " bytes hash to " + actual + ", not the " +
                                                std::to_string(blob.size) + " of the manifest");
  }
  upload += (upload.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") +
            http::percent_encode(blob.digest, ":");
  auto committed = co_await send(verb::put, upload, scope, {}, {}, http::Answers::success);
  if (!committed) co_return committed.error();
  co_return bytes;
}

}  // namespace swarm_prepull::registry
