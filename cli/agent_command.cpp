// swarm-prepull agent: runs on every node (a global service), keeps that
// node's engine warm with the images the controller says it needs
// (docs/agent.md, docs/agent-api.md), serves /metrics.
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <ostream>

#include "agent/agent.h"
#include "api/controller_client.h"
#include "api/duration.h"
#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/logging.h"
#include "cli/run_until_signal.h"
#include "http/server.h"
#include "metrics/metrics.h"

namespace swarm_prepull::cli {
namespace {

namespace net = boost::asio;
using reconcile::Error;

std::vector<OptionSpec> agent_option_specs() {
  std::vector<OptionSpec> specs = {
      {.name = "node-id",
       .value_name = "ID",
       .help = "this node's swarm id (deployment: {{.Node.ID}}); required"},
      {.name = "controller",
       .value_name = "URL",
       .help = "the controller's agent API, http://HOST:PORT; required"},
      {.name = "token-file",
       .value_name = "FILE",
       .help = "file holding the bearer token for the controller (a swarm secret)"},
      {.name = "registry-auth-file",
       .value_name = "FILE",
       .help = "docker config.json with registry credentials (\"auths\"; no credential "
               "helpers); re-read every cycle"},
      {.name = "max-concurrent-pulls",
       .value_name = "N",
       .help = "pulls at once on this node",
       .default_value = "2"},
      {.name = "check-interval",
       .value_name = "DURATION",
       .help = "compare the desired set with the engine's images at least this often",
       .default_value = "30s"},
      {.name = "poll-wait",
       .value_name = "SECONDS",
       .help = "how long the controller holds a desired-set long poll (at most 60)",
       .default_value = "30"},
      {.name = "platform",
       .value_name = "OS/ARCH",
       .help = "platform to pull (default: the engine's own)"},
      {.name = "listen",
       .value_name = "ADDR:PORT",
       .help = "where Prometheus scrapes /metrics (and /healthz)",
       .default_value = "0.0.0.0:7964"},
      {.name = "data-root",
       .value_name = "DIR",
       .help = "the engine's data root as this process sees it (bind-mounted read-only in the "
               "stack), whose free space admits pulls",
       .default_value = "/var/lib/docker"},
      {.name = "min-free-disk",
       .value_name = "BYTES|PERCENT",
       .help = "start no pull while the data root has less free space than this (2GiB, 500MB, "
               "10%; 0: never hold); held images are reported held, reason disk_low",
       .default_value = std::string(agent::default_min_free_disk)},
      {.name = "gc",
       .value_name = "off|dry-run|on",
       .help = "image garbage collection: dry-run plans and reports what it would remove, on "
               "removes it (never a desired, in-use or swarm-prepull.keep=true image)",
       .default_value = "dry-run"},
      {.name = "gc-high",
       .value_name = "PERCENT",
       .help = "a GC pass starts when the data root's usage is above this",
       .default_value = "85"},
      {.name = "gc-low",
       .value_name = "PERCENT",
       .help = "a GC pass removes images until usage is below this",
       .default_value = "75"},
      {.name = "gc-min-age",
       .value_name = "DURATION",
       .help = "GC keeps an image pulled, listed or used more recently than this",
       .default_value = "1h"},
  };
  for (auto& spec : logging_option_specs()) specs.push_back(std::move(spec));
  for (auto& spec : engine_option_specs()) specs.push_back(std::move(spec));
  return specs;
}

struct Settings {
  agent::AgentOptions agent;
  api::ControllerClientOptions controller;
  net::ip::tcp::endpoint listen;
};

reconcile::Expected<Settings> agent_settings(const ParsedOptions& options) {
  Settings result;
  result.agent.node_id = options.get("node-id");
  if (result.agent.node_id.empty()) {
    return Error{"--node-id is required (SWARM_PREPULL_NODE_ID; {{.Node.ID}} in a service)"};
  }
  const std::string url = options.get("controller");
  if (url.empty()) return Error{"--controller is required (SWARM_PREPULL_CONTROLLER)"};
  auto parsed_url = api::parse_controller_url(url);
  if (!parsed_url) return Error{"--controller: " + parsed_url.error().message};
  result.controller.url = std::move(*parsed_url);
  result.controller.node_id = result.agent.node_id;
  result.controller.user_agent = "swarm-prepull-agent";

  if (const std::string token_file = options.get("token-file"); !token_file.empty()) {
    auto token = read_token_file(token_file);
    if (!token) return token.error();
    result.controller.token = std::move(token).value();
  }
  result.agent.registry_auth_file = options.get("registry-auth-file");
  result.agent.platform = options.get("platform");

  const std::string pulls = options.get("max-concurrent-pulls");
  try {
    std::size_t used = 0;
    const long value = std::stol(pulls, &used);
    if (used != pulls.size() || value < 1 || value > 64) throw std::out_of_range(pulls);
    result.agent.max_concurrent_pulls = static_cast<std::size_t>(value);
  } catch (const std::exception&) {
    return Error{"--max-concurrent-pulls: expected a number from 1 to 64, got '" + pulls + "'"};
  }
  const auto interval = api::parse_duration(options.get("check-interval"));
  if (!interval || interval->count() <= 0) {
    return Error{"--check-interval: expected a positive duration (30s, 500ms, 2m), got '" +
                 options.get("check-interval") + "'"};
  }
  result.agent.check_interval = *interval;
  const std::string wait = options.get("poll-wait");
  try {
    std::size_t used = 0;
    const long value = std::stol(wait, &used);
    if (used != wait.size() || value < 0 || value > 60) throw std::out_of_range(wait);
    result.controller.wait = std::chrono::seconds(value);
  } catch (const std::exception&) {
    return Error{"--poll-wait: expected seconds from 0 to 60, got '" + wait + "'"};
  }
  result.agent.data_root = options.get("data-root");
  if (result.agent.data_root.empty()) return Error{"--data-root: expected a directory, got ''"};
  auto min_free = agent::parse_min_free_disk(options.get("min-free-disk"));
  if (!min_free) return min_free.error();
  result.agent.min_free_disk = *min_free;
  auto gc = agent::parse_gc_options({.mode = options.get("gc"),
                                     .high = options.get("gc-high"),
                                     .low = options.get("gc-low"),
                                     .min_age = options.get("gc-min-age")});
  if (!gc) return gc.error();
  result.agent.gc = *gc;
  const auto listen = http::parse_listen_address(options.get("listen"));
  if (!listen) return Error{"--listen: expected ADDR:PORT, got '" + options.get("listen") + "'"};
  result.listen = *listen;
  return result;
}

}  // namespace

int run_agent(const std::vector<std::string>& args, const CommandIo& io) {
  const auto specs = agent_option_specs();
  auto options = parse_options(specs, args, io.environment);
  if (!options) {
    io.err << "swarm-prepull agent: " << options.error().message << "\n";
    return exit_usage;
  }
  if (options->help) {
    io.out << "Usage: swarm-prepull agent [OPTIONS]\n\n"
              "Runs on every node (a global service): long-polls this node's desired images\n"
              "from the controller, lists the node's engine once per cycle, pulls what is\n"
              "missing (bounded, with backoff per image; not_found and unauthorized wait for a\n"
              "new desired set or new credentials), reports each image's state, and serves\n"
              "/metrics. --host is this node's own engine. See docs/agent.md.\n"
              "SIGTERM or SIGINT stop it within a few seconds.\n\n"
              "Options:\n"
           << format_options_help(specs);
    return exit_ok;
  }
  if (!options->positional.empty()) {
    io.err << "swarm-prepull agent: unexpected argument '" << options->positional.front() << "'\n";
    return exit_usage;
  }
  auto settings = agent_settings(*options);
  if (!settings) {
    io.err << "swarm-prepull agent: " << settings.error().message << "\n";
    return exit_usage;
  }
  auto logger_result = make_logger("agent", *options);
  if (!logger_result) {
    io.err << "swarm-prepull agent: " << logger_result.error().message << "\n";
    return exit_usage;
  }
  auto logger = *logger_result;
  auto client = make_engine_client(*options, io.environment);
  if (!client) {
    io.err << "swarm-prepull agent: " << client.error().message << "\n";
    return exit_input;
  }
  if (settings->controller.token.empty()) {
    logger->warn("no --token-file: requests to the controller carry no bearer token");
  }

  // Everything the coroutines reference outlives the io_context (declared
  // below): its destruction destroys whatever coroutine frames are left.
  prometheus::Registry registry;
  metrics::AgentMetrics agent_metrics(registry, agent::agent_engine_endpoints());
  api::ControllerClient controller(std::move(settings->controller));
  agent::DefaultRandomSource random;
  agent::Agent agent(std::move(settings->agent), **client, controller, &agent_metrics, logger,
                     random);

  net::io_context context(1);
  // Public routes only: the agent's server holds no token.
  http::Router router;
  router.add({{http::verb::get},
              "/metrics",
              http::Access::public_,
              [&](const http::RequestContext& request) -> net::awaitable<http::Response> {
                co_return metrics::metrics_response(registry, request.request);
              }});
  router.add({{http::verb::get, http::verb::head},
              "/healthz",
              http::Access::public_,
              [](const http::RequestContext& request) -> net::awaitable<http::Response> {
                co_return http::make_response(request.request, http::status::ok, "ok\n",
                                              "text/plain");
              }});
  http::Server metrics_server(context.get_executor(), std::move(router), {}, logger);
  try {
    const auto bound = metrics_server.listen(settings->listen);
    logger->info("agent metrics listening address={}:{}", bound.address().to_string(),
                 bound.port());
  } catch (const std::exception& error) {
    io.err << "swarm-prepull agent: cannot listen on " << options->get("listen") << ": "
           << error.what() << "\n";
    return exit_input;
  }

  net::co_spawn(context, agent.run(), net::detached);

  run_until_signal(
      context,
      [&]() -> net::awaitable<void> {
        agent.stop();
        co_await metrics_server.stop();
      },
      *logger);
  logger->info("agent stopped");
  return exit_ok;
}

}  // namespace swarm_prepull::cli
