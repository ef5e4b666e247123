// The load harness of issue 15: N simulated agents (1,000 by default) speak the
// agent API (docs/agent-api.md) to one real `swarm-prepull controller` process
// whose engine is a scripted fake (bench/load/fake_swarm.h) serving an N-node
// swarm. Each rollout changes one global service's image; the harness times
// how soon every agent's long poll answers with the set that holds it, how
// /healthz and /v1/images answer meanwhile, and what the controller spends
// (CPU from /proc/<pid>/stat, memory from /proc/<pid>/status).
//
// A tool a person runs (scripts/load), not a test: it prints figures, and
// exits non-zero only when the run could not be completed (a timeout, a
// controller that did not start, agents that never saw a rollout).
//
//   swarm_prepull_load [--agents N] [--rollouts N] [--pull-ms MS] [--poll-wait S] [--timeout S]
//                      [--binary PATH] [-- CONTROLLER OPTIONS...]
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "api/controller_client.h"
#include "bench/load/fake_swarm.h"
#include "http/client.h"
#include "http/url.h"

#ifndef SWARM_PREPULL_BINARY
#define SWARM_PREPULL_BINARY "swarm-prepull"
#endif

namespace swarm_prepull::load {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using Milliseconds = std::chrono::duration<double, std::milli>;

struct Options {
  std::size_t agents = 1000;
  std::size_t rollouts = 5;
  std::chrono::milliseconds pull{20};  // a simulated pull's duration
  std::chrono::seconds timeout{120};   // the whole run, start to stop
  std::chrono::seconds poll_wait{30};  // the agent's default --poll-wait
  std::string binary = SWARM_PREPULL_BINARY;
  std::vector<std::string> controller_args;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "load: %s\nusage: swarm_prepull_load [--agents N] [--rollouts N] [--pull-ms MS] "
               "[--timeout S] [--poll-wait S] [--binary PATH] [-- CONTROLLER OPTIONS...]\n",
               why.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      options.controller_args.assign(argv + i + 1, argv + argc);
      break;
    }
    if (i + 1 >= argc) usage(arg + " needs a value");
    const std::string value = argv[++i];
    const auto number = [&](long low, long high) {
      try {
        std::size_t used = 0;
        const long parsed = std::stol(value, &used);
        if (used == value.size() && parsed >= low && parsed <= high) return parsed;
      } catch (const std::exception&) {
      }
      usage(arg + ": expected a number from " + std::to_string(low) + " to " +
            std::to_string(high) + ", got '" + value + "'");
    };
    if (arg == "--agents") {
      options.agents = static_cast<std::size_t>(number(1, 20'000));
    } else if (arg == "--rollouts") {
      options.rollouts = static_cast<std::size_t>(number(1, 100));
    } else if (arg == "--pull-ms") {
      options.pull = std::chrono::milliseconds(number(0, 10'000));
    } else if (arg == "--timeout") {
      options.timeout = std::chrono::seconds(number(5, 3600));
    } else if (arg == "--poll-wait") {
      options.poll_wait = std::chrono::seconds(number(1, 60));
    } else if (arg == "--binary") {
      options.binary = value;
    } else {
      usage("unknown option " + arg);
    }
  }
  return options;
}

// ---------------------------------------------------------------------------
// The controller process: started and stopped by its pid, nothing else.

struct ProcessTimes {
  double cpu_seconds = 0;  // utime + stime
  long rss_kib = 0;        // VmRSS
  long hwm_kib = 0;        // VmHWM: the peak resident set
};

ProcessTimes read_process(pid_t pid) {
  ProcessTimes times;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name, which may hold spaces and ends at the last ')'.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::vector<std::string> values;
  for (std::string value; fields >> value;) values.push_back(value);
  if (values.size() > 12) {  // values[0] is field 3 (state); utime is 14, stime 15
    times.cpu_seconds = static_cast<double>(std::stoull(values[11]) + std::stoull(values[12])) /
                        static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) times.rss_kib = std::stol(line.substr(6));
    if (line.starts_with("VmHWM:")) times.hwm_kib = std::stol(line.substr(6));
  }
  return times;
}

class ControllerProcess {
 public:
  ControllerProcess(const std::string& binary, const std::vector<std::string>& args,
                    const std::filesystem::path& log) {
    std::vector<std::string> argv = {binary, "controller"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> pointers;
    for (auto& arg : argv) pointers.push_back(arg.data());
    pointers.push_back(nullptr);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) throw std::runtime_error("cannot create " + log.string());
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      // Ends with the harness, however the harness ends.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execv(binary.c_str(), pointers.data());
      std::fprintf(stderr, "load: cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    ::close(log_fd);
  }
  ~ControllerProcess() { stop(0s); }
  ControllerProcess(const ControllerProcess&) = delete;
  ControllerProcess& operator=(const ControllerProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }
  // SIGTERM (the graceful stop agents see), then SIGKILL after `grace`.
  void terminate() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  void stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + grace;
    while (!exited() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------
// The simulated agents.

struct Rollout {
  std::string digest;  // of the new image: the set that lists it is the woken one
  Clock::time_point event{};
  std::vector<Clock::time_point> woken;  // each agent's long poll answering with it
  std::size_t present = 0;               // agents that reported it present
  Clock::time_point all_present{};
  // CPU seconds at the event and when the last agent woke: did the controller
  // (and the harness) get a core while the long polls were answered?
  ProcessTimes controller_at_event{};
  ProcessTimes controller_all_woken{};
  ProcessTimes harness_at_event{};
  ProcessTimes harness_all_woken{};
};

struct Fleet {
  Options options;
  pid_t controller = -1;
  Rollout* current = nullptr;
  bool stopping = false;
  std::atomic<std::size_t> reported{0};  // agents whose first report was accepted
  std::atomic<std::size_t> polling{0};   // agents with a long poll out
  std::size_t errors = 0;
  std::map<std::string, std::size_t> error_kinds;  // the first few, by message
  std::size_t reports = 0;
  std::size_t polls = 0;
  std::size_t unstamped = 0;  // answers timed when read, for want of the kernel's stamp

  // Counted by kind (method and message), not by node.
  void failed(const api::Error& error) {
    ++errors;
    const std::string kind = error.request.substr(0, error.request.find(' ')) + ": " +
                             error.code.message() + ": " + error.message;
    if (error_kinds.size() < 8 || error_kinds.contains(kind)) ++error_kinds[kind];
  }
};

struct Agent {
  explicit Agent(api::ControllerClientOptions options) : client(std::move(options)) {}
  api::ControllerClient client;
  std::uint64_t generation = 0;
  std::set<std::string> present;  // refs this node's engine holds
  std::string last_report;        // the states last reported, to report only changes
  api::DesiredSet set;            // the newest set, for the work
  bool pending = false;           // `set` is newer than what the work last did
  bool working = false;
  bool reported = false;  // the first report was accepted
  const Rollout* woken_for = nullptr;
  const Rollout* present_for = nullptr;
};

net::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  net::steady_timer timer(co_await net::this_coro::executor, duration);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool has_digest(const std::string& ref, const std::string& digest) {
  return !digest.empty() && ref.ends_with(digest);
}

// Posts until accepted or stopping (the real agent drops a failed report and
// sends a fresh one next cycle; retrying keeps a rollout's count exact).
net::awaitable<bool> post(Fleet& fleet, Agent& agent, const api::StatusReport& report) {
  while (!fleet.stopping) {
    ++fleet.reports;
    auto posted = co_await agent.client.post_status(report);
    if (posted) co_return true;
    fleet.failed(posted.error());
    co_await sleep_for(200ms);
  }
  co_return false;
}

// Every image of the set in its state on this node; `states` gets each ref
// and a digit for its state, to tell whether anything changed since the last
// report.
api::StatusReport status_report(const Agent& agent, const api::DesiredSet& set,
                                std::string& states) {
  api::StatusReport report;
  report.generation = set.generation;
  report.agent_version = "load";
  report.engine_version = "20.10.24";
  for (const auto& image : set.images) {
    api::ImageStatus status{.ref = image.ref};
    if (agent.present.contains(image.ref)) {
      status.state = api::ImageState::present;
    } else if (image.pull) {
      status.state = api::ImageState::pulling;
      status.since = unix_now();
    } else {
      status.state = api::ImageState::waiting;
    }
    states += image.ref + std::to_string(static_cast<int>(status.state));
    report.images.push_back(std::move(status));
  }
  return report;
}

// The agent's check, less the engine: report what changed, "pull" what the
// controller grants, report it present; again while newer sets came in.
net::awaitable<void> work(Fleet& fleet, Agent& agent) {
  while (agent.pending && !fleet.stopping) {
    agent.pending = false;
    const api::DesiredSet set = agent.set;
    Rollout* rollout = fleet.current;
    std::string states;
    auto report = status_report(agent, set, states);
    std::vector<std::string> pulls;
    for (const auto& image : report.images) {
      if (image.state == api::ImageState::pulling) pulls.push_back(image.ref);
    }
    if (states != agent.last_report) {
      if (!co_await post(fleet, agent, report)) break;
      agent.last_report = states;
    }
    if (!agent.reported) {
      agent.reported = true;
      ++fleet.reported;
    }
    if (pulls.empty()) continue;
    co_await sleep_for(fleet.options.pull);
    for (auto& ref : pulls) agent.present.insert(ref);
    states.clear();
    report = status_report(agent, set, states);
    if (!co_await post(fleet, agent, report)) break;
    agent.last_report = states;
    if (rollout != nullptr && agent.present_for != rollout &&
        std::any_of(pulls.begin(), pulls.end(),
                    [&](const auto& ref) { return has_digest(ref, rollout->digest); })) {
      agent.present_for = rollout;
      if (++rollout->present == fleet.options.agents) rollout->all_present = Clock::now();
    }
  }
  agent.working = false;
}

// The answer to one long poll and when it reached this host: the kernel's
// receive timestamp of its last bytes (SO_TIMESTAMPNS), taken when the data
// came in, not when this harness's one core got round to it. 1,000 agents are
// 1,000 machines; here each answer's decoding, report and next poll take the
// core from the answers behind it, which had added up to 150 ms.
struct Answer {
  api::DesiredSet set;
  Clock::time_point arrived{};
  bool stamped = false;  // else `arrived` is when it was read: the kernel gave no stamp
};

// The kernel's realtime stamp as this harness's steady clock reads it.
Clock::time_point steady_from(const timespec& stamp) {
  const auto realtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(stamp.tv_sec) + std::chrono::nanoseconds(stamp.tv_nsec)));
  return Clock::now() - (std::chrono::system_clock::now() - realtime);
}

// GET /v1/nodes/{node}/desired?after=G&wait=S as the agent sends it
// (api/controller_client.cpp), read by hand for the timestamp.
net::awaitable<api::Result<Answer>> long_poll(const api::ControllerClientOptions& options,
                                              std::uint64_t after) {
  const std::string target =
      options.url.base_path + "/v1/nodes/" + http::percent_encode(options.node_id) +
      "/desired?after=" + std::to_string(after) + "&wait=" + std::to_string(options.wait.count());
  const http::Call call{options.url.endpoint.to_string(),
                        "GET " + target.substr(0, target.find('?'))};
  const auto& endpoint = options.url.endpoint;
  // Shared with the deadline's handler, which may already be queued when
  // this coroutine ends.
  const auto socket = std::make_shared<net::ip::tcp::socket>(co_await net::this_coro::executor);
  boost::system::error_code error;
  const auto address = net::ip::make_address(endpoint.host, error);
  if (error) co_return call.fail(http::errc::invalid_address, "not an address: " + endpoint.host);
  std::tie(error) = co_await socket->async_connect(net::ip::tcp::endpoint(address, endpoint.port),
                                                   net::as_tuple(net::use_awaitable));
  if (error) co_return call.fail(http::errc::unavailable, "connecting: " + error.message());
  const int on = 1;
  if (::setsockopt(socket->native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
    co_return call.fail(http::errc::unavailable,
                        std::string("SO_TIMESTAMPNS: ") + std::strerror(errno));
  }
  // As the agent's client bounds a long poll: its hold and a request's timeout.
  net::steady_timer deadline(socket->get_executor(), options.wait + options.request_timeout);
  deadline.async_wait([socket](boost::system::error_code aborted) {
    if (!aborted) socket->cancel();
  });
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + endpoint.host_header() +
                              "\r\nUser-Agent: swarm-prepull-load\r\nAccept: application/json" +
                              "\r\nAuthorization: Bearer " + options.token +
                              "\r\nConnection: close\r\n\r\n";
  std::tie(error, std::ignore) =
      co_await net::async_write(*socket, net::buffer(request), net::as_tuple(net::use_awaitable));
  if (error) co_return call.fail(http::errc::connection_lost, "sending: " + error.message());
  // Until the controller closes the connection (Connection: close).
  std::string data;
  Answer answer;
  std::array<char, 16 * 1024> chunk;  // in the coroutine's frame: 1,000 of them
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control{};
  for (;;) {
    std::tie(error) =
        co_await socket->async_wait(net::socket_base::wait_read, net::as_tuple(net::use_awaitable));
    if (error == net::error::operation_aborted) {
      co_return call.fail(http::errc::timeout, "no answer within the long poll's bound");
    }
    if (error) co_return call.fail(http::errc::connection_lost, "waiting: " + error.message());
    iovec vector{chunk.data(), chunk.size()};
    msghdr message{};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    const ssize_t got = ::recvmsg(socket->native_handle(), &message, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (got < 0) co_return call.fail(http::errc::connection_lost, std::strerror(errno));
    if (got == 0) break;
    data.append(chunk.data(), static_cast<std::size_t>(got));
    if (data.size() > options.body_limit + 64 * 1024) {
      co_return call.fail(http::errc::too_large, "an answer over the body limit");
    }
    answer.arrived = Clock::now();
    answer.stamped = false;
    if ((message.msg_flags & MSG_CTRUNC) != 0) continue;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_TIMESTAMPNS) {
        timespec stamp{};
        std::memcpy(&stamp, CMSG_DATA(header), sizeof stamp);
        answer.arrived = steady_from(stamp);
        answer.stamped = true;
      }
    }
  }
  boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  parser.eager(true);
  parser.body_limit(options.body_limit);
  parser.put(net::buffer(data), error);
  if (!error && !parser.is_done()) parser.put_eof(error);
  if (error) co_return call.fail(http::errc::bad_response, "parsing: " + error.message());
  const auto& response = parser.get();
  if (response.result_int() != 200) {
    co_return call.fail(http::errc::status, response.body(), response.result_int());
  }
  auto set = api::decode_desired_set(response.body());
  if (!set) co_return call.fail(http::errc::bad_response, set.error().to_string());
  answer.set = std::move(*set);
  co_return answer;
}

// What the real agent's poll loop does (agent/agent.cpp): long-poll the node's
// set and hand every new one to the work, which runs beside the polls.
net::awaitable<void> run_agent(Fleet& fleet, Agent& agent) {
  while (!fleet.stopping) {
    ++fleet.polling;
    ++fleet.polls;
    const auto asked = Clock::now();
    auto answer = co_await long_poll(agent.client.options(), agent.generation);
    --fleet.polling;
    if (fleet.stopping) break;
    if (!answer) {
      fleet.failed(answer.error());
      co_await sleep_for(500ms);
      continue;
    }
    const auto now = answer->arrived;
    if (!answer->stamped) ++fleet.unstamped;
    auto* set = &answer->set;
    Rollout* rollout = fleet.current;
    if (rollout != nullptr && agent.woken_for != rollout &&
        std::any_of(set->images.begin(), set->images.end(),
                    [&](const auto& image) { return has_digest(image.ref, rollout->digest); })) {
      agent.woken_for = rollout;
      rollout->woken.push_back(now);
      if (rollout->woken.size() == fleet.options.agents) {
        rollout->controller_all_woken = read_process(fleet.controller);
        rollout->harness_all_woken = read_process(::getpid());
      }
    }
    if (agent.generation != 0 && set->generation == agent.generation) {
      if (now - asked < 1s) co_await sleep_for(1s);  // nothing new at once: do not spin
      continue;
    }
    // The steady state a rollout starts from: every node holds its first set.
    if (agent.generation == 0) {
      for (const auto& image : set->images) agent.present.insert(image.ref);
    }
    agent.generation = set->generation;
    agent.set = std::move(*set);
    agent.pending = true;
    if (!agent.working) {
      agent.working = true;
      net::co_spawn(co_await net::this_coro::executor, work(fleet, agent), net::detached);
    }
  }
}

// ---------------------------------------------------------------------------
// Probes of /healthz and /v1/images while the agents load the controller.

struct Samples {
  std::vector<double> ms;
  std::vector<Clock::time_point> started;  // of each of `ms`
  std::size_t failures = 0;
};

// On a thread of their own, so that a probe's answer is timed when it comes,
// not when the agents' work leaves the harness's core to it.
struct Probes {
  std::atomic<bool> running = true;
  std::atomic<bool> recording = false;
  Samples healthz;
  Samples images;
  Samples gate_images;  // GET /v1/images?refs= of the rolled-out image, as `wait` asks
};

// GET /v1/images with the agents' token; `query` from
// ControllerClient::images_query, or none for every image.
http::Request images_request(const api::ControllerClientOptions& options,
                             const std::string& query = {}) {
  http::Request request{http::verb::get, options.url.base_path + "/v1/images" + query, 11};
  request.set(http::field::authorization, "Bearer " + options.token);
  return request;
}

// Times `ask` (an awaitable<bool>: answered or not) every `period`.
template <class Ask>
net::awaitable<void> probe(const Probes& probes, Samples& samples, std::chrono::milliseconds period,
                           Ask ask) {
  while (probes.running) {
    const auto started = Clock::now();
    const bool answered = co_await ask();
    if (probes.recording) {
      if (answered) {
        samples.ms.push_back(Milliseconds(Clock::now() - started).count());
        samples.started.push_back(started);
      } else {
        ++samples.failures;
      }
    }
    co_await sleep_for(period);
  }
}

void start_probes(net::io_context& context, Probes& probes,
                  const api::ControllerClientOptions& options, const FakeSwarm& swarm) {
  auto healthz = std::make_shared<http::Client>(
      options.url.endpoint,
      http::Limits{.timeout = 30s, .header_limit = 16 * 1024, .body_limit = 4096});
  net::co_spawn(context,
                probe(probes, probes.healthz, 50ms,
                      [healthz]() -> net::awaitable<bool> {
                        auto request = healthz->prepare({http::verb::get, "/healthz", 11});
                        co_return (co_await healthz->request(std::move(request))).has_value();
                      }),
                net::detached);
  // Every image (the status page's question) and the rolled-out one alone
  // (the gate's). Read, not decoded: decoding 1,000 nodes' listing took the
  // harness's core for tens of milliseconds, which held up the agents'
  // answers it timed.
  const auto listing_probe = [&](Samples& samples, std::function<std::string()> query) {
    auto client = std::make_shared<http::Client>(
        options.url.endpoint,
        http::Limits{.timeout = 30s, .header_limit = 16 * 1024, .body_limit = options.body_limit});
    net::co_spawn(context,
                  probe(probes, samples, 250ms,
                        [client, query, options]() -> net::awaitable<bool> {
                          auto reply = co_await client->request(
                              client->prepare(images_request(options, query())));
                          co_return reply.has_value() && reply->status == 200;
                        }),
                  net::detached);
  };
  listing_probe(probes.images, [] { return std::string(); });
  listing_probe(probes.gate_images,
                [&swarm] { return api::ControllerClient::images_query({swarm.rollout_image()}); });
}

// ---------------------------------------------------------------------------
// Figures.

std::string distribution(std::vector<double> values) {
  if (values.empty()) return "no samples";
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {  // nearest rank
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
  };
  char text[160];
  std::snprintf(text, sizeof text, "p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%zu)", at(0.5),
                at(0.99), values.back(), values.size());
  return text;
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return Milliseconds(to - from).count();
}

// When the slowest probes were asked, against the rollouts: what they waited
// behind on the controller's one thread (the answers, the reports, a pass).
std::string slowest_when(const Samples& samples, const std::vector<Rollout>& rollouts) {
  if (samples.ms.empty()) return "no samples";
  std::vector<std::size_t> order(samples.ms.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const std::size_t shown = std::min<std::size_t>(3, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                    [&](std::size_t a, std::size_t b) { return samples.ms[a] > samples.ms[b]; });
  std::string text;
  for (std::size_t i = 0; i < shown; ++i) {
    const auto at = samples.started[order[i]];
    const Rollout* before = nullptr;
    for (const auto& rollout : rollouts) {
      if (rollout.event <= at) before = &rollout;
    }
    char line[200];
    if (before == nullptr) {
      std::snprintf(line, sizeof line, "%s%.1f ms, asked before the first rollout",
                    text.empty() ? "" : "; ", samples.ms[order[i]]);
    } else {
      std::snprintf(line, sizeof line,
                    "%s%.1f ms, asked %.1f ms after rollout %zu's event (its last wake-up at "
                    "%.1f ms, all present at %.1f ms)",
                    text.empty() ? "" : "; ", samples.ms[order[i]], ms_between(before->event, at),
                    static_cast<std::size_t>(before - rollouts.data()) + 1,
                    before->woken.empty()
                        ? 0.0
                        : ms_between(before->event,
                                     *std::max_element(before->woken.begin(), before->woken.end())),
                    ms_between(before->event, before->all_present));
    }
    text += line;
  }
  return text;
}

// What the watchdog prints when the run takes too long.
struct Progress {
  std::mutex mutex;
  std::string phase = "starting";
  void set(std::string text) {
    std::lock_guard lock(mutex);
    phase = std::move(text);
  }
  std::string get() {
    std::lock_guard lock(mutex);
    return phase;
  }
};

// The controller's own account of the fan-out: its histogram
// swarm_prepull_long_poll_wake_seconds (publish -> answer built), as counts
// at or below each bucket bound, read from GET /metrics.
struct WakeHistogram {
  std::vector<std::pair<double, double>> at_or_below;  // (bound in s, count), "+Inf" last
  double count() const { return at_or_below.empty() ? 0 : at_or_below.back().second; }
};

WakeHistogram parse_wake_histogram(const std::string& metrics) {
  WakeHistogram histogram;
  const std::string prefix = "swarm_prepull_long_poll_wake_seconds_bucket{le=\"";
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const auto close = line.find('"', prefix.size());
    if (close == std::string::npos) continue;
    const std::string bound = line.substr(prefix.size(), close - prefix.size());
    const double le = bound == "+Inf" ? HUGE_VAL : std::strtod(bound.c_str(), nullptr);
    histogram.at_or_below.emplace_back(le,
                                       std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr));
  }
  return histogram;
}

net::awaitable<WakeHistogram> scrape_wake_histogram(const api::ControllerClientOptions& options) {
  http::Client client(
      options.url.endpoint,
      http::Limits{.timeout = 30s, .header_limit = 16 * 1024, .body_limit = 64 * 1024 * 1024});
  auto reply = co_await client.request(client.prepare({http::verb::get, "/metrics", 11}));
  if (!reply) co_return WakeHistogram{};
  co_return parse_wake_histogram(reply->body);
}

// "P% within 0.005 s, ..., 100% within 0.1 s (n=N)" for the answers counted
// between two scrapes: the share at or below each bound, up to the first
// that holds them all.
std::string wake_counts(const WakeHistogram& before, const WakeHistogram& after) {
  // A failed first scrape reads as a controller that had counted nothing yet.
  const auto counted_before = [&](std::size_t i) {
    return i < before.at_or_below.size() ? before.at_or_below[i].second : 0.0;
  };
  if (after.count() == 0 || after.count() == before.count()) return "no samples";
  const double total = after.count() - before.count();
  std::string text;
  for (std::size_t i = 0; i < after.at_or_below.size(); ++i) {
    const double within = after.at_or_below[i].second - counted_before(i);
    if (within == 0) continue;
    // Floored: 99.96% is not "100%", which means every answer.
    char part[96];
    std::snprintf(part, sizeof part, "%s%.0f%% within %g s", text.empty() ? "" : ", ",
                  std::floor(100 * within / total), after.at_or_below[i].first);
    text += part;
    if (within == total) break;
  }
  return text + " (n=" + std::to_string(static_cast<long long>(total)) + ")";
}

struct Run {
  Options options;
  Fleet& fleet;
  Probes& probes;
  FakeSwarm& swarm;
  ControllerProcess& controller;
  Progress& progress;
  std::vector<std::unique_ptr<Agent>>& agents;
  const api::ControllerClientOptions& client_options;
  std::vector<Rollout> rollouts;
  std::vector<double> cpu_per_rollout;
  ProcessTimes steady{};
  ProcessTimes last{};
  WakeHistogram wake_before{};
  WakeHistogram wake_after{};
  bool ok = false;
};

// Waits for `done` or fails the run when `bound` passes first.
template <class Condition>
net::awaitable<bool> wait_until(Condition done, std::chrono::milliseconds bound) {
  const auto deadline = Clock::now() + bound;
  while (!done()) {
    if (Clock::now() > deadline) co_return false;
    co_await sleep_for(5ms);
  }
  co_return true;
}

// What one GET /v1/images costs with the controller otherwise idle (every
// agent's long poll held): the whole listing, which the status page reads,
// and the one image a gate follows (?refs=). Sequential, so each answer's
// time is its own work and the loopback's.
net::awaitable<void> time_idle_listings(const Run& run) {
  http::Client client(
      run.client_options.url.endpoint,
      http::Limits{
          .timeout = 30s, .header_limit = 16 * 1024, .body_limit = run.client_options.body_limit});
  const auto timed = [&](const std::string& query,
                         std::size_t times) -> net::awaitable<std::string> {
    std::vector<double> ms;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < times; ++i) {
      const auto started = Clock::now();
      auto reply =
          co_await client.request(client.prepare(images_request(run.client_options, query)));
      if (!reply) co_return "failed: " + reply.error().to_string();
      if (reply->status != 200) co_return "failed: HTTP " + std::to_string(reply->status);
      ms.push_back(ms_between(started, Clock::now()));
      bytes = reply->body.size();
    }
    co_return distribution(std::move(ms)) + ", " + std::to_string(bytes) + " bytes";
  };
  // Named, not braced temporaries in the co_await: GCC 12 refuses them there.
  const std::string every_image;
  const std::string one_image = api::ControllerClient::images_query({run.swarm.rollout_image()});
  const auto all = co_await timed(every_image, 20);
  const auto one = co_await timed(one_image, 200);
  std::printf(
      "figure: GET /v1/images, the controller otherwise idle: every image %s; ?refs= of one "
      "image %s\n",
      all.c_str(), one.c_str());
}

net::awaitable<void> drive(Run& run) {
  auto& fleet = run.fleet;
  const std::size_t count = run.options.agents;
  run.progress.set("waiting for every agent's first report");
  const auto started = Clock::now();
  if (!co_await wait_until(
          [&] {
            run.progress.set("waiting for every agent's first report: " +
                             std::to_string(fleet.reported) + " of " + std::to_string(count) +
                             " reported, " + std::to_string(fleet.polling) + " long-polling");
            return fleet.reported == count && fleet.polling == count;
          },
          std::chrono::duration_cast<std::chrono::milliseconds>(run.options.timeout))) {
    co_return;
  }
  std::printf("load: %zu agents reported and long-polling after %.0f ms\n", count,
              ms_between(started, Clock::now()));
  // Their long polls reach the controller's accept queue a moment after the
  // client sends them; a quiet second lets them all be held.
  co_await sleep_for(1s);
  run.steady = read_process(run.controller.pid());
  co_await time_idle_listings(run);
  run.wake_before = co_await scrape_wake_histogram(run.client_options);
  run.probes.recording = true;
  run.rollouts.resize(run.options.rollouts);
  for (std::size_t index = 0; index < run.options.rollouts; ++index) {
    Rollout& rollout = run.rollouts[index];
    rollout.woken.reserve(count);
    run.progress.set("rollout " + std::to_string(index + 1) + ": waiting for the agents to poll");
    if (!co_await wait_until([&] { return fleet.polling == count; }, 30s)) co_return;
    co_await sleep_for(300ms);
    const auto before = read_process(run.controller.pid());
    rollout.controller_at_event = before;
    rollout.harness_at_event = read_process(::getpid());
    auto [image, at] = run.swarm.rollout();
    rollout.digest = image.substr(image.find('@') + 1);
    rollout.event = at;
    fleet.current = &rollout;
    run.progress.set("rollout " + std::to_string(index + 1) + " (" + image + ")");
    const bool done = co_await wait_until(
        [&] { return rollout.woken.size() == count && rollout.present == count; }, 60s);
    const auto after = read_process(run.controller.pid());
    if (!done) {
      std::fprintf(stderr, "load: rollout %zu: %zu of %zu agents woken, %zu present after 60 s\n",
                   index + 1, rollout.woken.size(), count, rollout.present);
      co_return;
    }
    run.cpu_per_rollout.push_back(after.cpu_seconds - before.cpu_seconds);
    run.last = after;
    std::vector<double> wake;
    for (auto time : rollout.woken) wake.push_back(ms_between(rollout.event, time));
    const auto pass = run.swarm.pass_after(rollout.event);
    const auto [first, last] = std::minmax_element(rollout.woken.begin(), rollout.woken.end());
    const double window = ms_between(rollout.event, *last) / 1000;
    std::printf(
        "rollout %zu: woken %s; event -> controller's GET /services %.1f ms (its pass read %s "
        "from %.1f ms), its reads answered %.1f ms after the event, -> first answer %.1f ms, "
        "first -> last answer %.1f ms; all present %.1f ms "
        "after the event; controller CPU %.2f s; from the event to the last wake-up (%.2f s) "
        "the controller used %.2f s of CPU, the harness %.2f s\n",
        index + 1, distribution(wake).c_str(), ms_between(rollout.event, pass.services_requested),
        pass.lists.c_str(), ms_between(rollout.event, pass.started),
        ms_between(rollout.event, pass.reads_answered), ms_between(pass.reads_answered, *first),
        ms_between(*first, *last), ms_between(rollout.event, rollout.all_present),
        run.cpu_per_rollout.back(), window,
        rollout.controller_all_woken.cpu_seconds - rollout.controller_at_event.cpu_seconds,
        rollout.harness_all_woken.cpu_seconds - rollout.harness_at_event.cpu_seconds);
    std::fflush(stdout);
  }
  run.probes.recording = false;
  run.wake_after = co_await scrape_wake_histogram(run.client_options);
  run.ok = true;
}

void raise_file_limit(std::size_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= needed) return;
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, needed);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < needed) {
    std::fprintf(stderr, "load: warning: RLIMIT_NOFILE is %llu, %zu descriptors wanted\n",
                 static_cast<unsigned long long>(limit.rlim_cur), needed);
  }
}

std::uint16_t wait_for_port(const std::filesystem::path& log, ControllerProcess& controller,
                            Clock::time_point deadline) {
  const std::string marker = "controller listening address=127.0.0.1:";
  while (Clock::now() < deadline) {
    std::ifstream file(log);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (const auto at = text.find(marker); at != std::string::npos) {
      return static_cast<std::uint16_t>(std::stoul(text.substr(at + marker.size())));
    }
    if (controller.exited()) break;
    std::this_thread::sleep_for(20ms);
  }
  return 0;
}

// Other work on the machine takes cores from the controller and the harness:
// the figures say how much there was.
std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen + " on " +
         std::to_string(std::thread::hardware_concurrency()) + " cores";
}

int main_load(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they come, also into a file
  // Each agent holds at most two connections (its long poll, a report); the
  // controller inherits the limit.
  raise_file_limit(2 * options.agents + 256);

  std::string pattern = (std::filesystem::temp_directory_path() / "swarm-prepull-load-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "load: cannot create a temporary directory\n");
    return 1;
  }
  const std::filesystem::path dir = pattern;
  const std::string token = "load-" + std::to_string(::getpid());
  std::ofstream(dir / "token") << token << "\n";
  const auto log = dir / "controller.log";

  Progress progress;
  net::io_context engine_context(1);
  FakeSwarm swarm(engine_context, SwarmShape{.nodes = options.agents});
  std::thread engine_thread([&] { engine_context.run(); });

  std::vector<std::string> args = {"--listen",
                                   "127.0.0.1:0",
                                   "--token-file",
                                   (dir / "token").string(),
                                   "--host",
                                   "tcp://127.0.0.1:" + std::to_string(swarm.port()),
                                   "--report-binding",
                                   "none",
                                   "--tag-refresh-interval",
                                   "off"};
  args.insert(args.end(), options.controller_args.begin(), options.controller_args.end());
  std::string command = options.binary + " controller";
  for (const auto& arg : args) command += " " + arg;
  std::printf("load: %s\n", command.c_str());
  auto controller = std::make_unique<ControllerProcess>(options.binary, args, log);
  const pid_t pid = controller->pid();
  std::printf("load: controller pid %d, engine 127.0.0.1:%u, %zu nodes, log %s; load average %s\n",
              pid, swarm.port(), options.agents, log.c_str(), load_average().c_str());
  std::fflush(stdout);

  // The hard bound on the whole run, whatever blocks: it kills the child it
  // started (by pid) and exits.
  std::mutex watchdog_mutex;
  std::condition_variable watchdog_wake;
  bool finished = false;
  std::thread watchdog([&] {
    std::unique_lock lock(watchdog_mutex);
    if (watchdog_wake.wait_for(lock, options.timeout, [&] { return finished; })) return;
    std::fprintf(stderr, "load: gave up after %lld s, while %s; controller log: %s\n",
                 static_cast<long long>(options.timeout.count()), progress.get().c_str(),
                 log.c_str());
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    std::_Exit(3);
  });

  const auto start_deadline = Clock::now() + 20s;
  const std::uint16_t port = wait_for_port(log, *controller, start_deadline);
  int status = 1;
  if (port == 0) {
    std::fprintf(stderr, "load: the controller did not start listening; its log %s:\n",
                 log.c_str());
    std::ifstream file(log);
    std::fprintf(stderr, "%s\n", std::string(std::istreambuf_iterator<char>(file), {}).c_str());
  } else {
    api::ControllerClientOptions client_options;
    client_options.url =
        api::parse_controller_url("http://127.0.0.1:" + std::to_string(port)).value();
    client_options.token = token;
    client_options.wait = options.poll_wait;
    client_options.user_agent = "swarm-prepull-load";

    Fleet fleet;
    fleet.options = options;
    fleet.controller = pid;
    Probes probes;
    std::vector<std::unique_ptr<Agent>> agents;
    {
      net::io_context context(1);
      for (const auto& node_id : swarm.node_ids()) {
        auto agent_options = client_options;
        agent_options.node_id = node_id;
        agents.push_back(std::make_unique<Agent>(std::move(agent_options)));
        net::co_spawn(context, run_agent(fleet, *agents.back()), net::detached);
      }
      net::io_context probe_context(1);
      start_probes(probe_context, probes, client_options, swarm);
      std::thread probe_thread([&] { probe_context.run(); });
      const auto stop_probes = [&] {
        probes.running = false;
        if (probe_thread.joinable()) probe_thread.join();
      };
      struct OnExit {
        std::function<void()> run;
        ~OnExit() { run(); }
      } join_probes{stop_probes};  // also when the drive throws
      Run run{options, fleet, probes, swarm, *controller, progress, agents, client_options,
              {},      {},    {},     {},    {},          {},       false};
      auto driven = net::co_spawn(context, drive(run), net::use_future);
      while (driven.wait_for(0s) != std::future_status::ready) context.run_for(50ms);
      driven.get();
      stop_probes();  // before their samples are read

      if (run.ok) {
        std::vector<double> wake;
        std::vector<double> fan_out;
        for (const auto& rollout : run.rollouts) {
          const auto pass = swarm.pass_after(rollout.event);
          for (auto time : rollout.woken) {
            wake.push_back(ms_between(rollout.event, time));
            fan_out.push_back(ms_between(pass.reads_answered, time));
          }
        }
        double cpu_total = 0;
        for (double cpu : run.cpu_per_rollout) cpu_total += cpu;
        std::printf("figure: wake-up after the engine's event, every agent of every rollout: %s\n",
                    distribution(wake).c_str());
        std::printf(
            "figure: wake-up after the pass's last engine read (plan, publish, answers): %s\n",
            distribution(fan_out).c_str());
        std::printf(
            "figure: the controller's swarm_prepull_long_poll_wake_seconds (publish -> answer "
            "built), over the rollouts: %s\n",
            wake_counts(run.wake_before, run.wake_after).c_str());
        std::printf("figure: GET /healthz during the rollouts: %s, %zu failed\n",
                    distribution(probes.healthz.ms).c_str(), probes.healthz.failures);
        std::printf("load:   the slowest: %s\n",
                    slowest_when(probes.healthz, run.rollouts).c_str());
        std::printf("figure: GET /v1/images during the rollouts: %s, %zu failed\n",
                    distribution(probes.images.ms).c_str(), probes.images.failures);
        std::printf("load:   the slowest: %s\n", slowest_when(probes.images, run.rollouts).c_str());
        std::printf(
            "figure: GET /v1/images?refs=<the rolled-out image> during the rollouts: %s, "
            "%zu failed\n",
            distribution(probes.gate_images.ms).c_str(), probes.gate_images.failures);
        std::printf(
            "figure: controller CPU per rollout: %.2f s (mean of %zu; min %.2f, max %.2f)\n",
            cpu_total / static_cast<double>(run.cpu_per_rollout.size()), run.cpu_per_rollout.size(),
            *std::min_element(run.cpu_per_rollout.begin(), run.cpu_per_rollout.end()),
            *std::max_element(run.cpu_per_rollout.begin(), run.cpu_per_rollout.end()));
        std::printf(
            "figure: controller memory: VmRSS %.1f MiB in the steady state, %.1f MiB after the "
            "rollouts, VmHWM %.1f MiB\n",
            static_cast<double>(run.steady.rss_kib) / 1024,
            static_cast<double>(run.last.rss_kib) / 1024,
            static_cast<double>(run.last.hwm_kib) / 1024);
        std::printf(
            "load: %zu long polls (%zu answers timed when read, without the kernel's stamp), %zu "
            "reports, %zu failed requests; load average %s\n",
            fleet.polls, fleet.unstamped, fleet.reports, fleet.errors, load_average().c_str());
        for (const auto& [message, times] : fleet.error_kinds) {
          std::printf("load:   %zux %s\n", times, message.c_str());
        }
        status = 0;
      }
      // Stop: the controller answers every long poll at once on SIGTERM.
      progress.set("stopping");
      fleet.stopping = true;
      controller->terminate();
      context.run_for(5s);
    }
  }
  controller->stop(5s);
  swarm.stop();
  engine_context.stop();
  engine_thread.join();
  {
    std::lock_guard lock(watchdog_mutex);
    finished = true;
  }
  watchdog_wake.notify_one();
  watchdog.join();
  if (status == 0) std::filesystem::remove_all(dir);
  return status;
}

}  // namespace
}  // namespace swarm_prepull::load

int main(int argc, char** argv) { return swarm_prepull::load::main_load(argc, argv); }
