// Waiting on state, never on time: the integration tests poll a condition (an
// engine listing, a metric, a process's exit, a line a process prints) until
// it holds or a generous deadline passes, and a failure says what was awaited
// and for how long. A fixed sleep followed by an assertion would pass without
// testing anything on a slow machine, and fail for no reason on a loaded one.
// Timings are printed as figures, never asserted.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace swarm_prepull::testing {

using WaitClock = std::chrono::steady_clock;

// Polls `done` until it holds or `limit` passes. The interval only says how
// often to look; nothing is decided by it. On failure the result names `what`
// and the limit, e.g. `timed out after 30 s waiting for: ref on all 3 nodes`;
// add what was last seen with `<<`:
//   ASSERT_TRUE(wait_until("the image on every node", 30s, [&] { ... })) << listing;
inline ::testing::AssertionResult wait_until(
    const std::string& what, std::chrono::milliseconds limit, const std::function<bool()>& done,
    std::chrono::milliseconds interval = std::chrono::milliseconds(50)) {
  const auto deadline = WaitClock::now() + limit;
  while (!done()) {
    if (WaitClock::now() >= deadline) {
      return ::testing::AssertionFailure()
             << "timed out after " << std::chrono::duration<double>(limit).count()
             << " s waiting for: " << what;
    }
    std::this_thread::sleep_for(interval);
  }
  return ::testing::AssertionSuccess();
}

// The first value `find` returns within `limit` (polling as wait_until does),
// or nullopt: for waits that also learn something (a port, an id).
template <typename T>
std::optional<T> wait_for_value(std::chrono::milliseconds limit,
                                const std::function<std::optional<T>()>& find) {
  std::optional<T> value;
  (void)wait_until("a value", limit, [&] { return (value = find()).has_value(); });
  return value;
}

// A TCP port on `address` (an IPv4 address of this machine) that was free a
// moment ago: bound with port 0 (the kernel picks), then released for a
// process that must be told its port before it starts (an agent told where a
// controller that does not run yet will listen). Prefer `listening_port`
// where the process can listen on :0.
inline int free_port(const std::string& address = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in bound{};
  bound.sin_family = AF_INET;
  bound.sin_port = 0;
  socklen_t length = sizeof bound;
  if (::inet_pton(AF_INET, address.c_str(), &bound.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&bound), sizeof bound) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("bind(" + address + ":0) failed");
  }
  ::close(fd);
  return ntohs(bound.sin_port);
}

// The port a swarm-prepull process told its log it bound on 127.0.0.1 (it
// was started with `--listen 127.0.0.1:0`): the controller logs
// "listening address=127.0.0.1:PORT", an agent "metrics listening
// address=127.0.0.1:PORT". 0 when no such line appeared within `limit`.
inline int listening_port(const std::string& log_path, std::chrono::milliseconds limit) {
  static const std::regex listening(R"(listening address=127\.0\.0\.1:(\d+))");
  const auto port = wait_for_value<int>(limit, [&]() -> std::optional<int> {
    std::ifstream file(log_path);
    std::stringstream text;
    text << file.rdbuf();
    const std::string log = text.str();
    std::smatch match;
    if (std::regex_search(log, match, listening)) return std::stoi(match[1]);
    return std::nullopt;
  });
  return port.value_or(0);
}

}  // namespace swarm_prepull::testing
