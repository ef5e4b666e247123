#include <gtest/gtest.h>

#include "api/controller_client.h"

namespace swarm_prepull::api {
namespace {

TEST(AgentControllerUrl, HostPortAndPrefix) {
  const auto plain = parse_controller_url("http://10.0.0.5:7963");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->endpoint.kind, http::Endpoint::Kind::tcp);
  EXPECT_EQ(plain->endpoint.host, "10.0.0.5");
  EXPECT_EQ(plain->endpoint.port, 7963);
  EXPECT_EQ(plain->base_path, "");

  const auto named = parse_controller_url("http://controller/");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->endpoint.host, "controller");
  EXPECT_EQ(named->endpoint.port, 80);
  EXPECT_EQ(named->base_path, "");

  const auto v6 = parse_controller_url("http://[::1]:8080/prepull/");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->endpoint.host, "::1");
  EXPECT_EQ(v6->endpoint.port, 8080);
  EXPECT_EQ(v6->base_path, "/prepull");
}

TEST(AgentControllerUrl, RefusesWhatItCannotUse) {
  for (const char* bad : {"https://c:7963", "c:7963", "http://", "http://c:0", "http://c:65536",
                          "http://c:x", "http://[::1", "http://[::1]x"}) {
    EXPECT_FALSE(parse_controller_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace swarm_prepull::api
