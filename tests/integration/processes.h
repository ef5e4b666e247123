// Helpers for integration tests that run swarm-prepull as processes on the
// sandbox: start one with its output in a log file, stop it by pid, poll for
// a condition.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace swarm_prepull::testing {

using ProcessClock = std::chrono::steady_clock;

inline double seconds_since(ProcessClock::time_point start) {
  return std::chrono::duration<double>(ProcessClock::now() - start).count();
}

inline std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

inline std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Polls `done` every 100 ms until it holds or `limit` passes.
inline bool eventually(std::chrono::milliseconds limit, const std::function<bool()>& done) {
  const auto deadline = ProcessClock::now() + limit;
  while (ProcessClock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// One swarm-prepull process, started with its output in a log file, stopped by pid.
struct Process {
  pid_t pid = -1;
  std::string log;

  static Process start(const std::vector<std::string>& args, const std::string& log) {
    Process process;
    process.log = log;
    process.pid = ::fork();
    if (process.pid == 0) {
      std::FILE* out = std::freopen(log.c_str(), "w", stderr);
      if (out == nullptr) ::_exit(127);
      ::dup2(::fileno(stderr), STDOUT_FILENO);
      std::vector<char*> argv;
      std::string binary = SWARM_PREPULL_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (auto& arg : copy) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    return process;
  }

  bool alive() const { return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }

  // SIGTERM, then the seconds until it exited (-1: killed after 10 s) and its status.
  std::pair<double, int> stop() {
    if (pid <= 0) return {0, 0};
    const auto start = ProcessClock::now();
    ::kill(pid, SIGTERM);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (seconds_since(start) > 10) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        pid = -1;
        return {-1, -1};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid = -1;
    return {seconds_since(start), WIFEXITED(status) ? WEXITSTATUS(status) : -1};
  }

  // SIGKILL: a crash, no chance to clean up.
  void kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }

  // Waits for the process to end by itself within `limit`: its exit status,
  // or -1 (then it is killed).
  int wait_exit(std::chrono::milliseconds limit) {
    if (pid <= 0) return -1;
    const auto deadline = ProcessClock::now() + limit;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (ProcessClock::now() >= deadline) {
        kill();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  long rss_kib() const {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
  }
};

}  // namespace swarm_prepull::testing
