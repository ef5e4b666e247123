// classify_pull_failure against the errors real engines report: the HTTP
// status of POST /images/create, or the error line inside a 200 pull stream.
#include <gtest/gtest.h>

#include "agent/failure.h"

namespace swarm_prepull::agent {
namespace {

using engine::engine_errc;

engine::Error error(engine_errc code, unsigned status, std::string message) {
  return {engine::make_error_code(code), "unix:///var/run/docker.sock",
          "POST /v1.41/images/create?fromImage=x&tag=y", status, std::move(message)};
}

struct Case {
  const char* name;
  engine::Error error;
  Reason expected;
};

TEST(AgentFailure, ClassifiesRealEngineMessages) {
  const Case cases[] = {
      // NOTES.md: a missing tag in the sandbox registry, HTTP 404 before any progress.
      {"missing tag",
       error(engine_errc::not_found, 404,
             "manifest for 10.213.37.1:5000/prepull/small:nope not found: "
             "manifest unknown: manifest unknown"),
       Reason::not_found},
      {"missing repo on hub",
       error(engine_errc::not_found, 404,
             "pull access denied for nosuchimage, repository does not "
             "exist or may require 'docker login': denied: requested "
             "access to the resource is denied"),
       Reason::not_found},
      {"unknown digest in stream",
       error(engine_errc::pull_failed, 200, "manifest unknown: manifest unknown"),
       Reason::not_found},
      {"registry name unknown",
       error(engine_errc::server_error, 500, "name unknown: repository name not known to registry"),
       Reason::not_found},
      {"no credentials",
       error(engine_errc::server_error, 500,
             "Head \"https://r.example/v2/app/manifests/1\": no basic auth "
             "credentials"),
       Reason::unauthorized},
      {"401",
       error(engine_errc::unauthorized, 401,
             "Head \"https://r.example/v2/app/manifests/1\": unauthorized: "
             "authentication required"),
       Reason::unauthorized},
      {"wrong password in stream",
       error(engine_errc::server_error, 500,
             "Get \"https://r.example/v2/\": unauthorized: incorrect "
             "username or password"),
       Reason::unauthorized},
      {"403 denied", error(engine_errc::unauthorized, 403, "denied: access forbidden"),
       Reason::unauthorized},
      {"hub rate limit",
       error(engine_errc::server_error, 500,
             "toomanyrequests: You have reached your pull rate limit. You may "
             "increase the limit by authenticating and upgrading: "
             "https://www.docker.com/increase-rate-limit"),
       Reason::rate_limited},
      {"HTTP 429", error(engine_errc::bad_request, 429, "Too Many Requests"), Reason::rate_limited},
      {"disk full in stream",
       error(engine_errc::pull_failed, 200,
             "failed to register layer: Error processing tar file(exit "
             "status 1): write /bin/busybox: no space left on device"),
       Reason::disk_full},
      {"registry down",
       error(engine_errc::server_error, 500,
             "Get \"http://10.213.37.1:5000/v2/\": dial tcp 10.213.37.1:5000: "
             "connect: connection refused"),
       Reason::network},
      {"dns",
       error(engine_errc::server_error, 500,
             "Get \"https://nosuch.example/v2/\": dial tcp: lookup nosuch.example on "
             "10.0.0.2:53: no such host"),
       Reason::network},
      {"reset in stream",
       error(engine_errc::pull_failed, 200,
             "read tcp 10.0.0.5:41234->10.0.0.9:443: read: connection reset "
             "by peer"),
       Reason::network},
      {"engine socket gone",
       error(engine_errc::connection_failed, 0, "connect: No such file or directory"),
       Reason::network},
      {"engine went away mid-pull",
       error(engine_errc::connection_lost, 200, "the stream broke off: end of stream"),
       Reason::network},
      {"dial timeout",
       error(engine_errc::server_error, 500,
             "Get \"https://r.example/v2/\": dial tcp 10.0.0.9:443: i/o timeout"),
       Reason::timeout},
      {"client timeout",
       error(engine_errc::server_error, 500,
             "Get \"https://r.example/v2/\": net/http: request canceled while "
             "waiting for connection (Client.Timeout exceeded while awaiting "
             "headers)"),
       Reason::timeout},
      {"TLS handshake timeout",
       error(engine_errc::server_error, 500,
             "Get \"https://r.example/v2/\": net/http: TLS handshake "
             "timeout"),
       Reason::timeout},
      {"our pull bound", error(engine_errc::timeout, 0, "no progress within 120000 ms"),
       Reason::timeout},
      {"something else",
       error(engine_errc::server_error, 500, "failed to register layer: invalid tar header"),
       Reason::other},
      {"bad response", error(engine_errc::bad_response, 200, "malformed JSON line"), Reason::other},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(to_string(classify_pull_failure(c.error)), to_string(c.expected)) << c.name;
  }
}

TEST(AgentFailure, PermanentOnlyForNotFoundAndUnauthorized) {
  for (const Reason reason : all_reasons) {
    EXPECT_EQ(is_permanent(reason), reason == Reason::not_found || reason == Reason::unauthorized)
        << to_string(reason);
  }
}

TEST(AgentFailure, NamesRoundTrip) {
  for (const Reason reason : all_reasons) {
    EXPECT_EQ(parse_failure_reason(to_string(reason)), reason);
  }
  EXPECT_EQ(parse_failure_reason("nope"), std::nullopt);
}

}  // namespace
}  // namespace swarm_prepull::agent
