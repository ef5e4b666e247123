#include "bench/load/fake_swarm.h"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>

namespace swarm_prepull::load {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;
using net::ip::tcp;

constexpr std::string_view registry = "registry.example.com:5000/load/";
constexpr std::string_view api_version = "1.41";

// Deterministic, so two runs serve the same swarm (bench/plan_bench.cpp's reason, too).
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string hex(std::uint64_t seed, int words) {
  std::string text;
  for (int i = 0; i < words; ++i) {
    char word[17];
    std::snprintf(word, sizeof word, "%016llx",
                  static_cast<unsigned long long>(splitmix64(seed + static_cast<unsigned>(i))));
    text += word;
  }
  return text;
}

// Pinned as the docker CLI stores what it resolved (NOTES.md, "What swarm
// stores"), so the controller has no tag to resolve at a registry.
std::string pinned_image(std::string_view name, std::uint64_t version) {
  return std::string(registry) + std::string(name) + ":1." + std::to_string(version) +
         "@sha256:" + hex(std::hash<std::string_view>{}(name) ^ (version << 32), 4);
}

json node_json(std::size_t index, const std::string& id) {
  const bool manager = index < 3;
  char hostname[32];
  std::snprintf(hostname, sizeof hostname, "node-%04zu", index);
  json node = {
      {"ID", id},
      {"Version", {{"Index", 100 + index}}},
      {"Spec",
       {{"Role", manager ? "manager" : "worker"},
        {"Availability", "active"},
        {"Labels", {{"zone", std::string(1, static_cast<char>('a' + index % 3))}}}}},
      {"Description",
       {{"Hostname", hostname},
        {"Platform", {{"Architecture", "x86_64"}, {"OS", "linux"}}},
        {"Resources", {{"NanoCPUs", 2'000'000'000}, {"MemoryBytes", 4LL << 30}}},
        {"Engine",
         {{"EngineVersion", "20.10.24"},
          {"Plugins", json::array({{{"Type", "Log"}, {"Name", "json-file"}},
                                   {{"Type", "Network"}, {"Name", "overlay"}},
                                   {{"Type", "Volume"}, {"Name", "local"}}})}}}}},
      {"Status",
       {{"State", "ready"},
        {"Addr", "10.1." + std::to_string(index / 250) + "." + std::to_string(index % 250 + 1)}}}};
  if (manager) {
    node["ManagerStatus"] = {{"Leader", index == 0}, {"Reachability", "reachable"}};
  }
  return node;
}

json spec_json(const std::string& name, const std::string& image, bool global,
               const std::string& zone) {
  json spec = {{"Name", name},
               {"Labels", json::object()},
               {"TaskTemplate",
                {{"ContainerSpec", {{"Image", image}}},
                 {"Placement",
                  {{"Platforms", json::array({{{"Architecture", "amd64"}, {"OS", "linux"}}})}}}}}};
  if (!zone.empty()) {
    spec["TaskTemplate"]["Placement"]["Constraints"] = json::array({"node.labels.zone==" + zone});
  }
  spec["Mode"] =
      global ? json{{"Global", json::object()}} : json{{"Replicated", {{"Replicas", 3}}}};
  return spec;
}

// A pass's list reads in the order it makes them; 0 for other paths.
std::size_t list_order(std::string_view path) {
  constexpr std::array<std::string_view, 4> lists{"/nodes", "/services", "/tasks", "/configs"};
  const auto* found = std::find(lists.begin(), lists.end(), path);
  return found == lists.end() ? 0 : static_cast<std::size_t>(found - lists.begin()) + 1;
}

std::string chunk(const std::string& line) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", line.size() + 1);
  return size + line + "\n\r\n";
}

}  // namespace

struct FakeSwarm::State {
  State(net::io_context& context)
      : acceptor(context, {net::ip::make_address("127.0.0.1"), 0}),
        notify(context, Clock::time_point::max()) {}

  tcp::acceptor acceptor;
  net::steady_timer notify;  // cancelled on the engine's thread when an event is added

  mutable std::mutex mutex;  // guards what follows: rollout() runs on another thread
  std::string nodes_body;
  json services;
  std::string services_body;
  std::string tasks_body;
  std::uint64_t rollouts = 0;
  std::vector<std::string> events;
  std::vector<PassTimes> passes;
  std::size_t last_read = 0;  // the list order of the last read (1-4), 0 before any
  std::size_t requests = 0;
  bool stopped = false;

  json& rolled_service() { return services[0]; }
};

namespace {

using State = FakeSwarm::State;

net::awaitable<void> follow_events(std::shared_ptr<State> state, beast::tcp_stream stream) {
  std::size_t cursor = 0;
  {
    std::lock_guard lock(state->mutex);
    cursor = state->events.size();
  }
  stream.expires_never();
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: " +
                     std::string(api_version) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  co_await net::async_write(stream, net::buffer(head), net::use_awaitable);
  for (;;) {
    std::string pending;
    {
      std::lock_guard lock(state->mutex);
      if (state->stopped) break;
      for (; cursor < state->events.size(); ++cursor) pending += chunk(state->events[cursor]);
    }
    if (!pending.empty()) {
      co_await net::async_write(stream, net::buffer(pending), net::use_awaitable);
    }
    co_await state->notify.async_wait(net::as_tuple(net::use_awaitable));
  }
}

net::awaitable<void> answer(std::shared_ptr<State> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(10));
  beast::flat_buffer buffer;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024);
  co_await bhttp::async_read(stream, buffer, parser, net::use_awaitable);
  const auto& request = parser.get();
  std::string path(request.target().substr(0, request.target().find('?')));
  if (path.starts_with("/v1.")) path.erase(0, path.find('/', 1));

  if (path == "/events") co_return co_await follow_events(state, std::move(stream));

  bhttp::response<bhttp::string_body> response{bhttp::status::ok, 11};
  response.set(bhttp::field::content_type, "application/json");
  response.set("Api-Version", api_version);
  response.keep_alive(false);
  const std::size_t read = list_order(path);
  {
    std::lock_guard lock(state->mutex);
    ++state->requests;
    if (read != 0) {
      if (read <= state->last_read || state->passes.empty()) state->passes.push_back({});
      state->last_read = read;
      auto& pass = state->passes.back();
      if (pass.lists.empty()) pass.started = Clock::now();
      pass.lists += (pass.lists.empty() ? "" : ",") + path.substr(1);
      if (path == "/services") pass.services_requested = Clock::now();
    }
    if (path == "/_ping") {
      response.set(bhttp::field::content_type, "text/plain");
      response.body() = "OK";
    } else if (path == "/nodes") {
      response.body() = state->nodes_body;
    } else if (path == "/services") {
      response.body() = state->services_body;
    } else if (path == "/tasks") {
      response.body() = state->tasks_body;
    } else if (path == "/configs") {
      response.body() = "[]";
    } else {
      response.result(bhttp::status::not_found);
      response.body() = json{{"message", "the load harness's engine has no " + path}}.dump();
    }
  }
  response.prepare_payload();
  co_await bhttp::async_write(stream, response, net::use_awaitable);
  if (read != 0) {
    std::lock_guard lock(state->mutex);
    auto& answered = state->passes.back().reads_answered;
    answered = std::max(answered, Clock::now());
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(std::shared_ptr<State> state) {
  for (;;) {
    auto [error, socket] = co_await state->acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (error) {
      if (!state->acceptor.is_open()) co_return;
      continue;  // EMFILE and the like: the controller retries its pass
    }
    net::co_spawn(state->acceptor.get_executor(), answer(state, std::move(socket)), net::detached);
  }
}

}  // namespace

FakeSwarm::FakeSwarm(net::io_context& context, SwarmShape shape)
    : state_(std::make_shared<State>(context)) {
  json nodes = json::array();
  for (std::size_t i = 0; i < shape.nodes; ++i) {
    node_ids_.push_back(hex(i, 2).substr(0, 25));
    nodes.push_back(node_json(i, node_ids_.back()));
  }
  state_->nodes_body = nodes.dump();

  auto& services = state_->services = json::array();
  const auto add = [&](const std::string& name, bool global, const std::string& zone) {
    const std::size_t index = services.size();
    services.push_back({{"ID", hex(1'000'000 + index, 2).substr(0, 25)},
                        {"Version", {{"Index", 1000 + index}}},
                        {"Spec", spec_json(name, pinned_image(name, 0), global, zone)}});
  };
  add("web", true, "");  // the one a rollout changes (rolled_service)
  for (std::size_t i = 1; i < shape.global_services; ++i) {
    add("global-" + std::to_string(i), true, "");
  }
  for (std::size_t i = 0; i < shape.replicated_services; ++i) {
    add("app-" + std::to_string(i), false, std::string(1, static_cast<char>('a' + i % 3)));
  }
  state_->services_body = services.dump();
  // Each global service's running task on every node: the controller lists
  // them in every full pass (which tasks swarm is starting). Running, so a rollout
  // here marks nothing as starting.
  json tasks = json::array();
  for (std::size_t service = 0; service < shape.global_services; ++service) {
    const json& spec = services[service]["Spec"];
    for (std::size_t node = 0; node < shape.nodes; ++node) {
      tasks.push_back({{"ID", hex(2'000'000 + service * shape.nodes + node, 2).substr(0, 25)},
                       {"ServiceID", services[service]["ID"]},
                       {"NodeID", node_ids_[node]},
                       {"DesiredState", "running"},
                       {"Status", {{"State", "running"}}},
                       {"Spec", {{"ContainerSpec", spec["TaskTemplate"]["ContainerSpec"]}}}});
    }
  }
  state_->tasks_body = tasks.dump();
  net::co_spawn(context, accept_loop(state_), net::detached);
}

FakeSwarm::~FakeSwarm() = default;

std::uint16_t FakeSwarm::port() const { return state_->acceptor.local_endpoint().port(); }

std::string FakeSwarm::rollout_image() const {
  std::lock_guard lock(state_->mutex);
  return state_->rolled_service()["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"];
}

std::pair<std::string, Clock::time_point> FakeSwarm::rollout() {
  std::pair<std::string, Clock::time_point> result;
  {
    std::lock_guard lock(state_->mutex);
    json& service = state_->rolled_service();
    const std::uint64_t version = ++state_->rollouts;
    const std::string name = service["Spec"]["Name"];
    const std::string image = pinned_image(name, version);
    // What `docker service update --image` leaves: the old spec kept for a
    // rollback, an update in progress, a new version.
    service["PreviousSpec"] = service["Spec"];
    service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = image;
    service["Version"]["Index"] = service["Version"]["Index"].get<std::uint64_t>() + 1;
    service["UpdateStatus"] = {{"State", "updating"}, {"Message", "update in progress"}};
    state_->services_body = state_->services.dump();
    const auto unix_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    state_->events.push_back(json{
        {"Type", "service"},
        {"Action", "update"},
        {"Actor",
         {{"ID", service["ID"]},
          {"Attributes", {{"name", name}, {"updatestate.new", "updating"}, {"image", image}}}}},
        {"scope", "swarm"},
        {"time", unix_nano / 1'000'000'000},
        {"timeNano", unix_nano}}.dump());
    result = {image, Clock::now()};
  }
  net::post(state_->acceptor.get_executor(), [state = state_] { state->notify.cancel(); });
  return result;
}

PassTimes FakeSwarm::pass_after(Clock::time_point after) const {
  std::lock_guard lock(state_->mutex);
  for (const auto& pass : state_->passes) {
    if (pass.services_requested >= after) return pass;
  }
  return {};
}

std::size_t FakeSwarm::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

void FakeSwarm::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopped = true;
  }
  net::post(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    state->notify.cancel();
  });
}

}  // namespace swarm_prepull::load
