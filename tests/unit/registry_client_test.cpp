// The registry client against loopback fakes that answer scripted bytes: what
// a real registry cannot be made to do (serve a blob whose bytes are not its
// digest), and the exact requests sent (the token dance, what a redirect to
// storage elsewhere gets). The real registries are in the integration tests
// (tests/integration/cache_copy_test.cpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "registry/client.h"
#include "registry/manifest.h"
#include "tests/unit/engine_fake_engine.h"

namespace swarm_prepull::registry {
namespace {

namespace net = boost::asio;
using engine::fake::FakeEngine;
using engine::fake::json;
using engine::fake::Reply;
using engine::fake::response;
using net::ip::tcp;
using testing::HasSubstr;
using testing::Not;

class RegistryClient : public ::testing::Test {
 protected:
  FakeEngine<tcp>& fake(std::vector<Reply> replies) {
    fakes_.push_back(std::make_unique<FakeEngine<tcp>>(
        io_, tcp::endpoint(net::ip::address_v4::loopback(), 0), std::move(replies)));
    return *fakes_.back();
  }
  static std::string url(const FakeEngine<tcp>& server) {
    return "http://127.0.0.1:" + std::to_string(server.endpoint().port());
  }
  static RegistryAddress address(const FakeEngine<tcp>& server) {
    return parse_registry_address(url(server)).value();
  }
  template <class T>
  T run(net::awaitable<T> operation) {
    return engine::fake::run(io_, std::move(operation));
  }

  // The error of a manifest request that `registry` answers.
  http::Error manifest_error(FakeEngine<tcp>& registry);
  // A cache that takes one upload: POST, PATCH, PUT.
  FakeEngine<tcp>& accepting_cache() {
    return fake({
        {response(202, "Accepted", "", "Location: /v2/team/app/blobs/uploads/u1\r\n")},
        {response(202, "Accepted", "", "Location: /v2/team/app/blobs/uploads/u1\r\n")},
        {response(201, "Created", "")},
    });
  }
  // `blob` of team/app copied from `origin` into `cache`, no credentials.
  auto copy_blob(FakeEngine<tcp>& origin, FakeEngine<tcp>& cache, const Descriptor& blob) {
    Registry from(address(origin), std::nullopt);
    Registry into(address(cache), std::nullopt);
    return run(into.copy_blob_from(from, "team/app", blob));
  }

  net::io_context io_;
  std::vector<std::unique_ptr<FakeEngine<tcp>>> fakes_;
};

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
    R"("config":{"size":1,"digest":"sha256:)" +
    std::string(64, 'a') + R"("},"layers":[]})";

TEST_F(RegistryClient, FetchesATokenForTheRepositoryScopeWithTheCredentials) {
  auto& tokens = fake({json(R"({"token":"t0k"})")});
  auto& registry = fake({
      {response(401, "Unauthorized", R"({"errors":[{"code":"UNAUTHORIZED"}]})",
                "WWW-Authenticate: Bearer realm=\"" + url(tokens) +
                    "/token\",service=\"fake\",scope=\"repository:team/app:pull\"\r\n")},
      {response(200, "OK", kManifest,
                "Content-Type: application/vnd.docker.distribution.manifest.v2+json\r\n")},
  });
  Registry client(address(registry), engine::RegistryCredential{"user", "secret", ""});
  auto manifest = run(client.manifest("team/app", sha256_digest(kManifest)));
  ASSERT_TRUE(manifest) << manifest.error().to_string();
  EXPECT_EQ(manifest->body, kManifest);
  EXPECT_THAT(tokens.requests().at(0),
              HasSubstr("GET /token?service=fake&scope=repository:team/app:pull HTTP/1.1"));
  EXPECT_THAT(tokens.requests().at(0), HasSubstr("Authorization: Basic dXNlcjpzZWNyZXQ="));
  EXPECT_THAT(registry.requests().at(1), HasSubstr("Authorization: Bearer t0k"));
  EXPECT_THAT(registry.requests().at(1),
              HasSubstr("Accept: application/vnd.docker.distribution.manifest.v2+json"));
}

TEST_F(RegistryClient, AManifestThatIsNotItsDigestIsABadResponse) {
  auto& registry = fake({json(kManifest)});
  Registry client(address(registry), std::nullopt);
  auto manifest = run(client.manifest("team/app", "sha256:" + std::string(64, 'f')));
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, http::errc::bad_response);
  EXPECT_THAT(manifest.error().to_string(), HasSubstr("GET /v2/team/app/manifests/sha256:fff"));
  EXPECT_THAT(manifest.error().to_string(), HasSubstr("the body's digest is"));
}

http::Error RegistryClient::manifest_error(FakeEngine<tcp>& registry) {
  Registry client(address(registry), std::nullopt);
  auto manifest = run(client.manifest("team/app", sha256_digest(kManifest)));
  EXPECT_FALSE(manifest);
  return manifest ? http::Error{} : manifest.error();
}

TEST_F(RegistryClient, DistributionErrorsAreQuotedByCode) {
  const auto error = manifest_error(
      fake({json(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})", 404,
                 "Not Found")}));
  EXPECT_EQ(error.status, 404u);
  EXPECT_THAT(error.to_string(), HasSubstr("MANIFEST_UNKNOWN: manifest unknown"));
}

TEST_F(RegistryClient, AnErrorBodyOfAnotherShapeStillSaysWhatFailed) {
  // Non-string fields once threw out of the copy, which then never ended.
  const auto error = manifest_error(fake(
      {json(R"({"errors":[{"code":7,"message":{"text":"odd"}}]})", 500, "Internal Server Error")}));
  EXPECT_EQ(error.status, 500u);
  EXPECT_THAT(error.to_string(), HasSubstr("odd"));
}

TEST_F(RegistryClient, ARedirectToStorageMeansTheRegistryHoldsIt) {
  auto& registry = fake({
      {response(307, "Temporary Redirect", "", "Location: https://storage.test/blob\r\n")},
      {response(404, "Not Found", "")},
      {response(500, "Internal Server Error", "")},
  });
  Registry client(address(registry), std::nullopt);
  const std::string digest = "sha256:" + std::string(64, 'c');
  auto held = run(client.has_blob("team/app", digest));
  ASSERT_TRUE(held) << held.error().to_string();
  EXPECT_TRUE(*held);
  held = run(client.has_blob("team/app", digest));
  ASSERT_TRUE(held) << held.error().to_string();
  EXPECT_FALSE(*held);
  held = run(client.has_manifest("team/app", digest));
  ASSERT_FALSE(held);
  EXPECT_EQ(held.error().status, 500u);
  EXPECT_THAT(held.error().to_string(), HasSubstr("HEAD /v2/team/app/manifests/" + digest));
}

TEST_F(RegistryClient, AnIdentityTokenIsExchangedForAnAccessTokenAtTheRealm) {
  auto& tokens = fake({json(R"({"access_token":"acc355","expires_in":300})")});
  auto& registry = fake({
      {response(
          401, "Unauthorized", "",
          "WWW-Authenticate: Bearer realm=\"" + url(tokens) + "/token\",service=\"fake\"\r\n")},
      {response(200, "OK", kManifest,
                "Content-Type: application/vnd.docker.distribution.manifest.v2+json\r\n")},
  });
  Registry client(address(registry), engine::RegistryCredential{"", "", "refresh-me"});
  auto manifest = run(client.manifest("team/app", sha256_digest(kManifest)));
  ASSERT_TRUE(manifest) << manifest.error().to_string();
  // OAuth2's refresh-token grant (the body: RegistryChallenge's test), as the
  // engine sends it; the token itself is never a password.
  EXPECT_THAT(tokens.requests().at(0), HasSubstr("POST /token HTTP/1.1"));
  EXPECT_THAT(tokens.requests().at(0),
              HasSubstr("Content-Type: application/x-www-form-urlencoded"));
  EXPECT_THAT(tokens.requests().at(0), Not(HasSubstr("Authorization")));
  EXPECT_THAT(registry.requests().at(1), HasSubstr("Authorization: Bearer acc355"));
}

TEST_F(RegistryClient, NoSecretIsEverSentToAPlainHttpRealmOnAnotherHost) {
  for (const auto& credential : {engine::RegistryCredential{"user", "secret", ""},
                                 engine::RegistryCredential{"", "", "refresh-me"}}) {
    auto& tokens = fake({json(R"({"token":"t0k"})")});
    const std::string elsewhere =
        "http://localhost:" + std::to_string(tokens.endpoint().port()) + "/token";
    auto& registry = fake({
        {response(401, "Unauthorized", "",
                  "WWW-Authenticate: Bearer realm=\"" + elsewhere + "\",service=\"fake\"\r\n")},
    });
    Registry client(address(registry), credential);
    auto manifest = run(client.manifest("team/app", sha256_digest(kManifest)));
    ASSERT_FALSE(manifest);
    EXPECT_THAT(manifest.error().to_string(), HasSubstr("are not sent there"));
    EXPECT_TRUE(tokens.requests().empty());
  }
}

TEST_F(RegistryClient, ABlobIsStreamedThroughAndStorageElsewhereGetsNoCredentials) {
  const std::string bytes = "layer bytes";
  const Descriptor blob{"application/octet-stream", sha256_digest(bytes), bytes.size(), {}, false};
  auto& storage =
      fake({{response(200, "OK", bytes, "Content-Type: application/octet-stream\r\n")}});
  auto& origin = fake({
      {response(401, "Unauthorized", "", "WWW-Authenticate: Basic realm=\"r\"\r\n")},
      {response(307, "Temporary Redirect", "",
                "Location: " + url(storage) + "/blobs/x?signature=1\r\n")},
  });
  auto& cache = fake({
      {response(202, "Accepted", "", "Location: /v2/team/app/blobs/uploads/u1?_state=s0\r\n")},
      {response(202, "Accepted", "", "Location: /v2/team/app/blobs/uploads/u1?_state=s1\r\n")},
      {response(201, "Created", "")},
  });
  Registry from(address(origin), engine::RegistryCredential{"user", "secret", ""});
  Registry into(address(cache), std::nullopt);
  auto copied = run(into.copy_blob_from(from, "team/app", blob));
  ASSERT_TRUE(copied) << copied.error().to_string();
  EXPECT_EQ(*copied, bytes.size());
  EXPECT_THAT(origin.requests().at(1), HasSubstr("Authorization: Basic"));
  EXPECT_THAT(storage.requests().at(0), HasSubstr("GET /blobs/x?signature=1 HTTP/1.1"));
  EXPECT_THAT(storage.requests().at(0), Not(HasSubstr("Authorization")));
  EXPECT_THAT(cache.requests().at(0), HasSubstr("POST /v2/team/app/blobs/uploads/ HTTP/1.1"));
  EXPECT_THAT(cache.requests().at(1), HasSubstr("PATCH /v2/team/app/blobs/uploads/u1?_state=s0"));
  EXPECT_THAT(cache.requests().at(1), HasSubstr("Content-Range: 0-10\r\n"));
  EXPECT_THAT(cache.requests().at(2),
              HasSubstr("PUT /v2/team/app/blobs/uploads/u1?_state=s1&digest=" + blob.digest));
}

TEST_F(RegistryClient, ARelativeRedirectFromStorageStaysOnTheStorage) {
  const std::string bytes = "layer bytes";
  const Descriptor blob{"", sha256_digest(bytes), bytes.size(), {}, false};
  auto& storage = fake({
      {response(307, "Temporary Redirect", "", "Location: /region-b/blob\r\n")},
      {response(200, "OK", bytes, "")},
  });
  auto& origin = fake({
      {response(307, "Temporary Redirect", "", "Location: " + url(storage) + "/blob\r\n")},
  });
  auto& cache = accepting_cache();
  auto copied = copy_blob(origin, cache, blob);
  ASSERT_TRUE(copied) << copied.error().to_string();
  EXPECT_EQ(origin.requests().size(), 1u);
  ASSERT_EQ(storage.requests().size(), 2u);
  EXPECT_THAT(storage.requests().at(1), HasSubstr("GET /region-b/blob HTTP/1.1"));
}

TEST_F(RegistryClient, ABlobWhoseBytesAreNotItsDigestIsNeverCommitted) {
  const std::string expected = "right bytes";
  const Descriptor blob{"", sha256_digest(expected), expected.size(), {}, false};
  auto& origin = fake({{response(200, "OK", "wrong bytes", "")}});
  auto& cache = accepting_cache();
  auto copied = copy_blob(origin, cache, blob);
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code, http::errc::bad_response);
  EXPECT_THAT(copied.error().to_string(), HasSubstr("hash to sha256:"));
  EXPECT_EQ(cache.requests().size(), 2u) << "no PUT: nothing committed";
}

TEST_F(RegistryClient, AnOriginSendingMoreThanTheManifestSaysIsCutShort) {
  const Descriptor blob{"", sha256_digest("ab"), 2, {}, false};
  auto& origin = fake({{response(200, "OK", std::string(100000, 'x'), "")}});
  auto& cache = accepting_cache();
  auto copied = copy_blob(origin, cache, blob);
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code, http::errc::too_large);
  EXPECT_EQ(cache.requests().size(), 1u);
}

// Over one upload chunk (8 MiB): the chunks go up in order, each PATCH at the
// Location the one before named, while the next is read from the origin.
TEST_F(RegistryClient, ABlobOverOneChunkGoesUpInOrderedChunks) {
  const std::string bytes = std::string(3 * 8 * 1024 * 1024, 'x') + "tail!";
  const Descriptor blob{"", sha256_digest(bytes), bytes.size(), {}, false};
  auto& origin = fake({{response(200, "OK", bytes, "")}});
  std::vector<Reply> answers;
  answers.reserve(6);
  for (int state = 0; state < 5; ++state) {
    answers.push_back({response(
        202, "Accepted", "",
        "Location: /v2/team/app/blobs/uploads/u1?_state=s" + std::to_string(state) + "\r\n")});
  }
  answers.push_back({response(201, "Created", "")});
  auto& cache = fake(std::move(answers));
  auto copied = copy_blob(origin, cache, blob);
  ASSERT_TRUE(copied) << copied.error().to_string();
  EXPECT_EQ(*copied, bytes.size());
  // Chunks end where the origin's reads do (at 8 MiB or a little over).
  const auto& requests = cache.requests();
  ASSERT_GE(requests.size(), 5u) << "POST, three PATCHes or more, PUT";
  std::uint64_t next = 0;
  for (std::size_t patch = 1; patch + 1 < requests.size(); ++patch) {
    EXPECT_THAT(requests[patch], HasSubstr("PATCH /v2/team/app/blobs/uploads/u1?_state=s" +
                                           std::to_string(patch - 1) + " "));
    const auto range = requests[patch].find("Content-Range: ");
    ASSERT_NE(range, std::string::npos) << requests[patch];
    EXPECT_EQ(std::stoull(requests[patch].substr(range + 15)), next) << requests[patch];
    next = std::stoull(requests[patch].substr(requests[patch].find('-', range + 15) + 1)) + 1;
  }
  EXPECT_EQ(next, bytes.size());
  EXPECT_THAT(requests.back(), HasSubstr("PUT /v2/team/app/blobs/uploads/u1?_state=s" +
                                         std::to_string(requests.size() - 2)));
}

// The reader is stopped by a PATCH that failed, and the error says why: the
// cache's answer, not the reader's stop.
TEST_F(RegistryClient, AFailedPatchIsTheCauseAndNothingIsCommitted) {
  const std::string bytes = std::string(3 * 8 * 1024 * 1024, 'x');
  const Descriptor blob{"", sha256_digest(bytes), bytes.size(), {}, false};
  auto& origin = fake({{response(200, "OK", bytes, "")}});
  auto& cache = fake({
      {response(202, "Accepted", "", "Location: /v2/team/app/blobs/uploads/u1\r\n")},
      {response(500, "Internal Server Error",
                R"({"errors":[{"code":"UNKNOWN","message":"disk full"}]})", "")},
  });
  auto copied = copy_blob(origin, cache, blob);
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().status, 500u);
  EXPECT_THAT(copied.error().to_string(), HasSubstr("disk full"));
  EXPECT_EQ(cache.requests().size(), 2u) << "no PUT: nothing committed";
}

}  // namespace
}  // namespace swarm_prepull::registry
