// swarm-prepull wait: the upgrade gate a deploy pipeline runs before
// `docker stack deploy`. Asks the controller to warm images (POST /v1/warm)
// and follows GET /v1/images until every image is present on every node it
// belongs to, a pull fails for good, or the timeout passes.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <thread>

#include "agent/controller_client.h"
#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/stack_files.h"
#include "cli/wait.h"
#include "controller/controller.h"
#include "http/client.h"
#include "reconcile/constraint.h"
#include "reconcile/reference.h"

namespace swarm_prepull::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::vector<OptionSpec> wait_option_specs() {
  std::vector<OptionSpec> specs = {
      {.name = "controller",
       .value_name = "URL",
       .help = "the controller's API",
       .default_value = "http://127.0.0.1:7963"},
      {.name = "token-file",
       .value_name = "FILE",
       .help = "file holding the controller's bearer token"},
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
  for (auto& spec : stack_file_option_specs()) specs.push_back(std::move(spec));
  return specs;
}

constexpr std::string_view usage =
    "Usage: swarm-prepull wait IMAGE... | -f FILE... [--timeout DURATION] [--constraint EXPR...]\n";

// The controller's answers, as wait needs them.
struct Reply {
  unsigned status = 0;  // 0: no answer (unreachable, timed out)
  json body;
  std::string error;  // what went wrong, for messages
};

class ControllerApi {
 public:
  ControllerApi(agent::ControllerUrl url, std::string token)
      : url_(std::move(url)), token_(std::move(token)), transport_(url_.endpoint) {}

  Reply call(http::verb method, const std::string& path, const std::string& body,
             milliseconds timeout) {
    const std::string target = url_.base_path + path;
    const http::Call call{url_.endpoint.to_string(),
                                    std::string(boost::beast::http::to_string(method)) + " " + target};
    auto request =
        agent::controller_request(method, target, url_.endpoint, token_, "swarm-prepull-wait");
    if (method == http::verb::post) {
      request.set(http::field::content_type, "application/json");
      request.body() = body;
    }
    request.prepare_payload();
    const http::Limits limits{timeout, 16 * 1024, 64 * 1024 * 1024};
    auto response = engine::run_blocking(transport_.request(call, std::move(request), limits));
    Reply reply;
    if (!response) {
      reply.status = response.error().status;
      reply.error = response.error().message;
      // Our own error bodies are {"error": "..."}.
      auto parsed = json::parse(reply.error, nullptr, false);
      if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
        reply.error = parsed["error"].get<std::string>();
      }
      if (reply.status == 0) reply.error = response.error().to_string();
      return reply;
    }
    reply.status = response->status;
    reply.body = json::parse(response->body, nullptr, false);
    if (reply.body.is_discarded()) {
      reply.status = 0;
      reply.error = "the controller's answer is not JSON";
    }
    return reply;
  }

 private:
  agent::ControllerUrl url_;
  std::string token_;
  http::Client transport_;
};

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

std::vector<std::string> lines_of(const wait::Progress& progress) {
  std::vector<std::string> lines;
  for (const auto& image : progress.images) lines.push_back(wait::progress_line(image));
  return lines;
}

std::string seconds_text(Clock::duration duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(duration).count());
  return text;
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
    auto reference = reconcile::parse_reference(arg);
    if (!reference) return fail_usage("image '" + arg + "': " + reference.error().message);
    if (seen.insert(reference->canonical()).second) images.push_back(reference->canonical());
  }
  if (!options->all("f").empty()) {
    auto services = read_stack_images(*options, io);
    if (!services) {
      io.err << "swarm-prepull wait: " << services.error().message << "\n";
      return exit_input;
    }
    for (const auto& service : *services) {
      const auto canonical = reconcile::parse_reference(service.image)->canonical();
      if (seen.insert(canonical).second) images.push_back(canonical);
    }
  }
  if (images.empty()) return fail_usage("no image: give IMAGE... or -f FILE");
  const auto constraints = options->all("constraint");
  for (const auto& text : constraints) {
    if (auto parsed = reconcile::parse_constraint(text); !parsed) {
      return fail_usage("--constraint '" + text + "': " + parsed.error().message);
    }
  }
  const auto timeout = controller::parse_duration(options->get("timeout"));
  if (!timeout || timeout->count() <= 0) {
    return fail_usage("--timeout: expected a positive duration (10m, 90s), got '" +
                      options->get("timeout") + "'");
  }
  const auto interval = controller::parse_duration(options->get("interval"));
  if (!interval || interval->count() <= 0) {
    return fail_usage("--interval: expected a positive duration (1s, 500ms), got '" +
                      options->get("interval") + "'");
  }
  json request = {{"images", images}};
  if (!constraints.empty()) request["constraints"] = constraints;
  if (const std::string ttl = options->get("ttl"); !ttl.empty()) {
    if (!controller::parse_duration(ttl)) return fail_usage("--ttl: not a duration: '" + ttl + "'");
    request["ttl"] = ttl;
  }
  auto url = agent::parse_controller_url(options->get("controller"));
  if (!url) return fail_usage(url.error().message);
  std::string token;
  if (const std::string path = options->get("token-file"); !path.empty()) {
    auto read = read_token_file(path);
    if (!read) {
      io.err << "swarm-prepull wait: " << read.error().message << "\n";
      return exit_input;
    }
    token = std::move(read).value();
  }

  ControllerApi api(std::move(*url), std::move(token));
  const bool terminal = &io.out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  Display display(io.out, terminal);
  const auto started = Clock::now();
  const auto deadline = started + *timeout;
  const auto remaining = [&] {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    return std::clamp(left, milliseconds(200), milliseconds(30'000));
  };
  const std::string controller_name = options->get("controller");

  Clock::duration pause = std::min<Clock::duration>(milliseconds(125), *interval);
  std::vector<wait::Tracked> tracked;
  wait::Progress progress;
  for (const auto& image : images) progress.images.push_back({.requested = image});
  bool posted = false;
  bool reached = false;  // the controller answered at least once
  std::string last_error;
  for (;;) {
    if (!posted) {
      const auto reply = api.call(http::verb::post, "/v1/warm", request.dump(), remaining());
      if (reply.status == 202) {
        auto answer = wait::decode_warm_answer(reply.body);
        if (!answer) {
          io.err << "swarm-prepull wait: " << answer.error().message << "\n";
          return exit_input;
        }
        reached = true;
        posted = true;
        tracked = std::move(answer).value();
        progress = wait::evaluate_answer(tracked);
        if (progress.verdict == wait::Verdict::failed) {
          display.show(lines_of(progress));
          io.err << wait::failure_message(progress);
          return exit_failure;
        }
      } else if (reply.status == 401 || reply.status == 403) {
        io.err << "swarm-prepull wait: the controller at " << controller_name
               << " refused the token (HTTP " << reply.status << "): " << reply.error
               << "; check --token-file\n";
        return exit_input;
      } else if (reply.status == 400 || reply.status == 404 || reply.status == 413) {
        io.err << "swarm-prepull wait: the controller refused the request (HTTP " << reply.status
               << "): " << reply.error << "\n";
        return reply.status == 400 ? exit_usage : exit_input;
      } else {
        // Unreachable, starting (503) or busy (429): try again until the timeout.
        if (reply.status != 0) reached = true;
        last_error = reply.error;
      }
    }
    if (posted) {
      const auto reply = api.call(http::verb::get, "/v1/images", {}, remaining());
      if (reply.status == 200) {
        progress = wait::evaluate(tracked, reply.body);
        display.show(lines_of(progress));
        if (progress.verdict == wait::Verdict::ready) {
          io.out << "wait: ready: " << tracked.size() << " image(s) present on every node, after "
                 << seconds_text(Clock::now() - started) << "\n";
          return exit_ok;
        }
        if (progress.verdict == wait::Verdict::failed) {
          io.err << wait::failure_message(progress);
          return exit_failure;
        }
        // The controller forgot the request (it restarted, or the ttl ran out).
        if (progress.needs_repost) posted = false;
      } else if (reply.status == 401 || reply.status == 403) {
        io.err << "swarm-prepull wait: the controller at " << controller_name
               << " refused the token (HTTP " << reply.status << "): " << reply.error << "\n";
        return exit_input;
      } else {
        last_error = reply.error;
        if (reply.status == 503) posted = false;  // restarted: post again once it is ready
      }
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(
        pause, std::max<Clock::duration>(deadline - Clock::now(), Clock::duration::zero())));
    // Small images land within a second: ask soon at first, then every --interval.
    pause = std::min<Clock::duration>(pause * 2, *interval);
  }
  if (!reached) {
    io.err << "swarm-prepull wait: the controller at " << controller_name
           << " is unreachable: " << last_error << "\n";
    return exit_input;
  }
  io.err << wait::timeout_message(progress, *timeout);
  if (!last_error.empty() && !posted) {
    io.err << "wait: last error from the controller: " << last_error << "\n";
  }
  return wait::exit_timeout;
}

}  // namespace swarm_prepull::cli
