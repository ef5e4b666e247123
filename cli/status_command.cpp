// swarm-prepull status: which image is on which node, from the controller's
// GET /v1/images (the same answer the status page draws). Option wiring,
// fetching and printing; the matrix is api/status_view.h, its text and JSON
// cli/status_output.h.
#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>
#include <ostream>

#include "api/controller_client.h"
#include "api/duration.h"
#include "api/status_view.h"
#include "cli/commands.h"
#include "cli/controller_options.h"
#include "cli/status_output.h"

namespace swarm_prepull::cli {
namespace {

namespace net = boost::asio;

std::vector<OptionSpec> status_option_specs() {
  std::vector<OptionSpec> specs = controller_option_specs();
  std::vector<OptionSpec> own = {
      {.name = "format",
       .value_name = "FORMAT",
       .help = "table (a matrix that fits the terminal) or json",
       .default_value = "table",
       .choices = {"table", "json"}},
      {.name = "wide", .help = "every node a named column, full references and messages"},
      {.name = "width",
       .value_name = "COLUMNS",
       .help = "lay the table out for this many columns (default: the terminal's, else "
               "$COLUMNS, else 80)"},
      {.name = "watch", .help = "redraw every --interval until interrupted"},
      {.name = "interval",
       .value_name = "DURATION",
       .help = "how often --watch asks the controller",
       .default_value = "2s"},
      {.name = "image",
       .value_name = "TEXT",
       .help = "only images whose reference contains TEXT",
       .repeatable = true},
      {.name = "node",
       .value_name = "TEXT",
       .help = "only nodes whose hostname or id contains TEXT",
       .repeatable = true},
  };
  for (auto& spec : own) specs.push_back(std::move(spec));
  return specs;
}

constexpr std::string_view usage =
    "Usage: swarm-prepull status [--controller URL] [--token-file FILE] [--format table|json]\n"
    "                            [--wide] [--watch] [--image TEXT...] [--node TEXT...]\n";

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::size_t terminal_width(const CommandIo& io, bool terminal) {
  if (terminal) {
    winsize size{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  }
  if (auto columns = io.environment("COLUMNS")) {
    try {
      const long value = std::stol(*columns);
      if (value > 0 && value < 100000) return static_cast<std::size_t>(value);
    } catch (const std::exception&) {
    }
  }
  return 80;
}

struct StatusRun {
  api::ControllerClient& client;
  const CommandIo& io;
  api::StatusFilter filter;
  StatusLayout layout;
  bool json = false;
  bool watch = false;
  bool terminal = false;
  std::chrono::milliseconds interval{2000};
};

// One frame: the text to print and the exit status it means, or an error.
struct Frame {
  std::string text;
  int status = exit_failure;
  std::optional<std::string> error;
};

net::awaitable<Frame> fetch_frame(StatusRun& run) {
  auto listing = co_await run.client.images();
  Frame frame;
  if (!listing) {
    frame.error = listing.error().to_string();
    frame.status = exit_input;
    co_return frame;
  }
  const auto view = api::status_view(*listing, run.filter);
  const double now = unix_now();
  if (run.json) {
    frame.text = status_json(view, now);
  } else {
    StatusLayout layout = run.layout;
    layout.now = now;
    for (const auto& line : status_lines(view, layout)) frame.text += line + "\n";
  }
  frame.status = view.ready ? exit_ok : exit_failure;
  co_return frame;
}

net::awaitable<int> run_status(StatusRun& run) {
  if (!run.watch) {
    Frame frame = co_await fetch_frame(run);
    if (frame.error) {
      run.io.err << "swarm-prepull status: " << run.layout.controller << ": " << *frame.error
                 << "\n";
    } else {
      run.io.out << frame.text;
    }
    co_return frame.status;
  }
  auto executor = co_await net::this_coro::executor;
  net::signal_set signals(executor, SIGINT, SIGTERM);
  net::steady_timer timer(executor);
  bool stopped = false;
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (error) return;
    stopped = true;
    timer.cancel();
  });
  int status = exit_failure;
  while (!stopped) {
    Frame frame = co_await fetch_frame(run);
    if (stopped) break;
    std::string text = frame.text;
    if (frame.error) {
      text = "swarm-prepull status: " + run.layout.controller + ": " + *frame.error + "\n";
    } else {
      status = frame.status;
    }
    // In place on a terminal (home, then clear to the end), one frame after
    // another otherwise.
    if (run.terminal) {
      run.io.out << "\x1b[H\x1b[2J" << text;
    } else {
      run.io.out << text << "\n";
    }
    run.io.out.flush();
    timer.expires_after(run.interval);
    boost::system::error_code ignored;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ignored));
  }
  signals.cancel();
  co_return status;
}

}  // namespace

int run_status(const std::vector<std::string>& args, const CommandIo& io) {
  const auto specs = status_option_specs();
  auto options = parse_options(specs, args, io.environment);
  if (!options) {
    io.err << "swarm-prepull status: " << options.error().message << "\n";
    return exit_usage;
  }
  if (options->help) {
    io.out << usage
           << "\nShows which desired image is present on which node, as the controller sees it\n"
              "(GET /v1/images, what its status page GET / shows): one row per image (failures\n"
              "first), one column per node.\n\n"
              "Exit status: 0 every shown image is present on every shown node that wants it;\n"
              "1 not (missing, pulling or failed somewhere); 2 bad command line; 3 controller\n"
              "unreachable, token refused or a bad answer.\n\nOptions:\n"
           << format_options_help(specs);
    return exit_ok;
  }
  const auto fail_usage = [&](const std::string& message) {
    io.err << "swarm-prepull status: " << message << "\n" << usage;
    return exit_usage;
  };
  if (!options->positional.empty()) {
    return fail_usage("unexpected argument '" + options->positional.front() + "'");
  }
  const auto interval = api::parse_duration(options->get("interval"));
  if (!interval || interval->count() <= 0) {
    return fail_usage("--interval: expected a positive duration (2s, 500ms), got '" +
                      options->get("interval") + "'");
  }
  const bool terminal = &io.out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  std::size_t width = terminal_width(io, terminal);
  if (const std::string text = options->get("width"); !text.empty()) {
    std::size_t used = 0;
    unsigned long value = 0;
    try {
      value = std::stoul(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || value < 20 || value > 100000) {
      return fail_usage("--width: expected a number of columns from 20, got '" + text + "'");
    }
    width = value;
  }
  int status = exit_usage;
  auto client_options = controller_client_options(*options, io, "status", usage, status);
  if (!client_options) return status;
  client_options->user_agent = "swarm-prepull-status";
  api::ControllerClient client(std::move(*client_options));
  StatusRun run{.client = client,
                .io = io,
                .filter = {.images = options->all("image"), .nodes = options->all("node")},
                .layout = {.width = width,
                           .wide = options->is_set("wide"),
                           .controller = options->get("controller")},
                .json = options->get("format") == "json",
                .watch = options->is_set("watch"),
                .terminal = terminal,
                .interval = *interval};
  net::io_context context(1);
  status = exit_failure;
  std::exception_ptr failure;
  net::co_spawn(context, run_status(run), [&](std::exception_ptr error, int value) {
    failure = error;
    status = value;
  });
  context.run();
  if (failure) std::rethrow_exception(failure);
  return status;
}

}  // namespace swarm_prepull::cli
