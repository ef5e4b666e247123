// The pure parts of the distribution API: manifests read as far as a copy
// needs them, WWW-Authenticate challenges, registry addresses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "registry/challenge.h"
#include "registry/client.h"
#include "registry/manifest.h"

namespace swarm_prepull::registry {
namespace {

using testing::HasSubstr;

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
const std::string kHexC(64, 'c');

std::string image_manifest() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
         R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,)"
         R"("digest":"sha256:)" +
         kHexA +
         R"("},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip",)"
         R"("size":1000,"digest":"sha256:)" +
         kHexB +
         R"("},{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",)"
         R"("size":5,"digest":"sha256:)" +
         kHexC + R"(","urls":["https://example.com/x"]}]})";
}

std::string index_manifest() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":"sha256:)" +
         kHexA +
         R"(","platform":{"architecture":"amd64","os":"linux"}},)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":"sha256:)" +
         kHexB +
         R"(","platform":{"architecture":"arm64","os":"linux"}},)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":9,"digest":"sha256:)" +
         kHexC + R"(","platform":{"architecture":"unknown","os":"unknown"}}]})";
}

TEST(RegistryManifest, AnImageManifestListsItsConfigThenItsLayers) {
  const std::string body = image_manifest();
  auto manifest = parse_manifest(docker_manifest_type, body, sha256_digest(body));
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_FALSE(manifest->is_index());
  ASSERT_EQ(manifest->blobs.size(), 3u);
  EXPECT_EQ(manifest->blobs[0].digest, "sha256:" + kHexA);
  EXPECT_EQ(manifest->blobs[1].size, 1000u);
  EXPECT_FALSE(manifest->blobs[1].foreign);
  EXPECT_TRUE(manifest->blobs[2].foreign) << "the engine fetches it from its URLs";
  EXPECT_EQ(manifest->body, body) << "kept byte for byte";
}

TEST(RegistryManifest, AnIndexKeepsItsEntriesPlatforms) {
  const std::string body = index_manifest();
  // A generic Content-Type: the body's own mediaType decides.
  auto index = parse_manifest("application/json; charset=utf-8", body, sha256_digest(body));
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_TRUE(index->is_index());
  ASSERT_EQ(index->manifests.size(), 3u);
  EXPECT_EQ(index->manifests[1].platform.architecture, "arm64");

  // A node reports x86_64, the index says amd64: swarm's platform rule.
  const auto amd64 = entries_for(*index, {{"x86_64", "linux"}});
  ASSERT_EQ(amd64.size(), 1u);
  EXPECT_EQ(amd64[0].digest, "sha256:" + kHexA);
  EXPECT_EQ(entries_for(*index, {{"x86_64", "linux"}, {"aarch64", "linux"}}).size(), 2u);
  EXPECT_EQ(entries_for(*index, {}).size(), 3u) << "no platform known: every entry";
}

TEST(RegistryManifest, BadManifestsSayWhatAndWhere) {
  const auto error = [](const std::string& body, std::string_view type = docker_manifest_type) {
    auto parsed = parse_manifest(type, body, sha256_digest(body));
    return parsed ? std::string("parsed") : parsed.error().message;
  };
  EXPECT_THAT(error("{"), HasSubstr("malformed JSON"));
  EXPECT_THAT(error("[]"), HasSubstr("$: expected an object"));
  EXPECT_THAT(error(R"({"schemaVersion":1,"fsLayers":[]})"), HasSubstr("schema 1"));
  EXPECT_THAT(error(R"({"schemaVersion":2,"layers":[]})"), HasSubstr("$.config: missing"));
  EXPECT_THAT(error(R"({"schemaVersion":2,"config":{"digest":"sha256:)" + kHexA +
                    R"(","size":1},"layers":[{"digest":"md5:x","size":1}]})"),
              HasSubstr("$.layers[0].digest: expected sha256:<64 lowercase hex>"));
  EXPECT_THAT(error(R"({"schemaVersion":2,"config":{"digest":"sha256:)" + kHexA +
                    R"(","size":-1},"layers":[]})"),
              HasSubstr("$.config.size: expected a non-negative integer"));
  EXPECT_THAT(error(R"({"schemaVersion":2,"mediaType":"text/plain"})", "text/plain"),
              HasSubstr("unsupported media type \"text/plain\""));
  EXPECT_THAT(error(R"({"schemaVersion":2,"manifests":{}})", oci_index_type),
              HasSubstr("$.manifests: expected an array"));

  const std::string body = image_manifest();
  auto wrong = parse_manifest(docker_manifest_type, body, "sha256:" + kHexA);
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().message, HasSubstr("the body's digest is " + sha256_digest(body) +
                                               ", not the sha256:" + kHexA));
}

TEST(RegistryManifest, Sha256OfPiecesIsTheSha256OfTheWhole) {
  EXPECT_EQ(sha256_digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 pieces;
  pieces.update("ab");
  pieces.update("c");
  EXPECT_EQ(pieces.digest(), sha256_digest("abc"));
  EXPECT_TRUE(is_sha256_digest(sha256_digest("abc")));
  EXPECT_FALSE(is_sha256_digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(is_sha256_digest("sha256:" + std::string(63, 'a')));
}

TEST(RegistryChallenge, ReadsBearerAndBasic) {
  auto bearer = parse_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull")");
  ASSERT_TRUE(bearer) << bearer.error().message;
  EXPECT_EQ(bearer->scheme, "bearer");
  EXPECT_EQ(bearer->params.at("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(token_query(*bearer, "repository:library/nginx:pull,push"),
            "service=registry.docker.io&scope=repository:library/nginx:pull,push");
  // An identity token is a refresh token, form-encoded into the POST's body.
  EXPECT_EQ(oauth_refresh_form(*bearer, "repository:library/nginx:pull", "r/+= &x"),
            "grant_type=refresh_token&client_id=swarm-prepull&service=registry.docker.io"
            "&scope=repository:library/nginx:pull&refresh_token=r%2F%2B%3D%20%26x");

  auto basic = parse_challenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_EQ(basic->params.at("realm"), "Registry Realm");

  auto quoted = parse_challenge(R"(bearer Realm = "a\"b" , service=plain)");
  ASSERT_TRUE(quoted) << quoted.error().message;
  EXPECT_EQ(quoted->params.at("realm"), "a\"b");
  EXPECT_EQ(quoted->params.at("service"), "plain");

  auto two = parse_challenge(R"(Basic realm="x", Bearer realm="y")");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->params.size(), 1u) << "the first challenge only";
}

TEST(RegistryChallenge, BadHeadersSayWhere) {
  for (const auto& [header, expected] : std::vector<std::pair<std::string, std::string>>{
           {"", "expected an authentication scheme at byte 0"},
           {"Bearer realm", "expected '=' after \"realm\""},
           {R"(Bearer realm="open)", "an unterminated quoted string"},
           {R"(Bearer realm="a" service="b")", "expected ',' between parameters at byte 17"},
       }) {
    auto parsed = parse_challenge(header);
    ASSERT_FALSE(parsed) << header;
    EXPECT_THAT(parsed.error().message, HasSubstr(expected)) << header;
  }
}

TEST(RegistryAddress, HostsAsImageReferencesNameThem) {
  auto hub = parse_registry_address("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_FALSE(hub->plain_http);
  EXPECT_EQ(hub->api_host(), "registry-1.docker.io");
  auto local = parse_registry_address("http://10.0.0.1:5000/");
  ASSERT_TRUE(local) << local.error().message;
  EXPECT_TRUE(local->plain_http);
  EXPECT_EQ(local->host, "10.0.0.1:5000");
  EXPECT_EQ(local->to_string(), "http://10.0.0.1:5000");
  EXPECT_EQ(parse_registry_address("https://Ghcr.io")->host, "ghcr.io");
  for (const char* bad : {"", "http://", "host/path", "user@host", "host:99999", "host:x"}) {
    EXPECT_FALSE(parse_registry_address(bad)) << bad;
  }
}

}  // namespace
}  // namespace swarm_prepull::registry
