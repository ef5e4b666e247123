// swarm-prepull healthcheck: the image's HEALTHCHECK. The image is FROM
// scratch (no shell, no curl), so the probe is the executable itself: GET
// /healthz on the server this container runs, through http::Client, exit 0 on
// 200. Docker reads exit 1 as unhealthy (and reserves 2).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <fstream>
#include <iterator>
#include <ostream>

#include "api/duration.h"
#include "cli/commands.h"
#include "http/client.h"
#include "http/endpoint.h"

namespace swarm_prepull::cli {
namespace {

namespace net = boost::asio;

constexpr std::string_view usage = "Usage: swarm-prepull healthcheck [--url URL] [--timeout 3s]\n";

std::vector<OptionSpec> healthcheck_option_specs() {
  return {
      {.name = "url",
       .value_name = "URL",
       .help = "the server to probe (its /healthz); default: the one this container's main "
               "process serves (its --listen or SWARM_PREPULL_LISTEN, else 7963 for a "
               "controller, 7964 for an agent)"},
      {.name = "timeout",
       .value_name = "DURATION",
       .help = "bound on connecting, asking and reading the answer",
       .default_value = "3s"},
  };
}

// pid 1's command line: the container's main process (a docker-init in front
// of it keeps its arguments after its own).
std::vector<std::string> main_process_args() {
  std::ifstream file("/proc/1/cmdline", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\0', start), text.size());
    args.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

net::awaitable<http::Result<http::Reply>> get_healthz(http::Client& client, std::string base_path) {
  co_return co_await client.request(
      client.prepare(http::Request{http::verb::get, base_path + "/healthz", 11}));
}

}  // namespace

reconcile::Expected<std::optional<std::string>> healthcheck_url(
    const std::vector<std::string>& process_args, const std::optional<std::string>& listen) {
  std::string command;
  std::optional<std::string> listen_option;
  for (std::size_t i = 0; i < process_args.size(); ++i) {
    const std::string& arg = process_args[i];
    if (command.empty() && (arg == "controller" || arg == "agent")) {
      command = arg;
    } else if (arg == "--listen" && i + 1 < process_args.size()) {
      listen_option = process_args[i + 1];
    } else if (arg.starts_with("--listen=")) {
      listen_option = arg.substr(std::string_view("--listen=").size());
    }
  }
  // plan, images, wait, status: nothing serves, nothing to probe.
  if (command.empty()) return std::optional<std::string>{};
  std::string address = listen_option.value_or(listen.value_or(""));
  if (address.empty()) address = command == "controller" ? ":7963" : ":7964";
  auto parsed = http::parse_host_port(address);
  if (!parsed) {
    return reconcile::Error{"the " + command + "'s listen address '" + address +
                            "': " + parsed.error().message};
  }
  // A server on every address answers on loopback.
  std::string host = parsed->host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::optional<std::string>{"http://" + host + ":" + std::to_string(parsed->port)};
}

int run_healthcheck(const std::vector<std::string>& args, const CommandIo& io) {
  const auto specs = healthcheck_option_specs();
  auto options = parse_options(specs, args, io.environment);
  if (!options) {
    io.err << "swarm-prepull healthcheck: " << options.error().message << "\n" << usage;
    return exit_usage;
  }
  if (options->help) {
    io.out << usage
           << "\nThe image's HEALTHCHECK: GET /healthz on the controller or agent this container\n"
              "runs (the controller answers 200 once a reconcile completed, an agent while it\n"
              "serves). Exit status: 0 healthy (200, or the container runs no server);\n"
              "1 unhealthy (no answer within --timeout, or another status); 2 bad command line.\n"
              "\nOptions:\n"
           << format_options_help(specs);
    return exit_ok;
  }
  const auto fail_usage = [&](const std::string& message) {
    io.err << "swarm-prepull healthcheck: " << message << "\n" << usage;
    return exit_usage;
  };
  if (!options->positional.empty()) {
    return fail_usage("unexpected argument '" + options->positional.front() + "'");
  }
  const auto timeout = api::parse_duration(options->get("timeout"));
  if (!timeout || timeout->count() <= 0) {
    return fail_usage("--timeout: expected a positive duration (3s, 500ms), got '" +
                      options->get("timeout") + "'");
  }
  std::string url_text = options->get("url");
  if (url_text.empty()) {
    auto derived = healthcheck_url(main_process_args(), io.environment("SWARM_PREPULL_LISTEN"));
    if (!derived) {
      io.err << "swarm-prepull healthcheck: " << derived.error().message << "\n";
      return exit_failure;
    }
    if (!*derived) return exit_ok;
    url_text = **derived;
  }
  auto url = http::parse_http_url(url_text);
  if (!url) return fail_usage("--url: " + url.error().message);

  http::Client client(url->endpoint,
                      {.timeout = *timeout, .header_limit = 16 * 1024, .body_limit = 64 * 1024});
  net::io_context context(1);
  std::optional<http::Result<http::Reply>> reply;
  std::exception_ptr failure;
  net::co_spawn(context, get_healthz(client, url->base_path),
                [&](std::exception_ptr error, http::Result<http::Reply> value) {
                  failure = error;
                  reply = std::move(value);
                });
  context.run();
  if (failure) std::rethrow_exception(failure);
  if (!*reply) {
    io.err << "swarm-prepull healthcheck: " << reply->error().to_string() << "\n";
    return exit_failure;
  }
  // Any other 2xx is not what /healthz says when healthy.
  if ((*reply)->status != 200) {
    io.err << "swarm-prepull healthcheck: GET " << url->base_path << "/healthz at "
           << url->endpoint.to_string() << " answered " << (*reply)->status << ", expected 200\n";
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace swarm_prepull::cli
