// swarm-prepull controller: runs on a manager, publishes every node's desired
// image set to the agents (docs/agent-api.md), serves /metrics.
#include <prometheus/registry.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <ostream>
#include <utility>

#include "api/duration.h"
#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/logging.h"
#include "cli/run_until_signal.h"
#include "controller/controller.h"
#include "http/server.h"

namespace swarm_prepull::cli {
namespace {

namespace net = boost::asio;

std::vector<OptionSpec> controller_option_specs() {
  std::vector<OptionSpec> specs = {
      {.name = "listen",
       .value_name = "ADDR:PORT",
       .help = "where agents, Prometheus and health checks reach the controller",
       .default_value = "0.0.0.0:7963"},
      {.name = "token-file",
       .value_name = "FILE",
       .help = "file holding the agents' bearer token (a swarm secret); required"},
      {.name = "resync-interval",
       .value_name = "DURATION",
       .help = "full reconcile period, whatever the events say (e.g. 30s, 2m)",
       .default_value = "30s"},
      {.name = "tag-refresh-interval",
       .value_name = "PERIOD",
       .help = "how often desired tags without a digest are resolved again at the registry, so "
               "that every node follows a tag that moved; 0 or off: never",
       .default_value = "5m"},
      {.name = "max-parallel-node-pulls",
       .value_name = "N",
       .help = "at most N nodes pull the same image at once; 0: no cap",
       .default_value = "0"},
      {.name = "max-pulls-per-registry",
       .value_name = "N",
       .help = "at most N nodes pull from the same registry host at once, cluster-wide (Docker "
               "Hub: docker.io); 0: no cap",
       .default_value = "0"},
      {.name = "hold-new-nodes",
       .value_name = "DURATION",
       .help = "pause a node that joins the swarm (no new tasks) until it holds the images of "
               "its running services, at most this long (e.g. 10m); 0: off",
       .default_value = "0"},
      {.name = "agent-stale-after",
       .value_name = "DURATION",
       .help = "an agent silent (no report, no poll) this long counts as stale",
       .default_value = "90s"},
      {.name = "report-binding",
       .value_name = "MODE",
       .help = "whose status report for a node counts: task-address (only the address of the "
               "agent task swarm runs on that node) or none (any holder of the token: agents "
               "that are not swarm tasks)",
       .default_value = "task-address"},
      {.name = "status-page",
       .value_name = "ACCESS",
       .help = "the status page GET /: open (anyone who reaches the port, as /metrics), token "
               "(the bearer token, as /v1) or off",
       .default_value = "open",
       .choices = {"open", "token", "off"}},
      {.name = "agent-service",
       .value_name = "NAME",
       .help = "the agents' swarm service (default: services labelled "
               "io.swarm-prepull.component=agent)"},
      {.name = "registry-auth-file",
       .value_name = "FILE",
       .help = "docker config.json with credentials for resolving private images at their "
               "registries (GET /distribution) and for copying them into a --pull-through "
               "cache; re-read when it changes"},
      {.name = "pull-through",
       .value_name = "ORIGIN=CACHE",
       .help = "copy images of registry ORIGIN into the cluster's cache registry CACHE before "
               "any node pulls them, and have nodes pull them from CACHE (each HOST[:PORT], or "
               "http://HOST[:PORT] for plain HTTP; e.g. docker.io=http://10.0.0.5:5000); "
               "repeatable",
       .repeatable = true},
      {.name = "cache-copy-timeout",
       .value_name = "DURATION",
       .help = "a copy into a --pull-through cache not done within this fails (its nodes pull "
               "from the origin) and is tried again later",
       .default_value = "30m"},
      {.name = "cache-recheck",
       .value_name = "DURATION",
       .help = "an image copied into a --pull-through cache is checked there again this long "
               "after (a HEAD), and copied again if the cache lost it",
       .default_value = "5m"},
      {.name = "read-timeout",
       .value_name = "DURATION",
       .help = "an HTTP request not read completely within this is dropped",
       .default_value = "10s"},
      {.name = "max-connections",
       .value_name = "N",
       .help = "connections served at once; every agent's long poll holds one, so more than the "
               "swarm's nodes (beyond it new connections wait in the listen queue)",
       .default_value = "4096"},
  };
  for (auto& spec : logging_option_specs()) specs.push_back(std::move(spec));
  for (auto& spec : engine_option_specs()) specs.push_back(std::move(spec));
  return specs;
}

reconcile::Expected<controller::ControllerOptions> controller_options(
    const ParsedOptions& options) {
  using reconcile::Error;
  controller::ControllerOptions result;
  const auto listen = http::parse_listen_address(options.get("listen"));
  if (!listen) return Error{"--listen: expected ADDR:PORT, got '" + options.get("listen") + "'"};
  result.listen = *listen;

  const std::string token_file = options.get("token-file");
  if (token_file.empty()) {
    return Error{"--token-file is required (SWARM_PREPULL_TOKEN_FILE): the agents' bearer token"};
  }
  auto token = read_token_file(token_file);
  if (!token) return token.error();
  result.token = std::move(token).value();

  const auto duration =
      [&](const std::string& name) -> reconcile::Expected<std::chrono::milliseconds> {
    auto value = api::parse_duration(options.get(name));
    if (!value || value->count() <= 0) {
      return Error{"--" + name + ": expected a positive duration (30s, 500ms, 2m), got '" +
                   options.get(name) + "'"};
    }
    return *value;
  };
  auto resync = duration("resync-interval");
  if (!resync) return resync.error();
  result.resync_interval = *resync;
  if (const std::string refresh = options.get("tag-refresh-interval"); refresh == "off") {
    result.tag_refresh_interval = std::chrono::milliseconds(0);
  } else {
    const auto value = api::parse_duration(refresh);
    if (!value || value->count() < 0) {
      return Error{"--tag-refresh-interval: expected a duration (5m, 30s) or 0 or off, got '" +
                   refresh + "'"};
    }
    result.tag_refresh_interval = *value;
  }
  {
    const std::string hold = options.get("hold-new-nodes");
    const auto value = api::parse_duration(hold);
    if (!value || value->count() < 0) {
      return Error{"--hold-new-nodes: expected a duration (10m, 90s) or 0, got '" + hold + "'"};
    }
    result.hold_new_nodes = std::chrono::ceil<std::chrono::seconds>(*value);
  }
  for (const auto& route : options.all("pull-through")) {
    auto parsed = controller::parse_pull_through(route);
    if (!parsed) return parsed.error();
    const bool repeated =
        std::any_of(result.pull_through.begin(), result.pull_through.end(),
                    [&](const auto& known) { return known.origin.host == parsed->origin.host; });
    if (repeated) {
      return Error{"--pull-through: origin " + parsed->origin.host + " given twice"};
    }
    result.pull_through.push_back(std::move(*parsed));
  }
  auto copy_timeout = duration("cache-copy-timeout");
  if (!copy_timeout) return copy_timeout.error();
  result.cache_copy_timeout = *copy_timeout;
  auto recheck = duration("cache-recheck");
  if (!recheck) return recheck.error();
  result.cache_recheck_interval = *recheck;
  auto stale = duration("agent-stale-after");
  if (!stale) return stale.error();
  result.agent_stale_after = *stale;
  auto read_timeout = duration("read-timeout");
  if (!read_timeout) return read_timeout.error();
  result.server.read_timeout = *read_timeout;

  const std::string connections = options.get("max-connections");
  try {
    std::size_t used = 0;
    const long value = std::stol(connections, &used);
    if (used != connections.size() || value < 1 || value > 1'000'000) throw std::out_of_range("");
    result.server.max_connections = static_cast<std::size_t>(value);
  } catch (const std::exception&) {
    return Error{"--max-connections: expected a number from 1 to 1000000, got '" + connections +
                 "'"};
  }

  const std::string binding = options.get("report-binding");
  if (binding == "task-address") {
    result.report_binding = controller::ReportBinding::task_address;
  } else if (binding == "none") {
    result.report_binding = controller::ReportBinding::none;
  } else {
    return Error{"--report-binding: expected task-address or none, got '" + binding + "'"};
  }
  const std::string status_page = options.get("status-page");
  result.status_page = status_page == "off"     ? controller::StatusPage::off
                       : status_page == "token" ? controller::StatusPage::token
                                                : controller::StatusPage::open;
  result.agent_service = options.get("agent-service");
  result.registry_auth_file = options.get("registry-auth-file");

  // A cap: a count of nodes, 0 for none.
  const auto cap = [&](const std::string& name) -> std::optional<std::uint32_t> {
    const std::string text = options.get(name);
    try {
      std::size_t used = 0;
      const long value = std::stol(text, &used);
      if (used != text.size() || value < 0 || value > 1'000'000) return std::nullopt;
      return static_cast<std::uint32_t>(value);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  for (const auto& [name, field] :
       {std::pair{"max-parallel-node-pulls",
                  &controller::ControllerOptions::max_parallel_node_pulls},
        std::pair{"max-pulls-per-registry",
                  &controller::ControllerOptions::max_pulls_per_registry}}) {
    const auto value = cap(name);
    if (!value) {
      return Error{"--" + std::string(name) + ": expected a number >= 0, got '" +
                   options.get(name) + "'"};
    }
    result.*field = *value;
  }
  return result;
}

// Descriptors the controller needs besides its API's connections: the engine
// client's requests, the events stream, the log, the token and auth files.
constexpr std::size_t reserved_descriptors = 64;

// Every agent's long poll holds a connection, so a swarm of N nodes needs N
// descriptors and more, past the soft limit of 1,024 that a container may
// start with (Docker 25 and later: 1024:524288). Raise the soft limit to what
// the connections need, up to the hard limit, as Go's runtime does for every
// Go program since 1.19; where the hard limit is lower, serve fewer
// connections rather than fail accepts with EMFILE.
void fit_file_limit(controller::ControllerOptions& settings, spdlog::logger& logger) {
  auto& connections = settings.server.max_connections;
  const rlim_t needed = connections + reserved_descriptors;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < needed) {
    rlimit raised = limit;
    raised.rlim_cur = std::min(limit.rlim_max, needed);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur < needed) {
    const std::size_t fit = limit.rlim_cur > reserved_descriptors
                                ? static_cast<std::size_t>(limit.rlim_cur) - reserved_descriptors
                                : 1;
    logger.warn(
        "open files limited to {} (RLIMIT_NOFILE): serving at most {} connections, not {}; "
        "agents beyond that wait for a connection to end",
        static_cast<unsigned long long>(limit.rlim_cur), fit, connections);
    connections = fit;
  }
}

}  // namespace

int run_controller(const std::vector<std::string>& args, const CommandIo& io) {
  const auto specs = controller_option_specs();
  auto options = parse_options(specs, args, io.environment);
  if (!options) {
    io.err << "swarm-prepull controller: " << options.error().message << "\n";
    return exit_usage;
  }
  if (options->help) {
    io.out << "Usage: swarm-prepull controller [OPTIONS]\n\n"
              "Runs on a swarm manager: recomputes every node's desired images from the swarm\n"
              "(on swarm events and every --resync-interval) and serves them to the agents\n"
              "(docs/agent-api.md), with /metrics (docs/metrics.md) and /healthz.\n"
              "SIGTERM or SIGINT stop it within a few seconds.\n\n"
              "Options:\n"
           << format_options_help(specs);
    return exit_ok;
  }
  if (!options->positional.empty()) {
    io.err << "swarm-prepull controller: unexpected argument '" << options->positional.front()
           << "'\n";
    return exit_usage;
  }
  auto settings = controller_options(*options);
  if (!settings) {
    io.err << "swarm-prepull controller: " << settings.error().message << "\n";
    return exit_usage;
  }
  auto logger = make_logger("controller", *options);
  if (!logger) {
    io.err << "swarm-prepull controller: " << logger.error().message << "\n";
    return exit_usage;
  }
  auto client = make_engine_client(*options, io.environment);
  if (!client) {
    io.err << "swarm-prepull controller: " << client.error().message << "\n";
    return exit_input;
  }

  fit_file_limit(*settings, **logger);

  net::io_context context(1);
  prometheus::Registry registry;
  controller::Controller controller(context, **client, std::move(settings).value(), *logger,
                                    registry);
  try {
    controller.start();
  } catch (const std::exception& error) {
    io.err << "swarm-prepull controller: cannot listen on " << options->get("listen") << ": "
           << error.what() << "\n";
    return exit_input;
  }

  run_until_signal(
      context, [&] { return controller.stop(); }, **logger);
  return exit_ok;
}

}  // namespace swarm_prepull::cli
