// Private images against a registry that checks credentials (the sandbox's
// htpasswd registry): the controller resolves with --registry-auth-file, the
// agents pull with theirs, a wrong password fails as `unauthorized` once and
// is not retried until the file changes, and a rotated file recovers with
// nothing restarted. No credential may appear in anything the processes
// write or answer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "http/base64.h"
#include "tests/integration/process_swarm.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

class PrivateRegistryTest : public ProcessSwarmTest {
 protected:
  void SetUp() override {
    set_up("private-registry");
    if (HasFatalFailure()) return;
    ASSERT_FALSE(box_->private_registry.empty())
        << "the sandbox has no private registry: run scripts/sandbox up again";
    password_ = trim(read_text(box_->private_password_file));
    ASSERT_FALSE(password_.empty()) << box_->private_password_file;
    config_file_ = dir_ + "/registry-config.json";
  }

  // The docker config.json the controller and the agents read, replaced at
  // once, as a rotated swarm secret is (a new file in place of the old).
  void write_credentials(const std::string& password) {
    const std::string auth = http::base64_encode(box_->private_user + ":" + password);
    const std::string temporary = config_file_ + ".tmp";
    std::ofstream(temporary) << R"({"auths": {")" << box_->private_registry << R"(": {"auth": ")"
                             << auth << R"("}}})"
                             << "\n";
    ASSERT_EQ(std::rename(temporary.c_str(), config_file_.c_str()), 0) << config_file_;
    written_secrets_.push_back(password);
    written_secrets_.push_back(auth);
  }

  void start_with_credentials() {
    start_controller({"--registry-auth-file", config_file_});
    for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
      agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1,
                                    {"--registry-auth-file", config_file_}));
    }
    ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  }

  // A service on a fresh private image, created as `docker stack deploy
  // --with-registry-auth` creates one: the manager resolves the tag with the
  // credentials and the spec is pinned. Returns the pinned ref.
  std::string private_service(const std::string& role) {
    const std::string image = fresh_private_image();
    const std::string service =
        create_service(role, image, "--with-registry-auth",
                       "DOCKER_CONFIG='" + box_->private_docker_config + "' ");
    const std::string ref = service_ref(service);
    EXPECT_THAT(ref, ::testing::HasSubstr("@sha256:")) << "the manager did not resolve " << image;
    return ref;
  }

  // Every log line, metric and answer the test's processes produced.
  std::string everything_written() {
    std::string text = read_text(controller_.log);
    for (std::size_t index = 1; index <= agents_.size(); ++index) {
      text += read_text(dir_ + "/agent-" + std::to_string(index) + ".log");
    }
    for (int index = 1; index <= client_runs_["wait"]; ++index) {
      text += read_text(dir_ + "/wait-" + std::to_string(index) + ".log");
    }
    for (std::size_t node = 0; node < agents_.size(); ++node) text += metrics_of(node);
    text += run_command("curl -sf " + controller_url() + "/metrics").output;
    text += controller_images().dump();
    return text;
  }

  void expect_no_credential_anywhere() {
    const std::string text = everything_written();
    ASSERT_GT(text.size(), 1000u) << "the logs are missing: " << text;
    std::vector<std::string> secrets = written_secrets_;
    secrets.push_back(private_registry_auth());  // the X-Registry-Auth value
    for (const auto& secret : secrets) {
      EXPECT_EQ(text.find(secret), std::string::npos) << "a credential appears: " << secret;
    }
  }

  // `series` on every agent, e.g. swarm_prepull_pulls_total{result="failure"}.
  std::vector<double> on_every_agent(const std::string& series) {
    std::vector<double> values;
    for (std::size_t node = 0; node < agents_.size(); ++node) {
      values.push_back(counter_value(metrics_of(node), series));
    }
    return values;
  }

  std::string password_, config_file_;
  std::vector<std::string> written_secrets_;
};

TEST_F(PrivateRegistryTest, PrepullsAPrivateServiceAndWaitsOnANewPrivateTag) {
  write_credentials(password_);
  const std::string service_image = private_service("service");
  const auto started = ProcessClock::now();
  start_with_credentials();
  ASSERT_TRUE(wait_until("every node holding the private service image", 60s, [&] {
    return engines_.present_everywhere(service_image);
  })) << read_text(dir_ + "/agent-1.log");
  std::printf("[ figures  ] private service image on 3 nodes %.2f s after the controller started\n",
              seconds_since(started));

  // A tag no service names yet: the controller must resolve it at the
  // registry with its own credentials before any node is given it.
  const std::string next = fresh_private_image();
  const auto result = run_wait({next, "--timeout", "60s"});
  EXPECT_EQ(result.status, 0) << result.output << read_text(controller_.log);
  EXPECT_THAT(result.output, ::testing::HasSubstr("3/3 nodes"));
  EXPECT_TRUE(engines_.present_everywhere(pinned(next, private_registry_auth())));
  std::printf("[ figures  ] wait on a new private tag -> exit %d after %.2f s\n", result.status,
              result.seconds);
  expect_no_credential_anywhere();
}

TEST_F(PrivateRegistryTest, AWrongPasswordFailsOnceAsUnauthorizedAndARotatedOneRecovers) {
  write_credentials("not-" + password_);
  const std::string service_image = private_service("service");
  start_with_credentials();

  // Every node tried once and says why.
  const std::string failed = "swarm_prepull_pull_failures_total{reason=\"unauthorized\"}";
  ASSERT_TRUE(wait_until("every agent reporting its pull unauthorized", 60s, [&] {
    for (const double value : on_every_agent(failed)) {
      if (value < 1) return false;
    }
    return true;
  })) << read_text(dir_ + "/agent-1.log");
  const auto images = controller_images().dump();
  EXPECT_THAT(images, ::testing::HasSubstr(R"("reason":"unauthorized")")) << images;
  // ... and not again while the credentials stay wrong: three more checks of
  // every agent (each counts the image missing) without a second try.
  const std::string misses = "swarm_prepull_cache_misses_total";
  const auto misses_before = on_every_agent(misses);
  ASSERT_TRUE(wait_until("three more checks on every agent", 60s, [&] {
    const auto now = on_every_agent(misses);
    for (std::size_t node = 0; node < now.size(); ++node) {
      if (now[node] < misses_before[node] + 3) return false;
    }
    return true;
  }));
  for (const double value : on_every_agent("swarm_prepull_pulls_total{result=\"failure\"}")) {
    EXPECT_EQ(value, 1) << "a pull refused for its credentials was tried again";
  }

  // The controller cannot resolve a new private tag either: wait fails at
  // once, naming the reason, instead of waiting out its timeout.
  const std::string next = fresh_private_image();
  const auto refused = run_wait({next, "--timeout", "60s"});
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_THAT(refused.output, ::testing::HasSubstr("unauthorized"));
  std::printf("[ figures  ] wait on a private tag with a wrong password -> exit %d after %.2f s\n",
              refused.status, refused.seconds);

  // Rotation: the right password replaces the file; nothing is restarted.
  const auto rotated = ProcessClock::now();
  write_credentials(password_);
  ASSERT_TRUE(wait_until("every node holding the private service image after the rotation", 60s,
                         [&] { return engines_.present_everywhere(service_image); }))
      << read_text(dir_ + "/agent-1.log");
  std::printf("[ figures  ] credentials rotated -> private image on 3 nodes after %.2f s\n",
              seconds_since(rotated));
  const auto accepted = run_wait({next, "--timeout", "60s"});
  EXPECT_EQ(accepted.status, 0) << accepted.output << read_text(controller_.log);
  for (const auto& agent : agents_) EXPECT_TRUE(agent.alive());
  expect_no_credential_anywhere();
}

}  // namespace
}  // namespace swarm_prepull::testing
