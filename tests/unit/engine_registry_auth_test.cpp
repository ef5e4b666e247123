#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/registry_auth.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::engine {
namespace {

// Decodes an X-Registry-Auth value back to its JSON, as the engine does
// (base64.URLEncoding).
nlohmann::json decode_header(std::string value) {
  for (char& c : value) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  const auto text = reconcile::base64_decode(value);
  EXPECT_TRUE(text.has_value()) << value;
  return nlohmann::json::parse(text.value_or("null"));
}

TEST(AgentRegistryAuth, Base64UrlWithPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg==");
  EXPECT_EQ(base64url_encode("fo"), "Zm8=");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("\xfb\xff\xfe"), "-__-");
}

TEST(AgentRegistryAuth, HostOfConfigKeys) {
  EXPECT_EQ(registry_host("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(registry_host("docker.io"), "docker.io");
  EXPECT_EQ(registry_host("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(registry_host("https://Registry.Example:5000/v2/"), "registry.example:5000");
  EXPECT_EQ(registry_host("10.213.37.1:5000"), "10.213.37.1:5000");
  EXPECT_EQ(registry_host("http://ghcr.io"), "ghcr.io");
}

TEST(AgentRegistryAuth, AuthFieldForDockerHub) {
  // "alice:s3cr:et" base64: the password may hold ':'.
  const auto config = parse_docker_config(
      R"({"auths": {"https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcjpldA=="}}})");
  ASSERT_TRUE(config) << config.error().message;
  const auto header = registry_auth_header(*config, "docker.io");
  ASSERT_FALSE(header.empty());
  EXPECT_EQ(decode_header(header),
            nlohmann::json({{"username", "alice"},
                            {"password", "s3cr:et"},
                            {"serveraddress", "https://index.docker.io/v1/"}}));
  EXPECT_EQ(registry_auth_header(*config, "ghcr.io"), "");
}

TEST(AgentRegistryAuth, UsernamePasswordFieldsAndPrivateRegistry) {
  const auto config = parse_docker_config(
      R"({"auths": {"10.213.37.1:5000": {"username": "bob", "password": "pw"},
                    "https://ghcr.io": {"identitytoken": "tok"}}})");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(decode_header(registry_auth_header(*config, "10.213.37.1:5000")),
            nlohmann::json(
                {{"username", "bob"}, {"password", "pw"}, {"serveraddress", "10.213.37.1:5000"}}));
  EXPECT_EQ(decode_header(registry_auth_header(*config, "ghcr.io")),
            nlohmann::json({{"identitytoken", "tok"}, {"serveraddress", "ghcr.io"}}));
  EXPECT_FALSE(config->credential_helpers_ignored);
}

TEST(AgentRegistryAuth, CredentialHelpersAreFlaggedNotUsed) {
  const auto config = parse_docker_config(
      R"({"credsStore": "desktop", "auths": {"https://index.docker.io/v1/": {}}})");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->credential_helpers_ignored);
  EXPECT_TRUE(config->registries.empty());
  const auto helpers = parse_docker_config(R"({"credHelpers": {"gcr.io": "gcloud"}})");
  ASSERT_TRUE(helpers);
  EXPECT_TRUE(helpers->credential_helpers_ignored);
  const auto plain = parse_docker_config(R"({})");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->credential_helpers_ignored);
}

TEST(AgentRegistryAuth, ErrorsNameThePathNeverTheSecret) {
  const std::string secret = "dG9wc2VjcmV0";  // base64 "topsecret", no ':'
  const auto no_colon =
      parse_docker_config(R"({"auths": {"r.example": {"auth": ")" + secret + R"("}}})");
  ASSERT_FALSE(no_colon);
  EXPECT_EQ(no_colon.error().message.find(secret), std::string::npos);
  EXPECT_EQ(no_colon.error().message.find("topsecret"), std::string::npos);
  EXPECT_NE(no_colon.error().message.find("/auths/r.example/auth"), std::string::npos);

  EXPECT_FALSE(parse_docker_config("not json"));
  EXPECT_FALSE(parse_docker_config("[]"));
  EXPECT_FALSE(parse_docker_config(R"({"auths": []})"));
  EXPECT_FALSE(parse_docker_config(R"({"auths": {"x": {"auth": 5}}})"));
  EXPECT_FALSE(parse_docker_config(R"({"auths": {"x": {"auth": "!!!"}}})"));
}

}  // namespace
}  // namespace swarm_prepull::engine
