// What the integration tests know of the sandbox swarm that scripts/sandbox
// started: read from the NAME=VALUE file it writes, so the tests need no shell.
#pragma once

#include <string>
#include <vector>

namespace swarm_prepull::testing {

struct SandboxNode {
  std::string name;         // node-1, node-2, ...
  std::string docker_host;  // unix:///.../docker.sock
  std::string addr;         // the node's address on the sandbox bridge
};

struct Sandbox {
  std::string dir;
  std::string registry;             // host:port of the sandbox registry
  std::string missing_image;        // a reference whose tag the registry does not hold
  std::vector<std::string> images;  // seeded references, all pullable
  std::vector<SandboxNode> nodes;   // nodes[0] is the manager
  // The registry that checks credentials (htpasswd): its host:port, seeded
  // references, user, the file holding its password, and a DOCKER_CONFIG
  // folder whose config.json has the credentials.
  std::string private_registry;
  std::vector<std::string> private_images;
  std::string private_user;
  std::string private_password_file;
  std::string private_docker_config;
  // host:port that the engines trust as an insecure registry but where no
  // registry of the sandbox listens: a test's own server in front of
  // `registry` (tests/integration/registry_proxy.h). Empty: an older sandbox.
  std::string test_proxy_registry;
  // host:port that the engines trust as an insecure registry, free for a
  // cache registry that a test starts itself. Empty: an older sandbox.
  std::string test_cache_registry;
};

// The sandbox described by $SWARM_PREPULL_SANDBOX_DIR/env (default
// /tmp/swarm-prepull-sandbox/env); nullptr when no sandbox is up.
const Sandbox* sandbox();

// Runs a shell command, returning its exit status and standard output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

// A Debian docker CLI command line (the sandbox engines speak API 1.41) for
// one node's engine, stderr folded into the output.
std::string docker(const std::string& host, const std::string& args);

}  // namespace swarm_prepull::testing
