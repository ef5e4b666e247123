// The HTTP layer's parsers: request targets (what routing and the token gate
// see), host:port and URLs, percent-encoding, base64, JSON request bodies.
#include <gtest/gtest.h>

#include "http/base64.h"
#include "http/endpoint.h"
#include "http/json_body.h"
#include "http/url.h"

namespace swarm_prepull::http {
namespace {

TEST(HttpTarget, DecodesCanonicalOriginForm) {
  auto target = parse_target("/v1/nodes/a%3Ab/desired?after=3&wait=1.5&x=a+b");
  ASSERT_TRUE(target) << target.error().to_string();
  EXPECT_EQ(target->path, "/v1/nodes/a:b/desired");
  EXPECT_EQ(target->segments, (std::vector<std::string>{"v1", "nodes", "a:b", "desired"}));
  EXPECT_EQ(target->query.at("after"), "3");
  EXPECT_EQ(target->query.at("wait"), "1.5");
  EXPECT_EQ(target->query.at("x"), "a b");
  EXPECT_EQ(parse_target("/")->path, "/");
  EXPECT_TRUE(parse_target("/")->segments.empty());
  // Paths are case-sensitive and kept as sent.
  EXPECT_EQ(parse_target("/V1/images")->path, "/V1/images");
}

TEST(HttpTarget, RefusesEverythingElseSayingWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {"//v1/images", "empty path segment 1"},
      {"///v1/images", "empty path segment 1"},
      {"/v1//images", "empty path segment 2"},
      {"/v1/images/", "empty path segment 3"},
      {"v1/images", "origin form"},
      {"", "origin form"},
      {"http://host/v1/images", "origin form"},
      {"*", "origin form"},
      {"/./v1/images", "dot segment"},
      {"/v1/../v1/images", "dot segment"},
      {"/v1/%2e%2E/images", "dot segment"},
      {"/v1%2Fimages", "encoded '/'"},
      {"/v1%2fimages", "encoded '/'"},
      {"/v1/\xff", "malformed request target"},
      {"/v1/%ff", "not valid UTF-8"},
      {"/v1/a%00", "control character"},
      {"/v1/images?wait=%ff", "query parameter wait"},
      {"/v1/images?%ff=1", "query parameter name"},
      {"/v1/images?x=%zz", "malformed"},
  };
  for (const auto& [text, why] : cases) {
    const auto target = parse_target(text);
    ASSERT_FALSE(target) << text << " parsed as " << target->path;
    EXPECT_EQ(target.error().code, errc::bad_request);
    EXPECT_NE(target.error().message.find(why), std::string::npos)
        << text << ": " << target.error().message;
  }
}

TEST(HttpAddress, OnePortCheck) {
  EXPECT_EQ(parse_port("1").value(), 1);
  EXPECT_EQ(parse_port("65535").value(), 65535);
  for (const char* bad : {"", "0", "65536", "x", "80x", "-1", " 80"}) {
    EXPECT_FALSE(parse_port(bad)) << bad;
  }
}

TEST(HttpAddress, HostPort) {
  auto v4 = parse_host_port("10.0.0.1:7963");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 7963);
  auto v6 = parse_host_port("[::1]:80");
  ASSERT_TRUE(v6) << v6.error().to_string();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(parse_host_port("name", 2375)->port, 2375);
  EXPECT_EQ(parse_host_port("name:", 2375)->port, 2375);
  EXPECT_EQ(parse_host_port(":7963")->host, "");
  EXPECT_FALSE(parse_host_port("name"));  // no default: the port is required
  EXPECT_NE(parse_host_port("::1:80").error().message.find("brackets"), std::string::npos);
  EXPECT_NE(parse_host_port("[::1").error().message.find("']'"), std::string::npos);
  EXPECT_FALSE(parse_host_port("user@host:80"));
  EXPECT_FALSE(parse_host_port("host:99999"));
}

TEST(HttpAddress, HttpUrls) {
  auto url = parse_http_url("http://[::1]:8080/prepull/");
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_EQ(url->endpoint.kind, Endpoint::Kind::tcp);
  EXPECT_EQ(url->endpoint.host, "::1");
  EXPECT_EQ(url->endpoint.port, 8080);
  EXPECT_EQ(url->base_path, "/prepull");
  EXPECT_EQ(url->endpoint.host_header(), "[::1]:8080");
  EXPECT_EQ(parse_http_url("http://controller")->endpoint.port, 80);
  for (const char* bad : {"https://c:7963", "c:7963", "http://", "http://c:0", "http://c:x",
                          "http://[::1", "http://[::1]x", "http://c/?q=1", "http://u@c/"}) {
    EXPECT_FALSE(parse_http_url(bad)) << bad;
  }
}

TEST(HttpAddress, LocationsAPeerHandsUs) {
  auto realm = parse_location("https://auth.docker.io/token?service=registry.docker.io");
  ASSERT_TRUE(realm) << realm.error().to_string();
  EXPECT_EQ(realm->endpoint.host, "auth.docker.io");
  EXPECT_EQ(realm->endpoint.port, 443);
  ASSERT_TRUE(realm->endpoint.tls.has_value());
  EXPECT_TRUE(realm->endpoint.tls->verify);
  EXPECT_TRUE(realm->endpoint.tls->ca_file.empty()) << "the system's CAs";
  EXPECT_EQ(realm->target, "/token?service=registry.docker.io");
  auto plain = parse_location("http://[::1]:5000");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->endpoint.tls.has_value());
  EXPECT_EQ(plain->endpoint.port, 5000);
  EXPECT_EQ(plain->target, "/");
  for (const char* bad : {"/relative", "ftp://h/x", "https://u:p@h/x", "https://", "http://h:0/"}) {
    EXPECT_FALSE(parse_location(bad)) << bad;
  }
}

TEST(HttpPercent, EncodesAndDecodes) {
  EXPECT_EQ(percent_encode("10.213.37.1:5000/bb"), "10.213.37.1%3A5000%2Fbb");
  EXPECT_EQ(percent_encode("a b&c=d?e#f%"), "a%20b%26c%3Dd%3Fe%23f%25");
  EXPECT_EQ(percent_encode("reg:5000/a@sha256:ab", "/:@"), "reg:5000/a@sha256:ab");
  EXPECT_EQ(percent_decode("a%20b+c").value(), "a b+c");
  EXPECT_EQ(percent_decode("a%20b+c", true).value(), "a b c");
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_FALSE(percent_decode("%4"));
}

TEST(HttpBase64, RoundTripsBothAlphabets) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("\xfb\xff\xfe", Base64::url), "-__-");
  EXPECT_EQ(base64_encode("\xfb\xff\xfe"), "+//+");
  EXPECT_EQ(base64_decode("aGVsbG8=").value(), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8").value(), "hello");
  EXPECT_EQ(base64_decode("-__-", Base64::url).value(), "\xfb\xff\xfe");
  EXPECT_FALSE(base64_decode("a"));
  EXPECT_FALSE(base64_decode("-__-"));
  EXPECT_FALSE(base64_decode("aGV sbG8="));
}

TEST(HttpJsonBody, BadBodiesAreBadRequestsNamingWhere) {
  EXPECT_TRUE(parse_json_body(R"({"a": 1})"));
  const std::pair<std::string, std::string> cases[] = {
      {"{\"images\": [", "at byte 13"},
      {"{\"a\": \"\xff\"}", "UTF-8"},
      {"{\"\xff\": 1}", "UTF-8"},
      {"{\"a\": 1e400}", "out of range"},
  };
  for (const auto& [body, where] : cases) {
    const auto parsed = parse_json_body(body, "status report");
    ASSERT_FALSE(parsed) << body;
    EXPECT_EQ(parsed.error().code, errc::bad_request);
    EXPECT_EQ(parsed.error().status, 400u);
    EXPECT_EQ(parsed.error().message.rfind("status report: ", 0), 0u) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(where), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace swarm_prepull::http
