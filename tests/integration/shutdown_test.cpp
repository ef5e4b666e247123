// SIGTERM while the controller is busy: bad requests (a target with the byte
// 0xFF, which once left a freed session behind and crashed the next stop),
// slow clients that never finish their headers, and long polls held open.
// The process must end by itself with status 0 every time; the stop time is
// printed as a figure. In scripts/test this runs on the sanitizer build, so a
// use-after-free on the way out fails it too.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/process_swarm.h"

namespace swarm_prepull::testing {
namespace {

// A TCP connection to 127.0.0.1:port that sends `bytes` and is left open
// (closed when the test's connections go out of scope).
class RawConnection {
 public:
  RawConnection(int port, const std::string& bytes) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port;
      return;
    }
    if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) {
      ADD_FAILURE() << "cannot send to 127.0.0.1:" << port;
    }
  }
  // The first bytes of the answer ("HTTP/1.1 400 ..."), waiting up to 10 s.
  std::string answer() const {
    timeval limit{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    char buffer[64] = {};
    const auto got = ::recv(fd_, buffer, sizeof buffer - 1, 0);
    return got > 0 ? std::string(buffer, static_cast<std::size_t>(got)) : std::string{};
  }

  RawConnection(RawConnection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RawConnection(const RawConnection&) = delete;
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

class ShutdownTest : public ProcessSwarmTest {
 protected:
  void SetUp() override { set_up("shutdown-test"); }
};

TEST_F(ShutdownTest, SigtermUnderLoadEndsWithStatusZeroTwentyTimesInARow) {
  const std::string token = trim(read_text(token_file_));
  const std::string bearer = "Authorization: Bearer " + token + "\r\n";
  double slowest = 0;
  for (int round = 1; round <= 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    start_controller();
    ASSERT_TRUE(controller_healthy());
    // The first reconcile publishes the nodes; a long poll needs its generation.
    std::uint64_t generation = 0;
    ASSERT_TRUE(wait_until("the controller to publish node " + node_ids_[0], 30s, [&] {
      const auto reply = run_command("curl -sf -H 'Authorization: Bearer " + token + "' " +
                                     controller_url() + "/v1/nodes/" + node_ids_[0] + "/desired");
      if (reply.status != 0) return false;
      const auto body = nlohmann::json::parse(reply.output, nullptr, false);
      if (!body.is_object() || !body.contains("generation")) return false;
      generation = body["generation"].get<std::uint64_t>();
      return true;
    }));

    std::vector<RawConnection> load;
    for (int i = 0; i < 10; ++i) {
      load.emplace_back(controller_port_, "GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n");
      EXPECT_EQ(load.back().answer().rfind("HTTP/1.1 400", 0), 0u) << "a target with 0xFF";
    }
    for (int i = 0; i < 3; ++i) {
      load.emplace_back(controller_port_, "GET /v1/images HTTP/1.1\r\nHost: x\r\n");  // unfinished
    }
    for (int i = 0; i < 3; ++i) {
      load.emplace_back(controller_port_, "GET /v1/nodes/" + node_ids_[0] +
                                              "/desired?after=" + std::to_string(generation) +
                                              "&wait=60 HTTP/1.1\r\nHost: x\r\n" + bearer + "\r\n");
    }
    // Every connection is accepted before the signal: the listening socket's
    // queue (its Recv-Q in ss) is empty.
    ASSERT_TRUE(wait_until("every connection accepted", 30s, [&] {
      const auto queue = run_command("ss -Hltn 'sport = :" + std::to_string(controller_port_) +
                                     "' | awk '{print $2}'");
      return queue.status == 0 && trim(queue.output) == "0";
    }));

    const auto [seconds, status] = controller_.stop();
    EXPECT_EQ(status, 0) << "the controller did not exit cleanly; log: " << controller_.log << "\n"
                         << read_text(controller_.log);
    ASSERT_GE(seconds, 0) << "the controller did not exit within 10 s of SIGTERM";
    slowest = std::max(slowest, seconds);
    if (HasFailure()) break;
  }
  std::printf("[ figures  ] SIGTERM under load, 20 rounds: slowest stop %.3f s\n", slowest);
}

}  // namespace
}  // namespace swarm_prepull::testing
