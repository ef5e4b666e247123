#include "tests/integration/sandbox.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace swarm_prepull::testing {
namespace {

std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> values;
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    const auto equals = line.find('=');
    if (line.empty() || line[0] == '#' || equals == std::string::npos) continue;
    values[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return values;
}

std::unique_ptr<Sandbox> load() {
  const char* dir_env = std::getenv("SWARM_PREPULL_SANDBOX_DIR");
  const std::string dir = dir_env != nullptr ? dir_env : "/tmp/swarm-prepull-sandbox";
  auto values = read_env_file(dir + "/env");
  if (values.empty()) return nullptr;
  auto result = std::make_unique<Sandbox>();
  result->dir = dir;
  result->registry = values["SANDBOX_REGISTRY"];
  result->missing_image = values["SANDBOX_MISSING_IMAGE"];
  const auto words = [&](const std::string& name) {
    std::vector<std::string> list;
    std::istringstream text(values[name]);
    for (std::string word; text >> word;) list.push_back(word);
    return list;
  };
  result->images = words("SANDBOX_IMAGES");
  result->private_registry = values["SANDBOX_PRIVATE_REGISTRY"];
  result->test_proxy_registry = values["SANDBOX_TEST_PROXY_REGISTRY"];
  result->test_cache_registry = values["SANDBOX_TEST_CACHE_REGISTRY"];
  result->private_images = words("SANDBOX_PRIVATE_IMAGES");
  result->private_user = values["SANDBOX_PRIVATE_USER"];
  result->private_password_file = values["SANDBOX_PRIVATE_PASSWORD_FILE"];
  result->private_docker_config = values["SANDBOX_PRIVATE_DOCKER_CONFIG"];
  const int count = std::atoi(values["SANDBOX_NODES"].c_str());
  for (int i = 1; i <= count; ++i) {
    const std::string prefix = "SANDBOX_NODE_" + std::to_string(i) + "_";
    result->nodes.push_back(
        SandboxNode{"node-" + std::to_string(i), values[prefix + "HOST"], values[prefix + "ADDR"]});
  }
  return result;
}

}  // namespace

const Sandbox* sandbox() {
  static const std::unique_ptr<Sandbox> instance = load();
  return instance.get();
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t count = 0;
  while ((count = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), count);
  }
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string docker(const std::string& host, const std::string& args) {
  return "DOCKER_HOST='" + host + "' /usr/bin/docker " + args + " 2>&1";
}

}  // namespace swarm_prepull::testing
