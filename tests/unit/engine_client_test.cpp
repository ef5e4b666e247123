// The client against a loopback fake engine that answers scripted bytes: what
// a real engine cannot be made to do (truncate, stall, lie about JSON, send
// errors inside a stream), and the exact requests we send.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/client.h"
#include "tests/unit/engine_fake_engine.h"

namespace swarm_prepull::engine {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using net::ip::tcp;
using testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using fake::FakeEngine;
using fake::json;
using fake::ping;
using fake::Reply;
using fake::response;
using fake::stream;
using fake::TempDir;

const std::string kServiceEvent =
    R"({"Type":"service","Action":"create","Actor":{"ID":"s1","Attributes":{"name":"web"}},)"
    R"("scope":"swarm","time":1700000000,"timeNano":1700000000000000123})";
const std::string kNodeEvent =
    R"({"Type":"node","Action":"update","Actor":{"ID":"n1","Attributes":{"name":"node-2"}},)"
    R"("timeNano":1700000001000000000})";

// ---- Fixture -----------------------------------------------------------------

class EngineClient : public ::testing::Test {
 protected:
  static ClientOptions short_options() {
    ClientOptions options;
    options.request_timeout = 500ms;
    options.pull_timeout = 5s;
    options.pull_idle_timeout = 300ms;
    return options;
  }

  // Starts a fake engine on 127.0.0.1 with `replies` and a client for it.
  Client& serve(std::vector<Reply> replies, ClientOptions options = short_options()) {
    fake_ = std::make_unique<FakeEngine<tcp>>(
        io_, tcp::endpoint(net::ip::address_v4::loopback(), 0), std::move(replies));
    options.endpoint.kind = Endpoint::Kind::tcp;
    options.endpoint.host = "127.0.0.1";
    options.endpoint.port = fake_->endpoint().port();
    client_ = std::make_unique<Client>(options);
    return *client_;
  }

  const std::vector<std::string>& requests() const { return fake_->requests(); }

  template <class T>
  T run(net::awaitable<T> operation) {
    return fake::run(io_, std::move(operation));
  }

  net::io_context io_;
  std::unique_ptr<FakeEngine<tcp>> fake_;
  std::unique_ptr<Client> client_;
};

// ---- Version negotiation -----------------------------------------------------

TEST_F(EngineClient, NegotiatesTheEnginesVersion) {
  Client& client = serve({ping("1.41")});
  const auto version = run(client.negotiate());
  ASSERT_TRUE(version) << version.error().to_string();
  EXPECT_EQ(*version, (ApiVersion{1, 41}));
  EXPECT_EQ(client.api_version(), (ApiVersion{1, 41}));
  EXPECT_THAT(requests().at(0), testing::StartsWith("GET /_ping HTTP/1.1\r\n"));
}

TEST_F(EngineClient, NewerEnginesAreSpokenToInOurVersion) {
  Client& client = serve({ping("1.47"), json("[]")});
  ASSERT_TRUE(run(client.nodes()));
  EXPECT_THAT(requests().at(1), testing::StartsWith("GET /v1.44/nodes HTTP/1.1\r\n"));
}

TEST_F(EngineClient, RefusesEnginesOlderThan141) {
  Client& client = serve({ping("1.40")});
  const auto version = run(client.negotiate());
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, engine_errc::unsupported_version);
  const std::string endpoint = client.options().endpoint.to_string();
  EXPECT_EQ(version.error().message,
            "engine at " + endpoint + " speaks API 1.40; swarm-prepull needs 1.41 or newer");
  EXPECT_FALSE(client.api_version().has_value());
}

TEST_F(EngineClient, PingWithoutApiVersionIsABadResponse) {
  Client& client = serve({json("OK")});
  const auto version = run(client.negotiate());
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, engine_errc::bad_response);
  EXPECT_THAT(version.error().message, HasSubstr("Api-Version"));
}

// ---- Typed reads -------------------------------------------------------------

TEST_F(EngineClient, ReadsNodesIntoSwarmTypes) {
  Client& client = serve({ping(), json(R"([
    {"ID": "n1", "Spec": {"Role": "manager", "Availability": "active"},
     "Description": {"Hostname": "node-1", "Platform": {"Architecture": "x86_64", "OS": "linux"}},
     "Status": {"State": "ready", "Addr": "10.213.37.2"}, "ManagerStatus": {"Leader": true}},
    {"ID": "n2", "Spec": {"Role": "worker"}, "Description": {"Hostname": "node-2"},
     "Status": {"State": "down"}}])")});
  const auto nodes = run(client.nodes());
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ(nodes->at(0).hostname, "node-1");
  EXPECT_TRUE(nodes->at(0).leader);
  EXPECT_EQ(nodes->at(1).state, "down");
  EXPECT_THAT(requests().at(1), testing::StartsWith("GET /v1.41/nodes HTTP/1.1\r\n"));
}

TEST_F(EngineClient, TaskFiltersGoInTheQueryAsJson) {
  Client& client = serve({ping(), json(R"([{"ID": "t1", "ServiceID": "s1", "NodeID": "n1",
    "DesiredState": "running", "Status": {"State": "running"},
    "Spec": {"ContainerSpec": {"Image": "bb:1@sha256:aa"}}}])")});
  const auto tasks = run(client.tasks({{"service", {"web"}}, {"desired-state", {"running"}}}));
  ASSERT_TRUE(tasks) << tasks.error().to_string();
  EXPECT_EQ(tasks->at(0).image, "bb:1@sha256:aa");
  // {"desired-state":["running"],"service":["web"]}
  EXPECT_THAT(requests().at(1),
              testing::StartsWith("GET /v1.41/tasks?filters=%7B%22desired-state%22%3A%5B%22running"
                                  "%22%5D%2C%22service%22%3A%5B%22web%22%5D%7D HTTP/1.1\r\n"));
}

// The controller keeps only the tasks it reads (starting ones, the agents'):
// the others are dropped as they are read, yet still checked.
TEST_F(EngineClient, TasksNotWantedAreDroppedButStillChecked) {
  Client& client = serve({ping(), json(R"([
    {"ID": "t1", "NodeID": "n1", "DesiredState": "running", "Status": {"State": "running"}},
    {"ID": "t2", "NodeID": "n1", "DesiredState": "running", "Status": {"State": "preparing"}},
    {"ID": "t3", "NodeID": "n2", "DesiredState": "running", "Status": {"State": "running"}}])"),
                          json(R"([{"ID": "t1", "Status": {"State": "running"}},
    {"ID": "t2", "Status": {"State": 5}}])")});
  const auto starting = [](const reconcile::Task& task) { return task.state == "preparing"; };
  const auto tasks = run(client.tasks({}, starting));
  ASSERT_TRUE(tasks) << tasks.error().to_string();
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ(tasks->at(0).id, "t2");
  const auto malformed = run(client.tasks({}, starting));
  ASSERT_FALSE(malformed);
  EXPECT_THAT(malformed.error().message, HasSubstr("element 1: "));
}

// A swarm's task list is kilobytes of spec per task; only what decode_task
// reads is kept (reconcile::task_members), and that is still checked.
TEST_F(EngineClient, TaskListsKeepOnlyTheMembersATaskIsDecodedFrom) {
  Client& client = serve({ping(), json(R"([{"ID": "t1", "Version": {"Index": 9},
    "ServiceID": "s1", "NodeID": "n1", "Slot": 2, "DesiredState": "running",
    "Labels": {"a": "b"}, "Status": {"State": "preparing", "Err": "",
      "ContainerStatus": {"ContainerID": "c1", "PID": 0}, "PortStatus": {}},
    "Spec": {"ContainerSpec": {"Image": "bb:1@sha256:aa", "Args": ["x"], "Mounts": [{}]},
      "Resources": {"Limits": {}}, "Placement": {"Constraints": ["node.role==worker"]}},
    "NetworksAttachments": [{"Network": {"ID": "net", "Spec": {"Name": "ingress"}},
      "Addresses": ["10.0.0.5/24"]}, {"Addresses": ["10.0.1.7/24"]}]}])"),
                          json(R"([{"ID": "t2", "Status": {"State": 5}}])")});
  const auto tasks = run(client.tasks({}));
  ASSERT_TRUE(tasks) << tasks.error().to_string();
  ASSERT_EQ(tasks->size(), 1u);
  const reconcile::Task& task = tasks->at(0);
  EXPECT_EQ(task.id, "t1");
  EXPECT_EQ(task.service_id, "s1");
  EXPECT_EQ(task.node_id, "n1");
  EXPECT_EQ(task.slot, 2u);
  EXPECT_EQ(task.desired_state, "running");
  EXPECT_EQ(task.state, "preparing");
  EXPECT_EQ(task.image, "bb:1@sha256:aa");
  EXPECT_THAT(task.addresses, testing::ElementsAre("10.0.0.5/24", "10.0.1.7/24"));
  const auto malformed = run(client.tasks({}));
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().to_string().find("Status/State"), std::string::npos)
      << malformed.error().to_string();
}

TEST_F(EngineClient, ImagesAndNamesWithSlashesColonsAndDigests) {
  Client& client =
      serve({ping(), json(R"([{"Id": "sha256:1", "RepoTags": ["10.213.37.1:5000/bb:1"],
    "RepoDigests": ["10.213.37.1:5000/bb@sha256:aa"], "Size": 1200}])"),
             json(R"({"Id": "sha256:1", "RepoTags": [], "RepoDigests": ["r@sha256:aa"]})"),
             json(R"([{"Untagged": "10.213.37.1:5000/bb:1"}])")});
  const auto images = run(client.images());
  ASSERT_TRUE(images) << images.error().to_string();
  EXPECT_EQ(images->at(0).repo_digests.at(0), "10.213.37.1:5000/bb@sha256:aa");
  const auto image = run(client.inspect_image("10.213.37.1:5000/bb@sha256:aa"));
  ASSERT_TRUE(image) << image.error().to_string();
  EXPECT_EQ(image->repo_digests.at(0), "r@sha256:aa");
  ASSERT_TRUE(run(client.remove_image("10.213.37.1:5000/bb:1", /*force=*/true)));
  EXPECT_THAT(requests().at(1), testing::StartsWith("GET /v1.41/images/json HTTP/1.1"));
  EXPECT_THAT(requests().at(2),
              testing::StartsWith("GET /v1.41/images/10.213.37.1:5000/bb@sha256:aa/json HTTP/1.1"));
  EXPECT_THAT(
      requests().at(3),
      testing::StartsWith("DELETE /v1.41/images/10.213.37.1:5000/bb:1?force=true HTTP/1.1"));
}

TEST_F(EngineClient, DistributionReturnsTheDescriptorDigest) {
  Client& client = serve({ping(), json(R"({"Descriptor": {"mediaType":
    "application/vnd.docker.distribution.manifest.v2+json", "digest": "sha256:abc", "size": 527},
    "Platforms": [{"architecture": "amd64", "os": "linux"}]})")});
  const auto distribution = run(client.distribution("10.213.37.1:5000/bb:1", "e30="));
  ASSERT_TRUE(distribution) << distribution.error().to_string();
  EXPECT_EQ(distribution->digest, "sha256:abc");
  EXPECT_EQ(distribution->size, 527);
  ASSERT_EQ(distribution->platforms.size(), 1u);
  EXPECT_EQ(distribution->platforms[0].architecture, "amd64");
  EXPECT_THAT(requests().at(1),
              testing::StartsWith("GET /v1.41/distribution/10.213.37.1:5000/bb:1/json HTTP/1.1"));
  EXPECT_THAT(requests().at(1), HasSubstr("X-Registry-Auth: e30="));
}

TEST_F(EngineClient, GetJsonReturnsAnyDocument) {
  Client& client = serve({ping(), json(R"({"Swarm": {"NodeID": "n1"}})")});
  const auto info = run(client.get_json("/info"));
  ASSERT_TRUE(info) << info.error().to_string();
  EXPECT_EQ((*info)["Swarm"]["NodeID"], "n1");
}

// ---- Engine errors -------------------------------------------------------------

TEST_F(EngineClient, ServiceUnavailableCarriesTheEnginesMessage) {
  Client& client = serve(
      {ping(), json(R"({"message":"This node is not a swarm manager. Use \"docker swarm init\" or )"
                    R"(\"docker swarm join\" to connect this node to swarm and try again."})",
                    503, "Service Unavailable")});
  const auto services = run(client.services());
  ASSERT_FALSE(services);
  const Error& error = services.error();
  EXPECT_EQ(error.code, engine_errc::unavailable);
  EXPECT_EQ(error.status, 503u);
  EXPECT_EQ(error.request, "GET /v1.41/services");
  EXPECT_EQ(error.endpoint, client.options().endpoint.to_string());
  EXPECT_THAT(error.message, testing::StartsWith("This node is not a swarm manager."));
  EXPECT_EQ(error.to_string(), "GET /v1.41/services at " + error.endpoint +
                                   ": engine unavailable (HTTP 503): " + error.message);
}

TEST_F(EngineClient, NotFoundImage) {
  Client& client =
      serve({ping(), json(R"({"message":"No such image: nope:1"})", 404, "Not Found")});
  const auto image = run(client.inspect_image("nope:1"));
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, engine_errc::not_found);
  EXPECT_EQ(image.error().message, "No such image: nope:1");
}

// ---- Malformed responses -----------------------------------------------------

TEST_F(EngineClient, TruncatedBodyIsABadResponse) {
  Client& client = serve({ping(), {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[{\"ID\": "}});
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::bad_response);
  EXPECT_THAT(nodes.error().message, HasSubstr("truncated"));
}

TEST_F(EngineClient, InvalidJsonIsABadResponse) {
  Client& client = serve({ping(), json("[{\"ID\": nope}]")});
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::bad_response);
  EXPECT_EQ(nodes.error().status, 200u);
  EXPECT_THAT(nodes.error().message, HasSubstr("invalid JSON"));
}

TEST_F(EngineClient, ObjectWhereAListIsExpectedIsABadResponse) {
  Client& client = serve({ping(), json(R"({"ID": "n1"})")});
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::bad_response);
  EXPECT_THAT(nodes.error().message, HasSubstr("expected a JSON array"));
}

// Lists are decoded element by element as they are read (engine/client.cpp,
// parse_list): the one that is wrong is still named, whatever its shape.
TEST_F(EngineClient, AMalformedElementOfAListIsNamedByItsIndex) {
  Client& client = serve({ping(), json(R"([{"ID": "n1"}, {"ID": "n2"}, 7, {"ID": "n4"}])"),
                          json(R"([{"ID": "n1"}, [{"ID": "n2"}]])")});
  const auto scalar = run(client.nodes());
  ASSERT_FALSE(scalar);
  EXPECT_EQ(scalar.error().code, engine_errc::bad_response);
  EXPECT_THAT(scalar.error().message, HasSubstr("element 2: "));
  const auto nested = run(client.nodes());
  ASSERT_FALSE(nested);
  EXPECT_THAT(nested.error().message, HasSubstr("element 1: "));
}

TEST_F(EngineClient, WrongFieldTypeNamesThePath) {
  Client& client = serve({ping(), json(R"([{"ID": "n1", "Spec": {"Role": 7}}])")});
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::bad_response);
  EXPECT_THAT(nodes.error().message, HasSubstr("/Spec/Role"));
}

TEST_F(EngineClient, BodyOverTheLimitIsABadResponse) {
  ClientOptions options = short_options();
  options.body_limit = 1024;
  Client& client = serve({ping(), json("[" + std::string(4000, ' ') + "]")}, options);
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::bad_response);
  EXPECT_THAT(nodes.error().message, HasSubstr("exceeds the limit of 1024 bytes"));
}

TEST_F(EngineClient, ChunkedBodyOverTheLimitIsABadResponse) {
  ClientOptions options = short_options();
  options.body_limit = 1024;
  Client& client = serve({ping(), stream({std::string(3000, ' ')}, /*end=*/true)}, options);
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::bad_response);
}

TEST_F(EngineClient, HeaderOverTheLimitIsABadResponse) {
  ClientOptions options = short_options();
  options.header_limit = 512;
  Client& client = serve(
      {ping(), {response(200, "OK", "[]", "X-Junk: " + std::string(2000, 'j') + "\r\n")}}, options);
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::bad_response);
  EXPECT_THAT(nodes.error().message, HasSubstr("header"));
}

TEST_F(EngineClient, GarbageInsteadOfHttpIsABadResponse) {
  Client& client = serve({{"SSH-2.0-OpenSSH_9.2\r\n\r\n"}});
  const auto version = run(client.negotiate());
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, engine_errc::bad_response);
}

TEST_F(EngineClient, EngineThatNeverAnswersTimesOut) {
  Client& client = serve({{"", /*hold_open=*/true}});
  const auto start = Clock::now();
  const auto version = run(client.negotiate());
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, engine_errc::timeout);
  EXPECT_EQ(version.error().message, "no complete response within 500 ms");
  EXPECT_GE(elapsed, 450ms);  // it waited for the engine, then gave up (the fake never answers)
  std::printf("[ figures  ] timed out after %.1f ms (limit 500 ms)\n",
              std::chrono::duration<double, std::milli>(elapsed).count());
}

TEST_F(EngineClient, EngineThatStallsMidBodyTimesOut) {
  Client& client = serve({ping(), {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[", true}});
  const auto start = Clock::now();
  const auto nodes = run(client.nodes());
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code, engine_errc::timeout);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(EngineClient, NothingListeningIsConnectionFailed) {
  std::uint16_t port = 0;
  {
    tcp::acceptor closed(io_, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    port = closed.local_endpoint().port();
  }
  ClientOptions options = short_options();
  options.endpoint.kind = Endpoint::Kind::tcp;
  options.endpoint.host = "127.0.0.1";
  options.endpoint.port = port;
  Client client(options);
  const auto version = run(client.negotiate());
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, engine_errc::connection_failed);
  EXPECT_THAT(version.error().message, HasSubstr("Connection refused"));
}

// ---- Unix sockets ------------------------------------------------------------

TEST_F(EngineClient, SpeaksOverAUnixSocket) {
  TempDir dir;
  const std::string socket = (dir.path() / "docker.sock").string();
  FakeEngine<net::local::stream_protocol> fake(
      io_, net::local::stream_protocol::endpoint(socket),
      {ping(), json(R"([{"ID": "c1", "Spec": {"Name": "prepull"}}])")});
  ClientOptions options = short_options();
  options.endpoint = *parse_docker_host("unix://" + socket);
  Client client(options);
  const auto configs = run(client.configs());
  ASSERT_TRUE(configs) << configs.error().to_string();
  EXPECT_EQ(configs->at(0).name, "prepull");
  EXPECT_THAT(fake.requests().at(1), HasSubstr("Host: docker\r\n"));
}

TEST_F(EngineClient, MissingUnixSocketIsConnectionFailedNamingThePath) {
  ClientOptions options = short_options();
  options.endpoint = *parse_docker_host("unix:///nonexistent/docker.sock");
  Client client(options);
  const auto version = run(client.negotiate());
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, engine_errc::connection_failed);
  EXPECT_EQ(version.error().to_string(),
            "GET /_ping at unix:///nonexistent/docker.sock: cannot connect: "
            "connecting to /nonexistent/docker.sock: No such file or directory");
}

// ---- Events ------------------------------------------------------------------

TEST_F(EngineClient, EventsAreDecodedLineByLineUntilTheStreamBreaks) {
  Client& client = serve({ping(), stream({kServiceEvent, kNodeEvent}, /*end=*/false)});
  std::vector<reconcile::Event> events;
  const Error ended = run(
      client.follow_events({}, [&](const reconcile::Event& event) { events.push_back(event); }));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "service");
  EXPECT_EQ(events[0].action, "create");
  EXPECT_EQ(events[0].actor_attributes.at("name"), "web");
  EXPECT_EQ(events[0].time_nano, 1700000000000000123);
  EXPECT_EQ(events[1].type, "node");
  // The fake closed the connection mid-stream: the caller reconnects.
  EXPECT_EQ(ended.code, engine_errc::connection_lost);
  // {"type":["config","node","service"]}
  EXPECT_THAT(requests().at(1),
              testing::StartsWith("GET /v1.41/events?filters=%7B%22type%22%3A%5B%22service%22%2C%22"
                                  "node%22%2C%22config%22%5D%7D HTTP/1.1"));
}

TEST_F(EngineClient, EventsResumeFromSince) {
  Client& client = serve({ping(), stream({}, /*end=*/true)});
  EventOptions options;
  options.filters = {{"type", {"service"}}};
  options.since_nano = 1700000000000000123;
  const Error ended = run(client.follow_events(options, [](const reconcile::Event&) {}));
  EXPECT_EQ(ended.code, engine_errc::connection_lost);
  EXPECT_THAT(ended.message, HasSubstr("ended the events stream"));
  EXPECT_THAT(requests().at(1), HasSubstr("&since=1700000000.000000123 HTTP/1.1"));
}

TEST_F(EngineClient, MalformedEventLineEndsTheStreamWithBadResponse) {
  Client& client =
      serve({ping(), stream({kServiceEvent, "{\"Type\": \"service\", oops", kNodeEvent},
                            /*end=*/true)});
  int seen = 0;
  const Error ended = run(client.follow_events({}, [&](const reconcile::Event&) { ++seen; }));
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(ended.code, engine_errc::bad_response);
  EXPECT_THAT(ended.message, HasSubstr("invalid JSON"));
}

TEST_F(EngineClient, EventOfTheWrongShapeEndsTheStreamWithBadResponse) {
  Client& client = serve({ping(), stream({R"({"Type": 3})"}, /*end=*/true)});
  const Error ended = run(client.follow_events({}, [](const reconcile::Event&) {}));
  EXPECT_EQ(ended.code, engine_errc::bad_response);
  EXPECT_THAT(ended.message, HasSubstr("/Type"));
}

TEST_F(EngineClient, EventLineOverTheLimitIsAnErrorNotGrowth) {
  ClientOptions options = short_options();
  options.line_limit = 4096;
  // 64 KiB without a newline, in many chunks, and the connection held open:
  // the client must stop at the limit rather than wait for the line's end.
  std::string bytes =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 64; ++i) bytes += "400\r\n" + std::string(1024, 'x') + "\r\n";
  Client& client = serve({ping(), {bytes, /*hold_open=*/true}}, options);
  const Error ended = run(client.follow_events({}, [](const reconcile::Event&) {}));
  EXPECT_EQ(ended.code, engine_errc::bad_response);
  EXPECT_THAT(ended.message, HasSubstr("exceeds the limit of 4096 bytes"));
}

net::awaitable<std::pair<int, std::size_t>> follow_until(Client& client,
                                                         std::chrono::milliseconds stop_after,
                                                         int& seen) {
  using namespace net::experimental::awaitable_operators;
  net::steady_timer stop(co_await net::this_coro::executor, stop_after);
  const EventOptions options;
  auto winner = co_await (client.follow_events(options, [&](const reconcile::Event&) { ++seen; }) ||
                          stop.async_wait(net::use_awaitable));
  co_return std::pair<int, std::size_t>{seen, winner.index()};
}

TEST_F(EngineClient, FollowingStopsWhenTheCallerCancels) {
  // One event, then an open and silent stream: only the caller can end it.
  Client& client = serve({ping(), stream({kServiceEvent}, /*end=*/false, /*hold_open=*/true)});
  int seen = 0;
  const auto start = Clock::now();
  const auto [events, winner] = run(follow_until(client, 300ms, seen));
  EXPECT_EQ(events, 1);
  EXPECT_EQ(winner, 1u);  // the caller's timer
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(EngineClient, CancellationThroughASlotEndsWithCancelled) {
  Client& client = serve({ping(), stream({kServiceEvent}, /*end=*/false, /*hold_open=*/true)});
  net::cancellation_signal signal;
  std::optional<Error> ended;
  int seen = 0;
  net::co_spawn(
      io_,
      client.follow_events({},
                           [&](const reconcile::Event&) {
                             ++seen;
                             signal.emit(net::cancellation_type::terminal);
                           }),
      net::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr error, Error result) {
        EXPECT_FALSE(error);
        ended = std::move(result);
      }));
  const auto deadline = Clock::now() + 5s;
  while (!ended && Clock::now() < deadline) io_.run_one_for(20ms);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(ended->code, engine_errc::cancelled);
}

// ---- Pull --------------------------------------------------------------------

TEST_F(EngineClient, PullSendsAnExplicitTagAndReportsProgress) {
  Client& client = serve(
      {ping(), stream({R"({"status":"Pulling from bb","id":"1"})",
                       R"({"status":"Downloading","progressDetail":{"current":512,"total":1024},)"
                       R"("progress":"[=====>     ]","id":"9a0b"})",
                       R"({"status":"Digest: sha256:0123"})",
                       R"({"status":"Status: Downloaded newer image for 10.213.37.1:5000/bb:1"})"},
                      /*end=*/true)});
  std::vector<PullProgress> progress;
  PullRequest request{"10.213.37.1:5000/bb", "1", "linux/amd64", "eyJ1c2VybmFtZSI6ImEifQ"};
  const auto pulled =
      run(client.pull(request, [&](const PullProgress& line) { progress.push_back(line); }));
  ASSERT_TRUE(pulled) << pulled.error().to_string();
  EXPECT_EQ(pulled->digest, "sha256:0123");
  EXPECT_EQ(pulled->status, "Status: Downloaded newer image for 10.213.37.1:5000/bb:1");
  ASSERT_EQ(progress.size(), 4u);
  EXPECT_EQ(progress[1].id, "9a0b");
  EXPECT_EQ(progress[1].current, 512);
  EXPECT_EQ(progress[1].total, 1024);
  EXPECT_THAT(
      requests().at(1),
      testing::StartsWith("POST /v1.41/images/create?fromImage=10.213.37.1%3A5000%2Fbb&tag=1"
                          "&platform=linux%2Famd64 HTTP/1.1"));
  EXPECT_THAT(requests().at(1), testing::EndsWith("\r\nX-Registry-Auth: eyJ1c2VybmFtZSI6ImEifQ"));
}

TEST_F(EngineClient, PullByDigestPutsTheDigestInTag) {
  Client& client = serve({ping(), stream({R"({"status":"Status: Image is up to date"})"}, true)});
  ASSERT_TRUE(run(client.pull({"bb", "sha256:0123", "", ""})));
  EXPECT_THAT(requests().at(1), HasSubstr("/images/create?fromImage=bb&tag=sha256%3A0123 HTTP"));
  EXPECT_THAT(requests().at(1), testing::Not(HasSubstr("X-Registry-Auth")));
}

TEST_F(EngineClient, PullErrorInsideTheStream) {
  Client& client =
      serve({ping(),
             stream({R"({"status":"Pulling from bb","id":"1"})",
                     R"({"errorDetail":{"message":"received unexpected HTTP status: 500 )"
                     R"(Internal Server Error"},"error":"received unexpected HTTP status: 500"})"},
                    /*end=*/true)});
  int lines = 0;
  const auto pulled = run(client.pull({"bb", "1", "", ""}, [&](const PullProgress&) { ++lines; }));
  ASSERT_FALSE(pulled);
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(pulled.error().code, engine_errc::pull_failed);
  EXPECT_EQ(pulled.error().message, "received unexpected HTTP status: 500 Internal Server Error");
  EXPECT_EQ(pulled.error().request, "POST /v1.41/images/create?fromImage=bb&tag=1");
}

TEST_F(EngineClient, PullNotFoundBeforeTheStream) {
  Client& client = serve(
      {ping(), json(R"({"message":"manifest for 10.213.37.1:5000/bb:nope not found: manifest )"
                    R"(unknown: manifest unknown"})",
                    404, "Not Found")});
  const auto pulled = run(client.pull({"10.213.37.1:5000/bb", "nope", "", ""}));
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().code, engine_errc::not_found);
  EXPECT_EQ(pulled.error().status, 404u);
  EXPECT_EQ(pulled.error().message,
            "manifest for 10.213.37.1:5000/bb:nope not found: manifest unknown: manifest unknown");
}

TEST_F(EngineClient, PullThatGoesQuietHitsTheIdleTimeout) {
  Client& client = serve({ping(), stream({R"({"status":"Pulling from bb","id":"1"})"},
                                         /*end=*/false, /*hold_open=*/true)});
  const auto start = Clock::now();
  const auto pulled = run(client.pull({"bb", "1", "", ""}));
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().code, engine_errc::timeout);
  EXPECT_EQ(pulled.error().message, "no data within 300 ms");
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(EngineClient, PullHitsTheOverallTimeout) {
  ClientOptions options = short_options();
  options.pull_timeout = 400ms;
  options.pull_idle_timeout = 10s;
  Client& client = serve({ping(), stream({}, /*end=*/false, /*hold_open=*/true)}, options);
  const auto start = Clock::now();
  const auto pulled = run(client.pull({"bb", "1", "", ""}));
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().code, engine_errc::timeout);
  EXPECT_EQ(pulled.error().message, "the stream did not end within 400 ms");
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(EngineClient, PullWithoutATagIsAProgrammerError) {
  Client& client = serve({});
  EXPECT_THROW(run(client.pull({"bb", "", "", ""})), std::invalid_argument);
}

TEST_F(EngineClient, MalformedProgressLineIsABadResponse) {
  Client& client = serve({ping(), stream({"[1, 2]"}, /*end=*/true)});
  const auto pulled = run(client.pull({"bb", "1", "", ""}));
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().code, engine_errc::bad_response);
}

TEST_F(EngineClient, PullStreamThatBreaksOffIsConnectionLost) {
  Client& client = serve({ping(), stream({R"({"status":"Pulling from bb","id":"1"})"}, false)});
  const auto pulled = run(client.pull({"bb", "1", "", ""}));
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().code, engine_errc::connection_lost);
}

}  // namespace
}  // namespace swarm_prepull::engine
