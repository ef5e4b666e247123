// The agent API's messages: every one survives encode -> decode unchanged,
// with every image state and every failure reason; a body that is not the
// message is an error naming where, never an exception. (What the agent's and
// the controller's own code produce: api_both_sides_test.cpp.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "api/duration.h"
#include "api/messages.h"

namespace swarm_prepull::api {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// True when `text` is valid UTF-8, as an error body must be.
bool valid_utf8(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

template <class T>
void expect_round_trip(const T& value, Decoded<T> (*decode)(std::string_view)) {
  const std::string body = encode(value);
  const auto decoded = decode(body);
  ASSERT_TRUE(decoded) << decoded.error().to_string() << "\n" << body;
  EXPECT_EQ(*decoded, value) << body;
}

// Each case: a body, and what the error must say (where first).
struct Malformed {
  std::string body;
  std::string expected;
};

template <class T>
void expect_errors(Decoded<T> (*decode)(std::string_view), const std::vector<Malformed>& cases) {
  for (const auto& [body, expected] : cases) {
    const auto decoded = decode(body);
    ASSERT_FALSE(decoded) << body;
    const std::string message = decoded.error().to_string();
    EXPECT_EQ(message.rfind(expected, 0), 0u) << body << "\n -> " << message;
    EXPECT_TRUE(valid_utf8(message)) << body;
  }
}

// -- The vocabularies --------------------------------------------------------

TEST(ApiVocabulary, EveryStateAndReasonHasOneName) {
  for (const auto state : all_image_states) {
    EXPECT_EQ(reconcile::parse_image_state(reconcile::to_string(state)), state);
  }
  for (const auto reason : all_failure_reasons) {
    EXPECT_EQ(parse_failure_reason(to_string(reason)), reason);
  }
  EXPECT_EQ(parse_failure_reason("cosmic"), std::nullopt);
  EXPECT_EQ(parse_failure_reason(""), std::nullopt);
}

// -- Round trips ---------------------------------------------------------------

TEST(ApiRoundTrip, DesiredSet) {
  expect_round_trip(DesiredSet{}, decode_desired_set);
  expect_round_trip(
      DesiredSet{.node_id = "jj8v",
                 .hostname = "nœud-2",
                 .generation = 1732451234567,
                 .images = {{"10.0.0.1:5000/a:1", true, 3},
                            {"10.0.0.1:5000/b@sha256:" + std::string(64, 'a'), false}}},
      decode_desired_set);
}

TEST(ApiRoundTrip, StatusReportWithEveryStateAndEveryReason) {
  StatusReport report{.generation = 17, .agent_version = "0.1.0", .engine_version = "20.10.24"};
  int n = 0;
  for (const auto state : all_image_states) {
    if (state == ImageState::failed) continue;
    report.images.push_back({.ref = "r" + std::to_string(++n) + ":1", .state = state});
  }
  for (const auto reason : all_failure_reasons) {
    report.images.push_back({.ref = "r" + std::to_string(++n) + ":1",
                             .state = ImageState::failed,
                             .reason = reason,
                             .message = "why: " + std::string(to_string(reason)),
                             .attempts = static_cast<std::uint64_t>(n)});
  }
  // A pull in flight after failures keeps its attempts and the last message.
  report.images.push_back({.ref = "retry:1",
                           .state = ImageState::pulling,
                           .message = "connection refused",
                           .attempts = 3,
                           .since = 1732451234.567});
  expect_round_trip(report, decode_status_report);
  expect_round_trip(StatusReport{}, decode_status_report);
}

// A tag's expected digest (tags that move) travels only when known: a set or
// a report without it reads as before, so agents and controllers of either
// version understand each other.
TEST(ApiRoundTrip, TagDigestOnlyWhenKnown) {
  const std::string digest = "sha256:" + std::string(64, 'b');
  const DesiredSet with{
      .generation = 5,
      .images = {{.ref = "10.0.0.1:5000/a:1", .digest = digest}, {.ref = "10.0.0.1:5000/b:2"}}};
  expect_round_trip(with, decode_desired_set);
  const auto body = json::parse(encode(with));
  EXPECT_EQ(body["images"][0]["digest"], digest);
  EXPECT_FALSE(body["images"][1].contains("digest"));
  const auto old = decode_desired_set(
      R"({"generation": 5, "images": [{"ref": "10.0.0.1:5000/a:1", "pull": true}]})");
  ASSERT_TRUE(old) << old.error().to_string();
  EXPECT_EQ(old->images.at(0).digest, "");

  const StatusReport report{
      .generation = 5,
      .images = {{.ref = "10.0.0.1:5000/a:1", .state = ImageState::present, .digest = digest},
                 {.ref = "10.0.0.1:5000/b:2", .state = ImageState::present}}};
  expect_round_trip(report, decode_status_report);
  EXPECT_FALSE(json::parse(encode(report))["images"][1].contains("digest"));

  ImagesListing listing{
      .generation = 5,
      .images = {{.ref = "10.0.0.1:5000/a:1", .digest = digest, .resolved_at = 1732451234.5},
                 {.ref = "10.0.0.1:5000/b:2"}}};
  expect_round_trip(listing, decode_images_listing);
  const auto listed = json::parse(encode(listing));
  EXPECT_EQ(listed["images"][0]["resolved_at"], 1732451234.5);
  EXPECT_FALSE(listed["images"][1].contains("digest"));
  EXPECT_FALSE(listed["images"][1].contains("resolved_at"));
}

TEST(ApiRoundTrip, WarmRequest) {
  expect_round_trip(WarmRequest{.images = {"docker.io/library/redis:7"}}, decode_warm_request);
  for (const auto ttl :
       {std::chrono::milliseconds(1h), std::chrono::milliseconds(30min),
        std::chrono::milliseconds(90s), 1500ms, 1ms, std::chrono::milliseconds(24h)}) {
    expect_round_trip(
        WarmRequest{.images = {"10.0.0.1:5000/shop/web:2.4", "docker.io/library/redis:7"},
                    .constraints = {"node.role==worker", "node.labels.zone != b"},
                    .ttl = ttl},
        decode_warm_request);
  }
}

TEST(ApiRoundTrip, WarmAnswerWithEveryReason) {
  WarmAnswer answer{.id = "warm:3f9c0a1b2c4d", .expires_in = 1800s};
  const std::vector<WarmNode> nodes = {{"i2", "node-2"}, {"i3", ""}};
  answer.images.push_back({.ref = "10.0.0.1:5000/shop/web:2.4",
                           .warm = "10.0.0.1:5000/shop/web@sha256:" + std::string(64, 'c'),
                           .resolved = true,
                           .nodes_desired = 2,
                           .nodes = nodes});
  answer.images.push_back({.ref = "docker.io/library/redis:7",
                           .warm = "docker.io/library/redis:7",
                           .note = "timeout: no answer within 10000 ms",
                           .nodes_desired = 2,
                           .nodes = nodes});
  for (const auto reason : all_failure_reasons) {
    answer.images.push_back({.ref = "10.0.0.1:5000/nope:" + std::string(to_string(reason)),
                             .nodes = nodes,
                             .failure = WarmFailure{reason, "manifest unknown"}});
  }
  answer.images.push_back({.ref = "a:1", .warm = "a:1", .resolved = true});  // no node matches
  expect_round_trip(answer, decode_warm_answer);
}

TEST(ApiRoundTrip, ImagesListingWithEveryStateReasonAndStage) {
  ListedImage image{.ref = "10.0.0.1:5000/a:1", .nodes_desired = 9, .nodes_present = 2};
  int n = 0;
  for (const auto state : all_image_states) {
    image.nodes.push_back({.id = "i" + std::to_string(++n), .hostname = "node", .state = state});
  }
  image.nodes.push_back({.id = "i0", .hostname = "", .state = std::nullopt});  // "unknown"
  for (const auto reason : all_failure_reasons) {
    image.failures.push_back({.node = "i3",
                              .hostname = "node-3",
                              .reason = reason,
                              .message = std::string(to_string(reason)),
                              .stage = FailureStage::pull});
  }
  image.failures.push_back({.reason = FailureReason::not_found,
                            .message = "manifest unknown",
                            .stage = FailureStage::resolve});
  expect_round_trip(ImagesListing{.generation = 17, .images = {image, {.ref = "b:1"}}},
                    decode_images_listing);
  expect_round_trip(ImagesListing{}, decode_images_listing);
}

// -- Malformed bodies ------------------------------------------------------------

const std::string bad_utf8 = "\"a\xff\xfe\"";  // a JSON string holding bytes that are not UTF-8

TEST(ApiMalformed, AnyBody) {
  // What every decoder refuses before it looks at fields.
  const std::vector<Malformed> cases = {
      {"", "body: malformed JSON"},
      {"nope", "body: malformed JSON"},
      {"{\"images\": [", "body: malformed JSON"},
      {"{\"generation\": 1e400, \"images\": []}", "body: malformed JSON: number overflow"},
      {"{\"generation\": 1, \"images\": [" + bad_utf8 + "]}", "body: malformed JSON"},
      {"{" + bad_utf8 + ": 1}", "body: malformed JSON"},
      {std::string(100000, '['), "body: nested deeper than 32 levels"},
      {"[]", "body: expected an object"},
      {"\"text\"", "body: expected an object"},
  };
  expect_errors(decode_desired_set, cases);
  expect_errors(decode_status_report, cases);
  expect_errors(decode_warm_request, cases);
  expect_errors(decode_warm_answer, cases);
  expect_errors(decode_images_listing, cases);
}

TEST(ApiMalformed, DesiredSetNamesTheField) {
  expect_errors(
      decode_desired_set,
      {
          {R"({"images": []})", "generation: required"},
          {R"({"generation": -1, "images": []})", "generation: expected a non-negative integer"},
          {R"({"generation": 1.5, "images": []})", "generation: expected a non-negative integer"},
          {R"({"generation": "1", "images": []})", "generation: expected a non-negative integer"},
          {R"({"generation": 1})", "images: required"},
          {R"({"generation": 1, "images": {}})", "images: expected an array"},
          {R"({"generation": 1, "node_id": 7, "images": []})", "node_id: expected a string"},
          {R"({"generation": 1, "hostname": [], "images": []})", "hostname: expected a string"},
          {R"({"generation": 1, "images": [1]})", "images[0]: expected an object"},
          {R"({"generation": 1, "images": [{"ref": ""}]})",
           "images[0].ref: expected a non-empty string"},
          {R"({"generation": 1, "images": [{"pull": true}]})", "images[0].ref: required"},
          {R"({"generation": 1, "images": [{"ref": "a", "pull": 1}]})",
           "images[0].pull: expected a boolean"},
          {R"({"generation": 1, "images": [{"ref": "a", "retry": -1}]})",
           "images[0].retry: expected a non-negative integer"},
          {R"({"generation": 1, "images": [{"ref": "a:1", "digest": 7}]})",
           "images[0].digest: expected a string"},
          {R"({"generation": 1, "images": [{"ref": "a"}, {"ref": "a"}]})",
           "images[1].ref: 'a' listed twice"},
      });
}

TEST(ApiMalformed, StatusReportNamesTheField) {
  expect_errors(
      decode_status_report,
      {
          {R"({"generation": -1, "images": []})", "generation: expected a non-negative integer"},
          {R"({"generation": 1})", "images: required"},
          {R"({"images": [{"state": "present"}]})", "images[0].ref: required"},
          {R"({"images": [{"ref": 3, "state": "present"}]})",
           "images[0].ref: expected a non-empty string"},
          {R"({"images": [{"ref": "a"}]})", "images[0].state: required"},
          {R"({"images": [{"ref": "a", "state": 1}]})", "images[0].state: expected a string"},
          {R"({"images": [{"ref": "a", "state": "present"}, {"ref": "b", "state": "gone"}]})",
           "images[1].state: unknown state 'gone'"},
          {R"({"images": [{"ref": "a", "state": "failed"}]})", "images[0].reason: required"},
          {R"({"images": [{"ref": "a", "state": "failed", "reason": "cosmic"}]})",
           "images[0].reason: unknown reason 'cosmic'"},
          {R"({"images": [{"ref": "a", "state": "failed", "reason": 1}]})",
           "images[0].reason: expected a string"},
          {R"({"images": [{"ref": "a", "state": "present", "message": 1}]})",
           "images[0].message: expected a string"},
          {R"({"images": [{"ref": "a", "state": "present", "attempts": -1}]})",
           "images[0].attempts: expected a non-negative integer"},
          {R"({"images": [{"ref": "a", "state": "pulling", "since": "now"}]})",
           "images[0].since: expected a number"},
          {R"({"images": [{"ref": "a", "state": "pulling", "since": 1e400}]})",
           "body: malformed JSON"},
          {R"({"images": [{"ref": "a", "state": "present"}, {"ref": "a", "state": "present"}]})",
           "images[1].ref: 'a' listed twice"},
          {R"({"images": [], "agent": 1})", "agent: expected an object"},
          {R"({"images": [], "agent": {"version": 1}})", "agent.version: expected a string"},
          {R"({"images": [], "agent": {"engine_version": {}}})",
           "agent.engine_version: expected a string"},
      });
}

TEST(ApiMalformed, WarmRequestNamesTheField) {
  expect_errors(
      decode_warm_request,
      {
          {R"({})", "images: required"},
          {R"({"images": []})", "images: expected at least one image reference"},
          {R"({"images": "redis"})", "images: expected an array"},
          {R"({"images": ["redis", 7]})", "images[1]: expected a string"},
          {R"({"images": ["redis", "Bad:1"]})", "images[1]: "},
          {R"({"images": ["redis"], "constraints": "x"})", "constraints: expected an array"},
          {R"({"images": ["redis"], "constraints": [1]})", "constraints[0]: expected a string"},
          {R"({"images": ["redis"], "constraints": ["node.role=worker"]})",
           "constraints[0]: 'node.role=worker': "},
          {R"({"images": ["redis"], "ttl": "soon"})", "ttl: expected a duration"},
          {R"({"images": ["redis"], "ttl": "25h"})", "ttl: expected a duration"},
          {R"({"images": ["redis"], "ttl": 0})", "ttl: expected a duration"},
          {R"({"images": ["redis"], "ttl": -5})", "ttl: expected a duration"},
          {R"({"images": ["redis"], "ttl": [[[[1]]]]})", "ttl: expected a duration"},
          {R"({"images": ["redis"], "ttl": 1e400})", "body: malformed JSON"},
          {R"({"images": ["redis"], "colour": "red"})", "colour: unknown key"},
      });
  std::string many = R"({"images": [)";
  for (int i = 0; i <= 1000; ++i)
    many += std::string(i == 0 ? "" : ",") + "\"a:" + std::to_string(i) + "\"";
  expect_errors(decode_warm_request, {{many + "]}", "images: at most 1000 per request"}});
}

TEST(ApiMalformed, WarmAnswerNamesTheField) {
  expect_errors(
      decode_warm_answer,
      {
          {R"({"id": "w"})", "images: required"},
          {R"({"id": 1, "images": []})", "id: expected a string"},
          {R"({"expires_in": "1h", "images": []})", "expires_in: expected a number"},
          {R"({"expires_in": -1, "images": []})", "expires_in: expected a number of seconds"},
          {R"({"images": [{"warm": "a"}]})", "images[0].ref: required"},
          {R"({"images": [{"ref": "a"}]})",
           "images[0].warm: expected a non-empty string (or a failure)"},
          {R"({"images": [{"ref": "a", "warm": "a", "resolved": "yes"}]})",
           "images[0].resolved: expected a boolean"},
          {R"({"images": [{"ref": "a", "warm": "a", "nodes_desired": -2}]})",
           "images[0].nodes_desired: expected a non-negative integer"},
          {R"({"images": [{"ref": "a", "failure": "no"}]})",
           "images[0].failure: expected an object"},
          {R"({"images": [{"ref": "a", "failure": {}}]})", "images[0].failure.reason: required"},
          {R"({"images": [{"ref": "a", "failure": {"reason": "gone"}}]})",
           "images[0].failure.reason: unknown reason"},
          {R"({"images": [{"ref": "a", "warm": "a", "failure": {"reason": "not_found"}}]})",
           "images[0]: a failure with warm"},
          {R"({"images": [{"ref": "a", "resolved": true, "failure": {"reason": "not_found"}}]})",
           "images[0]: a failure with warm, resolved"},
          {R"({"images": [{"ref": "a", "warm": "a", "nodes": {}}]})",
           "images[0].nodes: expected an array"},
          {R"({"images": [{"ref": "a", "warm": "a", "nodes": [{"hostname": "x"}]}]})",
           "images[0].nodes[0].id: required"},
          {R"({"images": [{"ref": "a", "warm": "a", "nodes": [{"id": "i", "hostname": 2}]}]})",
           "images[0].nodes[0].hostname: expected a string"},
      });
}

TEST(ApiMalformed, ImagesListingNamesTheField) {
  const auto image = [](const std::string& fields) {
    return R"({"generation": 1, "images": [{"ref": "a", "nodes_desired": 1, "nodes_present": 0)" +
           fields + "}]}";
  };
  expect_errors(
      decode_images_listing,
      {
          {R"({"images": []})", "generation: required"},
          {R"({"generation": 1, "images": 3})", "images: expected an array"},
          {R"({"generation": 1, "images": [{"ref": 1}]})",
           "images[0].ref: expected a non-empty string"},
          {R"({"generation": 1, "images": [{"ref": "a", "nodes_present": 0}]})",
           "images[0].nodes_desired: required"},
          {R"({"generation": 1, "images": [{"ref": "a", "nodes_desired": 1}]})",
           "images[0].nodes_present: required"},
          {image(R"(, "nodes": [{"id": "i"}])"), "images[0].nodes[0].state: required"},
          {image(R"(, "nodes": [{"id": "i", "state": "gone"}])"),
           "images[0].nodes[0].state: unknown state 'gone'"},
          {image(R"(, "nodes": [{"state": "pulling"}])"), "images[0].nodes[0].id: required"},
          {image(R"(, "failures": [{"stage": "pull"}])"), "images[0].failures[0].reason: required"},
          {image(R"(, "failures": [{"reason": "network"}])"),
           "images[0].failures[0].stage: required"},
          {image(R"(, "failures": [{"reason": "network", "stage": "push"}])"),
           "images[0].failures[0].stage: unknown stage 'push'"},
          {image(R"(, "failures": [{"reason": "network", "stage": "pull", "message": 1}])"),
           "images[0].failures[0].message: expected a string"},
      });
}

TEST(ApiMalformed, WhatIsQuotedIsPrintable) {
  // A state of control characters and a very long one are quoted safely and short.
  const auto decoded = decode_status_report(R"({"images": [{"ref": "a", "state": "\u0001)" +
                                            std::string(5000, 'x') + "\"}]}");
  ASSERT_FALSE(decoded);
  EXPECT_THAT(decoded.error().to_string(),
              ::testing::StartsWith("images[0].state: unknown state '\\x01xxx"));
  EXPECT_LT(decoded.error().to_string().size(), 400u);
}

// -- Encoding what is not UTF-8 ---------------------------------------------------

TEST(ApiEncode, TextThatIsNotUtf8IsReplacedNotThrown) {
  StatusReport report;
  report.images.push_back({.ref = "a:1",
                           .state = ImageState::failed,
                           .reason = FailureReason::other,
                           .message = "engine said \xff\xfe"});
  std::string body;
  ASSERT_NO_THROW(body = encode(report));
  const auto decoded = decode_status_report(body);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(decoded->images[0].message, "engine said \xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD twice
  EXPECT_TRUE(valid_utf8(encode_error("bad \xc3\x28 byte")));
}

TEST(ApiEncode, NonFiniteSinceIsLeftOut) {
  StatusReport report;
  report.images.push_back({.ref = "a:1", .state = ImageState::pulling, .since = std::nan("")});
  const auto decoded = decode_status_report(encode(report));
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(decoded->images[0].since, 0);
}

// -- Error bodies -------------------------------------------------------------------

TEST(ApiErrorBody, TheControllersMessageOrTheText) {
  EXPECT_EQ(decode_error(encode_error("node jj8v is not in the swarm")),
            "node jj8v is not in the swarm");
  EXPECT_EQ(decode_error("<html>Bad Gateway</html>\r\n"), "<html>Bad Gateway</html>");
  EXPECT_EQ(decode_error("oops \xff"), "oops \\xff");
  EXPECT_EQ(decode_error(R"({"message": "x"})"), R"({"message": "x"})");
  EXPECT_EQ(decode_error(""), "");
}

TEST(ApiPrintable, KeepsUtf8EscapesTheRest) {
  EXPECT_EQ(printable("plain"), "plain");
  EXPECT_EQ(printable("nœud ✓ 😀"), "nœud ✓ 😀");
  EXPECT_EQ(printable("a\nb\x7f"), "a\\x0ab\\x7f");
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(printable("\xe2\x9c"), "\\xe2\\x9c");           // cut short
  EXPECT_EQ(printable(std::string(10, 'x'), 4), "xxxx...");
}

// -- Durations ------------------------------------------------------------------------

TEST(ApiDuration, ParsesAndFormats) {
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("1500ms"), 1500ms);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("0.5"), 500ms);
  EXPECT_EQ(parse_duration("90"), 90s);
  for (const char* bad : {"", "s", "1x", "-1s", "1e3", "1.2.3", "1 s", "99999999999h"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
  for (const auto duration :
       {std::chrono::milliseconds(1h), std::chrono::milliseconds(2min),
        std::chrono::milliseconds(90s), 1500ms, 0ms, std::chrono::milliseconds(25h)}) {
    EXPECT_EQ(parse_duration(format_duration(duration)), duration) << format_duration(duration);
  }
  EXPECT_EQ(format_duration(30min), "30m");
  EXPECT_EQ(format_duration(90s), "90s");
}

}  // namespace
}  // namespace swarm_prepull::api

// -- The status page's fields of GET /v1/images (all optional) -------------------

namespace swarm_prepull::api {
namespace {

ImagesListing full_listing() {
  ListedImage image{.ref = "10.0.0.1:5000/a:1", .nodes_desired = 3, .nodes_present = 1};
  image.nodes.push_back(
      {.id = "n2", .hostname = "node-2", .state = ImageState::pulling, .since = 1732451234.5});
  image.nodes.push_back(
      {.id = "n3", .hostname = "node-3", .state = ImageState::waiting, .held = true});
  image.services = {"shop_web", "warm:3f9c0a1b2c4d"};
  image.present_on = {"n1"};
  return ImagesListing{.generation = 17,
                       .images = {image},
                       .reconciled_at = 1732451240.25,
                       .nodes = {{.id = "n1",
                                  .hostname = "node-1",
                                  .role = "manager",
                                  .availability = "active",
                                  .state = "ready"},
                                 {.id = "n2",
                                  .hostname = "node-2",
                                  .role = "worker",
                                  .availability = "drain",
                                  .state = "down",
                                  .agent = "its agent was last heard from 95 s ago"}},
                       .warm = {{.id = "warm:3f9c0a1b2c4d",
                                 .images = {"10.0.0.1:5000/a@sha256:0123"},
                                 .expires_at = 1732453000}}};
}

TEST(ApiRoundTrip, ImagesListingWithTheStatusPageFields) {
  expect_round_trip(full_listing(), decode_images_listing);
}

TEST(ApiRoundTrip, ImagesListingLeavesOutEmptyStatusFields) {
  // What an older controller sends decodes as before, and empty new fields
  // are not written: the answer `wait` polls stays as small as it was.
  const std::string body = encode(ImagesListing{
      .generation = 1, .images = {{.ref = "a:1", .nodes = {{.id = "n", .state = std::nullopt}}}}});
  for (const char* key : {"reconciled_at", "warm", "services", "present_on", "since", "held",
                          "role", "availability"}) {
    EXPECT_EQ(body.find(key), std::string::npos) << key << " in " << body;
  }
  const auto old = decode_images_listing(R"({"generation": 3, "images": [{"ref": "a:1",
      "nodes_desired": 2, "nodes_present": 1, "nodes": [{"id": "n", "state": "pulling"}]}]})");
  ASSERT_TRUE(old) << old.error().to_string();
  EXPECT_TRUE(old->nodes.empty());
  EXPECT_TRUE(old->warm.empty());
  EXPECT_EQ(old->reconciled_at, 0);
  EXPECT_TRUE(old->images[0].present_on.empty());
  EXPECT_EQ(old->images[0].nodes[0].since, 0);
}

TEST(ApiMalformed, ImagesListingStatusFieldsNameTheField) {
  const auto image = [](const std::string& fields) {
    return R"({"generation": 1, "images": [{"ref": "a", "nodes_desired": 1, "nodes_present": 0)" +
           fields + "}]}";
  };
  expect_errors(
      decode_images_listing,
      {
          {image(R"(, "services": "web")"), "images[0].services: expected an array"},
          {image(R"(, "present_on": [1])"), "images[0].present_on[0]: expected a string"},
          {image(R"(, "nodes": [{"id": "i", "state": "pulling", "since": "x"}])"),
           "images[0].nodes[0].since: expected a number"},
          {image(R"(, "nodes": [{"id": "i", "state": "waiting", "held": 1}])"),
           "images[0].nodes[0].held: expected a boolean"},
          {R"({"generation": 1, "images": [], "reconciled_at": "now"})",
           "reconciled_at: expected a number"},
          {R"({"generation": 1, "images": [], "nodes": {}})", "nodes: expected an array"},
          {R"({"generation": 1, "images": [], "nodes": [{"hostname": "h"}]})",
           "nodes[0].id: required"},
          {R"({"generation": 1, "images": [], "nodes": [{"id": "i", "state": 3}]})",
           "nodes[0].state: expected a string"},
          {R"({"generation": 1, "images": [], "warm": [{"images": []}]})", "warm[0].id: required"},
          {R"({"generation": 1, "images": [], "warm": [{"id": "w", "images": [null]}]})",
           "warm[0].images[0]: expected a string"},
      });
}

// Disk admission (issue 10): held images carry reason disk_low and the
// agent's message; the report carries the data root's space. All optional, so
// agents and controllers without them read each other as before.
TEST(ApiDisk, HeldAndDiskFieldsRoundTrip) {
  StatusReport report{.generation = 3,
                      .images = {{.ref = "a:1",
                                  .state = ImageState::held,
                                  .message = "disk_low: 12.5MiB free of 289MiB",
                                  .attempts = 2}},
                      .agent_version = "0.1.0",
                      .engine_version = "20.10.24",
                      .disk_free_bytes = 13107200,
                      .disk_size_bytes = 303038464};
  expect_round_trip(report, decode_status_report);
  const auto body = nlohmann::json::parse(encode(report));
  EXPECT_EQ(body["images"][0]["reason"], "disk_low");
  EXPECT_EQ(body["agent"]["disk_free_bytes"], 13107200u);

  ListedImage image{.ref = "a:1", .nodes_desired = 1};
  image.nodes.push_back({.id = "i1",
                         .hostname = "node-3",
                         .state = ImageState::held,
                         .message = "disk_low: 12.5MiB free of 289MiB"});
  expect_round_trip(ImagesListing{.generation = 4, .images = {image}}, decode_images_listing);
}

TEST(ApiDisk, OlderBodiesWithoutTheFieldsDecode) {
  auto report = decode_status_report(
      R"({"images": [{"ref": "a:1", "state": "held"}], "agent": {"version": "0.1.0"}})");
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->images[0].state, ImageState::held);
  EXPECT_EQ(report->disk_free_bytes, std::nullopt);
  EXPECT_EQ(report->disk_size_bytes, std::nullopt);
  auto listing = decode_images_listing(
      R"({"generation": 1, "images": [{"ref": "a:1", "nodes_desired": 1, "nodes_present": 0,
          "nodes": [{"id": "i1", "state": "held"}]}]})");
  ASSERT_TRUE(listing) << listing.error().to_string();
  EXPECT_EQ(listing->images[0].nodes[0].state, ImageState::held);
  EXPECT_EQ(listing->images[0].nodes[0].message, "");
}

TEST(ApiDisk, MalformedHeldOrDiskFieldsNameTheField) {
  auto reason = decode_status_report(
      R"({"images": [{"ref": "a:1", "state": "held", "reason": "not_found"}]})");
  ASSERT_FALSE(reason);
  EXPECT_EQ(reason.error().where, "images[0].reason");
  auto negative = decode_status_report(R"({"images": [], "agent": {"disk_free_bytes": -1}})");
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().where, "agent.disk_free_bytes");
  auto text = decode_status_report(R"({"images": [], "agent": {"disk_size_bytes": "big"}})");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().where, "agent.disk_size_bytes");
}

// Image GC (issue 10): an agent reports its mode, last candidates and totals
// under agent.gc; the controller lists them per node with the disk fields.
TEST(ApiPriority, DesiredImagesCarryTheirPullPriority) {
  DesiredSet set{.node_id = "n1", .generation = 2};
  set.images = {{.ref = "a:1", .priority = reconcile::PullPriority::urgent},
                {.ref = "b:1"},
                {.ref = "c:1", .priority = reconcile::PullPriority::previous},
                {.ref = "d:1", .priority = reconcile::PullPriority::declared}};
  expect_round_trip(set, decode_desired_set);
  const auto body = nlohmann::json::parse(encode(set));
  EXPECT_EQ(body["images"][0]["priority"], "urgent");
  EXPECT_FALSE(body["images"][1].contains("priority"));  // current, as older controllers meant
  auto unknown =
      decode_desired_set(R"({"generation": 1, "images": [{"ref": "a:1", "priority": "soon"}]})");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().where, "images[0].priority");
}

TEST(ApiPriority, ImagesOfStartingTasksAreMarked) {
  DesiredSet set{.node_id = "n1", .generation = 2};
  set.images = {{.ref = "a:1", .starting = true}, {.ref = "b:1"}};
  expect_round_trip(set, decode_desired_set);
  const auto body = nlohmann::json::parse(encode(set));
  EXPECT_EQ(body["images"][0]["starting"], true);
  EXPECT_FALSE(body["images"][1].contains("starting"));
  auto bad =
      decode_desired_set(R"({"generation": 1, "images": [{"ref": "a:1", "starting": "yes"}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().where, "images[0].starting");
}

TEST(ApiGrants, AGrantTakenBackIsMarkedWithdraw) {
  DesiredSet set{.node_id = "n1", .generation = 2};
  set.images = {{.ref = "a:1", .pull = false, .withdraw = true}, {.ref = "b:1", .pull = false}};
  expect_round_trip(set, decode_desired_set);
  const auto body = nlohmann::json::parse(encode(set));
  EXPECT_EQ(body["images"][0]["withdraw"], true);
  EXPECT_FALSE(body["images"][1].contains("withdraw"));  // as older controllers meant
  auto bad = decode_desired_set(R"({"generation": 1, "images": [{"ref": "a:1", "withdraw": 1}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().where, "images[0].withdraw");
}

TEST(ApiCache, ACacheReferenceIsByDigestOnly) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  DesiredSet set{.node_id = "n1", .generation = 2};
  set.images = {{.ref = "origin:5000/app@" + digest, .via = "cache:5000/app@" + digest},
                {.ref = "b:1"}};
  expect_round_trip(set, decode_desired_set);
  const auto body = nlohmann::json::parse(encode(set));
  EXPECT_EQ(body["images"][0]["via"], "cache:5000/app@" + digest);
  EXPECT_FALSE(body["images"][1].contains("via"));
  for (const std::string via : {"cache:5000/app:1", "Cache:5000//app", "7"}) {
    auto bad = decode_desired_set(R"({"generation": 1, "images": [{"ref": "a:1", "via": ")" + via +
                                  R"("}]})");
    ASSERT_FALSE(bad) << via;
    EXPECT_EQ(bad.error().where, "images[0].via") << via;
    EXPECT_NE(bad.error().message.find("expected a reference by digest"), std::string::npos);
  }
}

TEST(ApiGc, SummaryRoundTripsInReportsAndListings) {
  const GcSummary gc{.mode = "on",
                     .candidates = 2,
                     .candidate_bytes = 41943040,
                     .removed_images = 3,
                     .reclaimed_bytes = 62914560};
  StatusReport report{.generation = 3, .disk_free_bytes = 10, .disk_size_bytes = 100, .gc = gc};
  expect_round_trip(report, decode_status_report);
  const auto body = nlohmann::json::parse(encode(report));
  EXPECT_EQ(body["agent"]["gc"]["mode"], "on");
  EXPECT_EQ(body["agent"]["gc"]["reclaimed_bytes"], 62914560u);

  ImagesListing listing{.generation = 4};
  listing.nodes.push_back({.id = "i3",
                           .hostname = "node-3",
                           .role = "worker",
                           .availability = "active",
                           .state = "ready",
                           .disk_free_bytes = 10,
                           .disk_size_bytes = 100,
                           .gc = gc});
  listing.nodes.push_back({.id = "i4", .hostname = "node-4"});  // an agent that said nothing
  expect_round_trip(listing, decode_images_listing);
  const auto listed = nlohmann::json::parse(encode(listing));
  EXPECT_EQ(listed["nodes"][0]["gc"]["candidates"], 2u);
  EXPECT_FALSE(listed["nodes"][1].contains("gc"));
  EXPECT_FALSE(listed["nodes"][1].contains("disk_free_bytes"));
}

TEST(ApiGc, MalformedSummaryNamesTheField) {
  auto mode = decode_status_report(R"({"images": [], "agent": {"gc": {"mode": 1}}})");
  ASSERT_FALSE(mode);
  EXPECT_EQ(mode.error().where, "agent.gc.mode");
  auto count = decode_status_report(R"({"images": [], "agent": {"gc": {"candidates": -2}}})");
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().where, "agent.gc.candidates");
  auto shape = decode_images_listing(
      R"({"generation": 1, "images": [], "nodes": [{"id": "i1", "gc": [1]}]})");
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().where, "nodes[0].gc");
}

}  // namespace
}  // namespace swarm_prepull::api
