// Helpers for integration tests that run swarm-prepull as processes on the
// sandbox: start one with its output in a log file, stop it by pid, wait for
// a condition (tests/integration/waiting.h).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/waiting.h"

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

// The lines of `text` holding `word`, for the figures a test prints.
inline std::string grep_lines(const std::string& text, const std::string& word) {
  std::string lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (line.find(word) != std::string::npos) lines += line + "\n";
  }
  return lines;
}

inline std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// wait_until without a description (prefer wait_until: its failure says what
// was awaited).
inline bool eventually(std::chrono::milliseconds limit, const std::function<bool()>& done) {
  return wait_until("a condition", limit, done);
}

// One swarm-prepull process, started with its output in a log file, stopped by pid.
struct Process {
  pid_t pid = -1;
  std::string log;
  int listening = 0;  // the port it said it bound, once port() learned it

  static Process start(const std::vector<std::string>& args, const std::string& log) {
    return start_program(SWARM_PREPULL_BINARY, args, log);
  }

  // Another program (a registry a test runs itself), the same way.
  static Process start_program(const std::string& program, const std::vector<std::string>& args,
                               const std::string& log) {
    Process process;
    process.log = log;
    process.pid = ::fork();
    if (process.pid == 0) {
      std::FILE* out = std::freopen(log.c_str(), "w", stderr);
      if (out == nullptr) ::_exit(127);
      ::dup2(::fileno(stderr), STDOUT_FILENO);
      std::vector<char*> argv;
      std::string binary = program;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (auto& arg : copy) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    return process;
  }

  // The port the process bound on 127.0.0.1 when started with
  // `--listen 127.0.0.1:0`, learned from its log (waiting up to `limit` for
  // the line); 0 when it did not say.
  int port(std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    if (listening == 0) listening = listening_port(log, limit);
    return listening;
  }

  bool alive() const { return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }

  // SIGTERM, then the seconds until it exited (-1: killed after 10 s) and its
  // exit status (-1 when a signal ended it).
  std::pair<double, int> stop() {
    if (pid <= 0) return {0, 0};
    const auto start = ProcessClock::now();
    ::kill(pid, SIGTERM);
    const auto status = reap(std::chrono::seconds(10));
    if (!status) return {-1, -1};
    return {seconds_since(start), *status};
  }

  // SIGKILL: a crash, no chance to clean up.
  void kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }

  // Waits for the process to end by itself within `limit`: its exit status,
  // or -1 (a signal ended it, or it still ran at the limit and was killed).
  int wait_exit(std::chrono::milliseconds limit) { return reap(limit).value_or(-1); }

  // The exit status (-1 for a signal) once the process ended within `limit`;
  // nullopt when it still ran then (it is killed).
  std::optional<int> reap(std::chrono::milliseconds limit) {
    if (pid <= 0) return -1;
    int status = 0;
    const bool exited = wait_until(
        "pid " + std::to_string(pid) + " to exit", limit,
        [&] { return ::waitpid(pid, &status, WNOHANG) != 0; }, std::chrono::milliseconds(5));
    if (!exited) {
      kill();
      return std::nullopt;
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
