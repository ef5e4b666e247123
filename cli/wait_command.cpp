// swarm-prepull wait: the upgrade gate a deploy pipeline runs before
// `docker stack deploy`. Option wiring and output only: what the gate does
// (POST /v1/warm, follow GET /v1/images, post again after a controller
// restart, when to stop, the lines to print) is api/gate.h.
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <iostream>
#include <optional>
#include <ostream>
#include <set>

#include "api/controller_client.h"
#include "api/duration.h"
#include "api/gate.h"
#include "cli/commands.h"
#include "cli/controller_options.h"
#include "cli/engine_options.h"
#include "cli/stack_files.h"
#include "reconcile/constraint.h"
#include "reconcile/reference.h"

namespace swarm_prepull::cli {
namespace {

namespace net = boost::asio;

// Exit statuses of `wait`: 0, 1, 2 and 3 as every subcommand (commands.h), and
inline constexpr int exit_timeout = 4;  // the images are not everywhere yet

std::vector<OptionSpec> wait_option_specs() {
  std::vector<OptionSpec> specs = controller_option_specs();
  std::vector<OptionSpec> own = {
      {.name = "timeout",
       .value_name = "DURATION",
       .help = "give up (exit 4) after this long",
       .default_value = "10m"},
      {.name = "constraint",
       .value_name = "EXPR",
       .help = "warm only on the nodes these swarm placement constraints select (all must hold)",
       .repeatable = true},
      {.name = "interval",
       .value_name = "DURATION",
       .help = "how often to ask the controller (sooner at first: 125 ms, doubling up to this)",
       .default_value = "1s"},
      {.name = "ttl",
       .value_name = "DURATION",
       .help = "how long the controller keeps the request (default: its own, 1h)"},
  };
  for (auto& spec : own) specs.push_back(std::move(spec));
  for (auto& spec : stack_file_option_specs()) specs.push_back(std::move(spec));
  return specs;
}

constexpr std::string_view usage =
    "Usage: swarm-prepull wait IMAGE... | -f FILE... | --project-directory DIR\n"
    "                          [--timeout DURATION] [--constraint EXPR...]\n";

// Redraws a block of lines on a terminal, or prints each line once when it changes.
class Display {
 public:
  Display(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}

  void show(const std::vector<std::string>& lines) {
    if (terminal_) {
      if (drawn_ > 0) out_ << "\x1b[" << drawn_ << "A";
      for (const auto& line : lines) out_ << "\r\x1b[2K" << line << "\n";
      drawn_ = lines.size();
    } else {
      for (const auto& line : lines) {
        if (printed_.insert(line).second) out_ << line << "\n";
      }
    }
    out_.flush();
  }

 private:
  std::ostream& out_;
  bool terminal_;
  std::size_t drawn_ = 0;
  std::set<std::string> printed_;
};

int exit_status(const api::GateResult& result) {
  switch (result.outcome) {
    case api::GateOutcome::ready:
      return exit_ok;
    case api::GateOutcome::failed:
      return exit_failure;
    case api::GateOutcome::request_refused:
      // A request the controller finds malformed is a bad command line.
      return result.error && result.error->status == 400 ? exit_usage : exit_input;
    case api::GateOutcome::token_refused:
    case api::GateOutcome::bad_answer:
    case api::GateOutcome::unreachable:
      return exit_input;
    case api::GateOutcome::timed_out:
      return exit_timeout;
  }
  return exit_failure;
}

}  // namespace

int run_wait(const std::vector<std::string>& args, const CommandIo& io) {
  const auto specs = wait_option_specs();
  auto options = parse_options(specs, args, io.environment);
  if (!options) {
    io.err << "swarm-prepull wait: " << options.error().message << "\n";
    return exit_usage;
  }
  if (options->help) {
    io.out << usage
           << "\nAsks the controller to pre-pull the images (on every node that could run them,\n"
              "or on the nodes the constraints select) and waits until each is present on every\n"
              "such node. Run it before `docker stack deploy`.\n\n"
              "Exit status: 0 ready; 1 a pull or resolution failed (names image, nodes, reason);\n"
              "2 bad command line; 3 controller unreachable, token refused, or a file unreadable;\n"
              "4 timed out (names what is missing where).\n\nOptions:\n"
           << format_options_help(specs);
    return exit_ok;
  }
  const auto fail_usage = [&](const std::string& message) {
    io.err << "swarm-prepull wait: " << message << "\n" << usage;
    return exit_usage;
  };

  // Images: the arguments, then the stack files' (duplicates once).
  std::vector<std::string> images;
  std::set<std::string> seen;
  for (const auto& arg : options->positional) {
    if (reconcile::is_image_id(arg)) {
      return fail_usage("image '" + arg + "': " + std::string(reconcile::image_id_never_pulled) +
                        "; there is nothing to wait for");
    }
    auto reference = reconcile::parse_reference(arg);
    if (!reference) return fail_usage("image '" + arg + "': " + reference.error().message);
    if (seen.insert(reference->canonical()).second) images.push_back(reference->canonical());
  }
  if (stack_requested(*options)) {
    auto services = read_stack_images(*options, io);
    if (!services) {
      io.err << "swarm-prepull wait: " << services.error().message << "\n";
      return exit_input;
    }
    for (const auto& service : *services) {
      if (reconcile::is_image_id(service.image)) {
        // As the plan does: no node is given it, so waiting for it could only time out.
        io.err << "swarm-prepull wait: " << service.file << ":" << service.line << ": service '"
               << service.service << "': " << service.image << " is "
               << reconcile::image_id_never_pulled << "; not waited for\n";
        continue;
      }
      const auto canonical = reconcile::parse_reference(service.image)->canonical();
      if (seen.insert(canonical).second) images.push_back(canonical);
    }
  }
  if (images.empty())
    return fail_usage("no image: give IMAGE..., -f FILE or --project-directory DIR");
  const auto constraints = options->all("constraint");
  for (const auto& text : constraints) {
    if (auto parsed = reconcile::parse_constraint(text); !parsed) {
      return fail_usage("--constraint '" + text + "': " + parsed.error().message);
    }
  }
  const auto timeout = api::parse_duration(options->get("timeout"));
  if (!timeout || timeout->count() <= 0) {
    return fail_usage("--timeout: expected a positive duration (10m, 90s), got '" +
                      options->get("timeout") + "'");
  }
  const auto interval = api::parse_duration(options->get("interval"));
  if (!interval || interval->count() <= 0) {
    return fail_usage("--interval: expected a positive duration (1s, 500ms), got '" +
                      options->get("interval") + "'");
  }
  api::GateOptions gate{.request = {.images = images, .constraints = constraints},
                        .timeout = *timeout,
                        .interval = *interval};
  if (const std::string ttl = options->get("ttl"); !ttl.empty()) {
    const auto value = api::parse_duration(ttl);
    if (!value || value->count() <= 0 || *value > api::max_warm_ttl) {
      return fail_usage("--ttl: expected a duration from 1ms to 24h (30m, 2h), got '" + ttl + "'");
    }
    gate.request.ttl = *value;
  }
  int status = exit_usage;
  auto client_options = controller_client_options(*options, io, "wait", usage, status);
  if (!client_options) return status;
  client_options->user_agent = "swarm-prepull-wait";
  api::ControllerClient client(std::move(*client_options));
  const bool terminal = &io.out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  Display display(io.out, terminal);
  // The gate is one coroutine; this thread runs it to its end.
  net::io_context context(1);
  std::optional<api::GateResult> result;
  std::exception_ptr failure;
  net::co_spawn(context,
                api::run_gate(client, gate,
                              [&](const api::Progress& progress) {
                                display.show(api::progress_lines(progress));
                              }),
                [&](std::exception_ptr error, api::GateResult value) {
                  failure = error;
                  result = std::move(value);
                });
  context.run();
  if (failure) std::rethrow_exception(failure);
  const std::string message = api::outcome_message(*result, gate, options->get("controller"));
  (result->outcome == api::GateOutcome::ready ? io.out : io.err) << message;
  return exit_status(*result);
}

}  // namespace swarm_prepull::cli
