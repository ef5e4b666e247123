// The desired image set of every node, and the images a node is missing.
#include "reconcile/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "reconcile/constraint.h"
#include "reconcile/imageset.h"
#include "reconcile/platform.h"
#include "reconcile/reference.h"
#include "tests/unit/swarm_builders.h"

namespace swarm_prepull::reconcile {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string digest_a = "sha256:" + std::string(64, 'a');
const std::string digest_b = "sha256:" + std::string(64, 'b');

using testing::make_node;
using testing::make_service;

const NodePlan& node_plan(const Plan& plan, std::string_view id) {
  const NodePlan* node = find_node(plan, id);
  EXPECT_NE(node, nullptr) << id;
  static const NodePlan none;
  return node ? *node : none;
}

std::vector<std::string> refs_on(const Plan& plan, std::string_view id) {
  return desired_refs(plan, node_plan(plan, id));
}

// ref -> services, for one node.
std::map<std::string, std::vector<std::string>> wanted_on(const Plan& plan, std::string_view id) {
  std::map<std::string, std::vector<std::string>> wanted;
  for (const DesiredImage* image : desired_of(plan, node_plan(plan, id))) {
    wanted[image->ref] = image->services;
  }
  return wanted;
}

constexpr const char* redis = "docker.io/library/redis:latest";
constexpr const char* nginx = "docker.io/library/nginx:1.25";

// --- which nodes receive anything --------------------------------------------

TEST(NodeIsEligible, ReadyAndActive) { EXPECT_TRUE(node_is_eligible(make_node("n1", "a"))); }

TEST(NodeIsEligible, PausedNodeGetsNothing) {
  Node node = make_node("n1", "a");
  node.availability = "pause";
  EXPECT_FALSE(node_is_eligible(node));
}

TEST(NodeIsEligible, DrainedNodeGetsNothing) {
  Node node = make_node("n1", "a");
  node.availability = "drain";
  EXPECT_FALSE(node_is_eligible(node));
}

TEST(NodeIsEligible, DownNodeGetsNothing) {
  Node node = make_node("n1", "a");
  node.state = "down";
  EXPECT_FALSE(node_is_eligible(node));
}

TEST(NodeIsEligible, DisconnectedNodeGetsNothing) {
  Node node = make_node("n1", "a");
  node.state = "disconnected";
  EXPECT_FALSE(node_is_eligible(node));
}

TEST(NodeIsEligible, UnknownStateGetsNothing) {
  Node node = make_node("n1", "a");
  node.state = "unknown";
  EXPECT_FALSE(node_is_eligible(node));
  node.state = "";
  EXPECT_FALSE(node_is_eligible(node));
}

TEST(DesiredImages, IneligibleNodesAreListedWithNoImages) {
  Node drained = make_node("n2", "b");
  drained.availability = "drain";
  Node down = make_node("n3", "c");
  down.state = "down";
  const Plan plan =
      desired_images({make_node("n1", "a"), drained, down}, {make_service("cache", "redis")});
  ASSERT_EQ(plan.nodes.size(), 3u);
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  EXPECT_THAT(refs_on(plan, "n2"), IsEmpty());
  EXPECT_THAT(refs_on(plan, "n3"), IsEmpty());
  EXPECT_THAT(plan.errors, IsEmpty());
}

// --- service modes -----------------------------------------------------------

TEST(DesiredImages, ReplicatedServiceGoesToEveryNodeThatCouldRunIt) {
  const Plan plan = desired_images({make_node("n1", "a"), make_node("n2", "b")},
                                   {make_service("cache", "redis")});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(redis));
}

TEST(DesiredImages, ReplicatedServiceScaledToZeroStillCounts) {
  Service service = make_service("cache", "redis");
  service.spec.replicas = 0;
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
}

TEST(DesiredImages, GlobalServiceCounts) {
  Service service = make_service("agent", "redis");
  service.spec.mode = ServiceMode::global;
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
}

TEST(DesiredImages, ReplicatedJobCounts) {
  Service service = make_service("migrate", "redis");
  service.spec.mode = ServiceMode::replicated_job;
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
}

TEST(DesiredImages, GlobalJobCounts) {
  Service service = make_service("cleanup", "redis");
  service.spec.mode = ServiceMode::global_job;
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
}

TEST(DesiredImages, PluginTaskTemplateIsSkipped) {
  Service service = make_service("plugin", "");
  service.spec.runtime = TaskRuntime::plugin;
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(plan.errors, IsEmpty());
}

TEST(DesiredImages, NetworkAttachmentTaskTemplateIsSkipped) {
  Service service = make_service("attach", "");
  service.spec.runtime = TaskRuntime::attachment;
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(plan.errors, IsEmpty());
}

TEST(DesiredImages, ContainerSpecWithoutImageIsAnError) {
  const Plan plan = desired_images({make_node("n1", "a")}, {make_service("broken", "")});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(plan.errors, ElementsAre(PlanError{"broken", "the container spec has no image"}));
}

// --- placement ---------------------------------------------------------------

TEST(DesiredImages, LabelConstraintSelectsNodes) {
  const Plan plan = desired_images({make_node("n1", "a", {{"zone", "a"}}),
                                    make_node("n2", "b", {{"zone", "b"}}), make_node("n3", "c")},
                                   {make_service("cache", "redis", {"node.labels.zone==a"}),
                                    make_service("web", "nginx:1.25", {"node.labels.zone!=a"})});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(nginx));
  EXPECT_THAT(refs_on(plan, "n3"), ElementsAre(nginx));  // no zone label: != holds
}

TEST(DesiredImages, RoleConstraintSelectsManagers) {
  Node manager = make_node("m1", "m");
  manager.role = "manager";
  const Plan plan = desired_images({manager, make_node("n1", "a")},
                                   {make_service("ui", "redis", {"node.role==manager"})});
  EXPECT_THAT(refs_on(plan, "m1"), ElementsAre(redis));
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
}

// Nodes alike in every label still differ by hostname, id and address.
TEST(DesiredImages, HostnameConstraintSinglesOutOneOfIdenticalNodes) {
  const Plan plan = desired_images(
      {make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b", {{"zone", "a"}})},
      {make_service("pinned", "redis", {"node.hostname==b"}), make_service("web", "nginx:1.25")});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx));
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(nginx, redis));
}

TEST(DesiredImages, NodeIdConstraintSinglesOutOneNode) {
  const Plan plan = desired_images({make_node("n1", "a"), make_node("n2", "b")},
                                   {make_service("pinned", "redis", {"node.id!=n1"})});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(redis));
}

TEST(DesiredImages, NodeIpConstraintUsesEachNodesAddress) {
  Node other = make_node("n2", "b");
  other.addr = "192.168.1.5";
  const Plan plan = desired_images({make_node("n1", "a"), other},
                                   {make_service("lan", "redis", {"node.ip==192.168.0.0/16"})});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(redis));
}

TEST(DesiredImages, EveryConstraintMustHold) {
  const Plan plan = desired_images(
      {make_node("n1", "a", {{"zone", "a"}, {"ssd", "true"}}),
       make_node("n2", "b", {{"zone", "a"}})},
      {make_service("db", "redis", {"node.labels.zone==a", "node.labels.ssd==true"})});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  EXPECT_THAT(refs_on(plan, "n2"), IsEmpty());
}

TEST(DesiredImages, UnknownConstraintKeyPlacesNowhereWithoutError) {
  const Plan plan = desired_images({make_node("n1", "a")},
                                   {make_service("typo", "redis", {"node.label.zone!=x"})});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(plan.errors, IsEmpty());
}

TEST(DesiredImages, PlatformsSelectNodesWithAliases) {
  Node arm = make_node("n2", "b");
  arm.platform = {"aarch64", "linux"};
  Service service = make_service("cache", "redis");
  service.spec.placement.platforms = {{"amd64", "linux"}};
  Service multi = make_service("web", "nginx:1.25");
  multi.spec.placement.platforms = {{"amd64", "linux"}, {"arm64", "linux"}};
  const Plan plan = desired_images({make_node("n1", "a"), arm}, {service, multi});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx, redis));
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(nginx));
}

TEST(DesiredImages, ConstraintsAndPlatformsMustBothHold) {
  Node arm = make_node("n2", "b", {{"zone", "a"}});
  arm.platform = {"aarch64", "linux"};
  Service service = make_service("cache", "redis", {"node.labels.zone==a"});
  service.spec.placement.platforms = {{"arm64", ""}};
  const Plan plan = desired_images({make_node("n1", "a", {{"zone", "a"}}), arm}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(redis));
}

// --- previous specs ----------------------------------------------------------

TEST(DesiredImages, PreviousSpecImageIsKeptForRollback) {
  Service service = make_service("web", "nginx:1.25");
  service.previous_spec = service.spec;
  service.previous_spec->image = "nginx:1.24";
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre("docker.io/library/nginx:1.24", nginx));
  EXPECT_THAT(wanted_on(plan, "n1")["docker.io/library/nginx:1.24"], ElementsAre("web"));
}

TEST(DesiredImages, PreviousSpecIsPlacedByItsOwnPlacement) {
  Service service = make_service("web", "nginx:1.25", {"node.labels.zone==b"});
  service.previous_spec = service.spec;
  service.previous_spec->image = "nginx:1.24";
  service.previous_spec->placement.constraints = {"node.labels.zone==a"};
  const Plan plan = desired_images(
      {make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b", {{"zone", "b"}})}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre("docker.io/library/nginx:1.24"));
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(nginx));
}

// Pull priority (issue 10): what a task needs soonest first.
PullPriority priority_on(const Plan& plan, const std::string& node, const std::string& ref) {
  for (const DesiredImage* image : desired_of(plan, *find_node(plan, node))) {
    if (image->ref == ref) return image->priority;
  }
  ADD_FAILURE() << ref << " not on " << node;
  return PullPriority::declared;
}

TEST(DesiredImages, PriorityFollowsWhyTheImageIsWanted) {
  Service web = make_service("web", "nginx:1.25");
  web.previous_spec = web.spec;
  web.previous_spec->image = "nginx:1.24";
  Service updating = make_service("api", "redis:7");
  updating.previous_spec = updating.spec;
  updating.previous_spec->image = "redis:6";
  updating.update_status = UpdateStatus{.state = "updating", .message = ""};
  NamedImageSet declared{
      .source = "config:base", .set = {.images = {"busybox:1"}, .placement = {}}, .error = {}};
  NamedImageSet warm{
      .source = "warm:1", .set = {.images = {"alpine:3"}, .placement = {}}, .error = {}};
  const Plan plan = desired_images({make_node("n1", "a")}, {web, updating}, {declared}, {warm});
  EXPECT_EQ(priority_on(plan, "n1", nginx), PullPriority::current);
  EXPECT_EQ(priority_on(plan, "n1", "docker.io/library/nginx:1.24"), PullPriority::previous);
  EXPECT_EQ(priority_on(plan, "n1", "docker.io/library/redis:7"), PullPriority::urgent);
  EXPECT_EQ(priority_on(plan, "n1", "docker.io/library/redis:6"), PullPriority::previous);
  EXPECT_EQ(priority_on(plan, "n1", "docker.io/library/busybox:1"), PullPriority::declared);
  EXPECT_EQ(priority_on(plan, "n1", "docker.io/library/alpine:3"), PullPriority::urgent);
}

// Live pulls first (issue 15): the images of tasks swarm is starting on a node.
Task task_on(const std::string& node, const std::string& image, const std::string& state) {
  return Task{.id = "t-" + node + "-" + state,
              .service_id = "s1",
              .node_id = node,
              .slot = 1,
              .desired_state = "running",
              .state = state,
              .error = "",
              .image = image,
              .addresses = {}};
}

std::vector<std::string> starting_on(const Plan& plan, const std::string& node) {
  std::vector<std::string> refs;
  for (std::uint32_t id : find_node(plan, node)->starting) refs.push_back(plan.images[id].ref);
  return refs;
}

TEST(TaskStarting, AssignedUntilRunning) {
  for (const char* state : {"assigned", "accepted", "preparing", "ready", "starting"}) {
    EXPECT_TRUE(task_starting(task_on("n1", "nginx:1.25", state))) << state;
  }
  for (const char* state : {"new", "pending", "running", "complete", "failed", "rejected"}) {
    EXPECT_FALSE(task_starting(task_on("n1", "nginx:1.25", state))) << state;
  }
  Task unassigned = task_on("", "nginx:1.25", "preparing");
  EXPECT_FALSE(task_starting(unassigned));
  Task stopping = task_on("n1", "nginx:1.25", "preparing");
  stopping.desired_state = "shutdown";
  EXPECT_FALSE(task_starting(stopping));
}

TEST(MarkStarting, MarksTheDesiredEntryOfTheTasksPinnedImageOnItsNodeOnly) {
  const std::string digest =
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const std::string pinned = "docker.io/library/nginx@" + digest;
  Service web = make_service("web", "nginx:1.25@" + digest);
  web.previous_spec = web.spec;
  web.previous_spec->image = "nginx:1.24";
  Plan plan = desired_images({make_node("n1", "a"), make_node("n2", "b")}, {web});
  mark_starting(
      plan, {task_on("n1", "nginx:1.25@" + digest, "preparing"),
             task_on("n2", "nginx:1.24", "running"), task_on("n2", "Not A Reference", "preparing"),
             task_on("n3", "nginx:1.25@" + digest, "preparing")});
  EXPECT_THAT(starting_on(plan, "n1"), ElementsAre(pinned));
  EXPECT_THAT(starting_on(plan, "n2"), IsEmpty());
  // The next pass's tasks replace the marks.
  mark_starting(plan, {});
  EXPECT_THAT(starting_on(plan, "n1"), IsEmpty());
}

TEST(DesiredImages, AnImageWantedTwiceTakesTheHigherPriorityWhereBothPlaceIt) {
  // nginx:1.25 is web's rollback target everywhere and web2's current image on zone a only.
  Service web = make_service("web", "nginx:1.26");
  web.previous_spec = web.spec;
  web.previous_spec->image = "nginx:1.25";
  Service web2 = make_service("web2", "nginx:1.25", {"node.labels.zone==a"});
  NamedImageSet declared{
      .source = "config:base", .set = {.images = {"nginx:1.25"}, .placement = {}}, .error = {}};
  const Plan plan =
      desired_images({make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b", {{"zone", "b"}})},
                     {web, web2}, {declared});
  EXPECT_EQ(priority_on(plan, "n1", nginx), PullPriority::current);
  EXPECT_EQ(priority_on(plan, "n2", nginx), PullPriority::previous);
}

TEST(DesiredImages, SameImageInBothSpecsIsListedOnce) {
  Service service = make_service("web", "nginx:1.25");
  service.previous_spec = service.spec;
  service.previous_spec->placement.constraints = {"node.role==worker"};
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  ASSERT_THAT(refs_on(plan, "n1"), ElementsAre(nginx));
  EXPECT_THAT(wanted_on(plan, "n1")[nginx], ElementsAre("web"));
}

// --- labels ------------------------------------------------------------------

TEST(DesiredImages, SkipLabelLeavesTheServiceOut) {
  Service service = make_service("web", "nginx:1.25");
  service.spec.labels["swarm-prepull.skip"] = "true";
  service.previous_spec = make_service("web", "nginx:1.24").spec;
  const Plan plan =
      desired_images({make_node("n1", "a")}, {service, make_service("cache", "redis")});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
}

TEST(DesiredImages, SkipLabelIgnoresCase) {
  Service service = make_service("web", "nginx:1.25");
  service.spec.labels["swarm-prepull.skip"] = "TRUE";
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
}

TEST(DesiredImages, SkipLabelOtherThanTrueDoesNotSkip) {
  Service service = make_service("web", "nginx:1.25");
  service.spec.labels["swarm-prepull.skip"] = "false";
  Service yes = make_service("cache", "redis");
  yes.spec.labels["swarm-prepull.skip"] = "yes";
  const Plan plan = desired_images({make_node("n1", "a")}, {service, yes});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx, redis));
}

// The current Spec states the operator's intent; a skip label left in the
// PreviousSpec (the label was just removed) does not count.
TEST(DesiredImages, SkipLabelOnlyOnPreviousSpecDoesNotSkip) {
  Service service = make_service("web", "nginx:1.25");
  service.previous_spec = service.spec;
  service.previous_spec->labels["swarm-prepull.skip"] = "true";
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx));
}

TEST(DesiredImages, ImagesLabelAddsImagesPlacedLikeTheService) {
  Service service = make_service("web", "nginx:1.25", {"node.labels.zone==a"});
  service.spec.labels["swarm-prepull.images"] = "redis:7, busybox ,";
  const Plan plan = desired_images(
      {make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b", {{"zone", "b"}})}, {service});
  EXPECT_THAT(refs_on(plan, "n1"),
              ElementsAre("docker.io/library/busybox:latest", nginx, "docker.io/library/redis:7"));
  EXPECT_THAT(wanted_on(plan, "n1")["docker.io/library/redis:7"], ElementsAre("web"));
  EXPECT_THAT(refs_on(plan, "n2"), IsEmpty());
  EXPECT_THAT(plan.errors, IsEmpty());
}

TEST(DesiredImages, ImagesLabelOfPreviousSpecFollowsThePreviousPlacement) {
  Service service = make_service("web", "nginx:1.25", {"node.labels.zone==b"});
  service.previous_spec = service.spec;
  service.previous_spec->placement.constraints = {"node.labels.zone==a"};
  service.previous_spec->labels["swarm-prepull.images"] = "redis";
  const Plan plan = desired_images(
      {make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b", {{"zone", "b"}})}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx, redis));
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(nginx));
}

TEST(DesiredImages, BadReferenceInImagesLabelIsReportedAndTheRestPlaced) {
  Service service = make_service("web", "nginx:1.25");
  service.spec.labels["swarm-prepull.images"] = "Bad/Ref,redis";
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx, redis));
  ASSERT_EQ(plan.errors.size(), 1u);
  EXPECT_EQ(plan.errors[0].service, "web");
  EXPECT_THAT(plan.errors[0].message,
              ::testing::StartsWith("label swarm-prepull.images: image 'Bad/Ref': "));
}

// --- references ----------------------------------------------------------------

TEST(DesiredImages, ReferencesAreNormalized) {
  const Plan plan = desired_images(
      {make_node("n1", "a")},
      {make_service("a", "redis"), make_service("b", "docker.io/library/redis:latest"),
       make_service("c", "index.docker.io/library/redis"), make_service("d", "team/app:2"),
       make_service("e", "127.0.0.1:5000/prepull/small:1")});
  EXPECT_THAT(refs_on(plan, "n1"),
              ElementsAre("127.0.0.1:5000/prepull/small:1", "docker.io/library/redis:latest",
                          "docker.io/team/app:2"));
  EXPECT_THAT(wanted_on(plan, "n1")[redis], ElementsAre("a", "b", "c"));
}

// The digest decides what is pulled: the tag is dropped from the ref.
TEST(DesiredImages, DigestPinnedReferenceIsNameAtDigest) {
  const Plan plan =
      desired_images({make_node("n1", "a")}, {make_service("web", "nginx:1.25@" + digest_a)});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre("docker.io/library/nginx@" + digest_a));
}

TEST(DesiredImages, BadReferenceIsAnErrorForThatServiceAlone) {
  const Plan plan = desired_images(
      {make_node("n1", "a")}, {make_service("broken", "Redis:7"), make_service("cache", "redis")});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  ASSERT_EQ(plan.errors.size(), 1u);
  EXPECT_EQ(plan.errors[0].service, "broken");
  EXPECT_THAT(plan.errors[0].message, ::testing::StartsWith("image 'Redis:7': "));
}

// swarm never pulls an image given by ID; pulling "docker.io/library/sha256"
// would fail on every node and never be what the task runs.
TEST(DesiredImages, ImageIdIsReportedAndPlacedNowhere) {
  const std::string id = "sha256:" + std::string(64, 'c');
  Service service = make_service("pinned", id);
  service.spec.labels["swarm-prepull.images"] = id + ", redis";
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  const std::string reason = "': " + std::string(image_id_never_pulled);
  EXPECT_THAT(plan.errors, ElementsAre(PlanError{"pinned", "image '" + id + reason},
                                       PlanError{"pinned", "label swarm-prepull.images: image '" +
                                                               id + reason}));
}

// --- swarm's other filters, at the plan's scale: each spec's resources and
// plugins select nodes like its constraints do.

TEST(DesiredImages, ReservationsSelectNodesWhoseTotalsCoverThem) {
  Node small = make_node("n1", "small");
  small.resources = {testing::nano_cpus_per_cpu, 1 << 30, {}};
  Node big = make_node("n2", "big");
  big.resources = {
      8 * testing::nano_cpus_per_cpu, 16LL << 30, {testing::discrete_resource("gpu", 2)}};
  Service cpu = make_service("cpu", "nginx:1.25");
  cpu.spec.needs.reservations.nano_cpus = 2 * testing::nano_cpus_per_cpu;
  Service gpu = make_service("gpu", "team/app:1");
  gpu.spec.needs.reservations.generic = {testing::discrete_resource("gpu", 1)};
  Service both = make_service("both", "redis");
  both.spec.needs.reservations = {testing::nano_cpus_per_cpu, 1 << 30, {}};
  const Plan plan = desired_images({small, big}, {cpu, gpu, both});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  EXPECT_THAT(refs_on(plan, "n2"),
              ElementsAre("docker.io/library/nginx:1.25", redis, "docker.io/team/app:1"));
}

TEST(DesiredImages, VolumeAndLogPluginsSelectNodesThatListThem) {
  Node plain = make_node("n1", "plain");
  plain.plugins = std::vector<PluginDescription>{{"Volume", "local"}, {"Log", "json-file"}};
  Node storage = make_node("n2", "storage");
  storage.plugins = std::vector<PluginDescription>{
      {"Volume", "local"}, {"Volume", "rexray/ebs:latest"}, {"Log", "json-file"}, {"Log", "gelf"}};
  Node bare = make_node("n3", "unreported");  // no engine description: not filtered
  Service db = make_service("db", "postgres:16");
  db.spec.needs.volume_drivers = {"rexray/ebs"};
  Service logged = make_service("logged", "nginx:1.25");
  logged.spec.needs.log_driver = "gelf";
  Service quiet = make_service("quiet", "redis");
  quiet.spec.needs.log_driver = "none";
  const Plan plan = desired_images({plain, storage, bare}, {db, logged, quiet});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  EXPECT_THAT(refs_on(plan, "n2"),
              ElementsAre("docker.io/library/nginx:1.25", "docker.io/library/postgres:16", redis));
  EXPECT_THAT(refs_on(plan, "n3"),
              ElementsAre("docker.io/library/nginx:1.25", "docker.io/library/postgres:16", redis));
}

TEST(DesiredImages, PreviousSpecIsPlacedByItsOwnNeeds) {
  Node small = make_node("n1", "small");
  small.resources = {testing::nano_cpus_per_cpu, 1 << 30, {}};
  Service service = make_service("web", "nginx:1.25");
  service.previous_spec = service.spec;
  service.previous_spec->image = "nginx:1.24";
  service.spec.needs.reservations.memory_bytes = 2LL << 30;
  const Plan plan = desired_images({small}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre("docker.io/library/nginx:1.24"));
}

TEST(DesiredImages, BadConstraintIsAnErrorForThatServiceAlone) {
  const Plan plan = desired_images(
      {make_node("n1", "a")},
      {make_service("broken", "nginx:1.25", {"node.role=worker"}), make_service("cache", "redis")});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(redis));
  EXPECT_THAT(plan.errors,
              ElementsAre(PlanError{"broken",
                                    "constraint 'node.role=worker': constraint expected "
                                    "one operator from ==, !="}));
}

TEST(DesiredImages, BadConstraintInPreviousSpecKeepsTheCurrentSpec) {
  Service service = make_service("web", "nginx:1.25");
  service.previous_spec = service.spec;
  service.previous_spec->image = "nginx:1.24";
  service.previous_spec->placement.constraints = {"1node==x"};
  const Plan plan = desired_images({make_node("n1", "a")}, {service});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx));
  EXPECT_THAT(plan.errors,
              ElementsAre(PlanError{
                  "web", "previous spec: constraint '1node==x': key '1node' is invalid"}));
}

// --- image sets ------------------------------------------------------------------

// An image-set config as compose::image_sets hands it over: decoded, or the
// reason it is not (reading YAML is compose/'s, tested in imageset_test.cpp).
NamedImageSet config_set(const std::string& name, const std::string& json_document) {
  NamedImageSet named;
  named.source = "config:" + name;
  auto set = decode_imageset(nlohmann::json::parse(json_document));
  if (set) {
    named.set = std::move(set).value();
  } else {
    named.error = set.error();
  }
  return named;
}

TEST(DesiredImages, ImageSetIsPlacedByItsConstraints) {
  const Plan plan =
      desired_images({make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b")}, {},
                     {config_set("warm",
                                 R"({"images": ["redis", "nginx:1.25"],
                      "placement": {"constraints": ["node.labels.zone==a"]}})")});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx, redis));
  EXPECT_THAT(wanted_on(plan, "n1")[redis], ElementsAre("config:warm"));
  EXPECT_THAT(refs_on(plan, "n2"), IsEmpty());
}

TEST(DesiredImages, ImageSetWithPlatforms) {
  Node arm = make_node("n2", "b");
  arm.platform = {"aarch64", "linux"};
  const Plan plan = desired_images(
      {make_node("n1", "a"), arm}, {},
      {config_set("arm", R"({"images": ["redis"], "placement": {"platforms": ["linux/arm64"]}})")});
  EXPECT_THAT(refs_on(plan, "n1"), IsEmpty());
  EXPECT_THAT(refs_on(plan, "n2"), ElementsAre(redis));
}

TEST(DesiredImages, BadImageSetIsAnErrorForThatConfigAlone) {
  const Plan plan = desired_images({make_node("n1", "a")}, {make_service("cache", "redis")},
                                   {config_set("bad", R"({"images": ["nginx"], "placment": {}})"),
                                    config_set("good", R"({"images": ["nginx:1.25"]})")});
  EXPECT_THAT(refs_on(plan, "n1"), ElementsAre(nginx, redis));
  ASSERT_EQ(plan.errors.size(), 1u);
  EXPECT_EQ(plan.errors[0].service, "config:bad");
  EXPECT_EQ(plan.errors[0].message, "unknown key 'placment' (expected images, placement)");
}

TEST(DesiredImages, WarmSetsAndConfigSetsArePlacedAlike) {
  NamedImageSet warm;
  warm.source = "warm:1";
  warm.set.images = {"redis"};
  const Plan plan = desired_images({make_node("n1", "a")}, {},
                                   {config_set("warm", R"({"images": ["redis"]})")}, {warm});
  EXPECT_THAT(wanted_on(plan, "n1")[redis], ElementsAre("config:warm", "warm:1"));
}

TEST(DesiredImages, ServiceAndImageSetWantingOneImageAreBothListed) {
  const Plan plan = desired_images({make_node("n1", "a")}, {make_service("cache", "redis:latest")},
                                   {config_set("warm", R"({"images": ["redis"]})")});
  EXPECT_THAT(wanted_on(plan, "n1")[redis], ElementsAre("cache", "config:warm"));
}

// --- output order and format -------------------------------------------------------

TEST(DesiredImages, NodesAreSortedByHostnameThenId) {
  const Plan plan = desired_images(
      {make_node("z9", "b"), make_node("n2", "a"), make_node("n1", "b"), make_node("m1", "a")}, {});
  std::vector<std::string> order;
  for (const NodePlan& node : plan.nodes) order.push_back(node.hostname + "/" + node.node_id);
  EXPECT_THAT(order, ElementsAre("a/m1", "a/n2", "b/n1", "b/z9"));
}

TEST(DesiredImages, ServicesOfAnImageDependOnTheNode) {
  const Plan plan = desired_images(
      {make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b")},
      {make_service("web", "redis"), make_service("edge", "redis", {"node.labels.zone==a"})});
  EXPECT_THAT(wanted_on(plan, "n1")[redis], ElementsAre("edge", "web"));
  EXPECT_THAT(wanted_on(plan, "n2")[redis], ElementsAre("web"));
}

TEST(DesiredImages, ErrorsAreSortedByServiceThenMessage) {
  const Plan plan = desired_images(
      {make_node("n1", "a")}, {make_service("zeta", "Bad"), make_service("alpha", "B@d", {"x==1"}),
                               make_service("mid", "")});
  ASSERT_EQ(plan.errors.size(), 4u);
  EXPECT_EQ(plan.errors[0].service, "alpha");
  EXPECT_THAT(plan.errors[0].message, ::testing::StartsWith("constraint 'x==1'"));
  EXPECT_EQ(plan.errors[1].service, "alpha");
  EXPECT_THAT(plan.errors[1].message, ::testing::StartsWith("image 'B@d'"));
  EXPECT_EQ(plan.errors[2].service, "mid");
  EXPECT_EQ(plan.errors[3].service, "zeta");
}

// --- missing images ------------------------------------------------------------------

Image held(std::vector<std::string> tags, std::vector<std::string> digests) {
  Image image;
  image.id = "sha256:" + std::string(64, '0');
  image.repo_tags = std::move(tags);
  image.repo_digests = std::move(digests);
  return image;
}

TEST(MissingImages, TagListedInRepoTagsIsPresent) {
  EXPECT_THAT(missing_images({redis}, {held({"redis:latest"}, {"redis@" + digest_a})}), IsEmpty());
}

TEST(MissingImages, TagNotListedIsMissing) {
  EXPECT_THAT(missing_images({"docker.io/library/redis:7"}, {held({"redis:latest"}, {})}),
              ElementsAre("docker.io/library/redis:7"));
}

TEST(MissingImages, EngineFamiliarNamesAreNormalized) {
  const std::vector<Image> present = {held({"10.213.37.1:5000/prepull/small:1"}, {}),
                                      held({"team/app:2"}, {})};
  EXPECT_THAT(missing_images({"10.213.37.1:5000/prepull/small:1", "docker.io/team/app:2"}, present),
              IsEmpty());
}

TEST(MissingImages, PinnedDigestListedOnlyInRepoDigestsIsPresent) {
  // What a node lists after swarm pulled a pinned image: RepoTags empty.
  const std::vector<Image> present = {held({}, {"nginx@" + digest_a})};
  EXPECT_THAT(missing_images({"docker.io/library/nginx@" + digest_a}, present), IsEmpty());
}

TEST(MissingImages, PinnedDigestIsNotSatisfiedByTheTag) {
  const std::vector<Image> present = {held({"nginx:1.25"}, {"nginx@" + digest_b})};
  EXPECT_THAT(missing_images({"docker.io/library/nginx@" + digest_a}, present),
              ElementsAre("docker.io/library/nginx@" + digest_a));
}

TEST(MissingImages, PinnedDigestOfAnotherRepositoryDoesNotCount) {
  const std::vector<Image> present = {held({}, {"other/nginx@" + digest_a})};
  EXPECT_THAT(missing_images({"docker.io/library/nginx@" + digest_a}, present),
              ElementsAre("docker.io/library/nginx@" + digest_a));
}

// A RepoDigests entry vouches for a digest, not for repo:latest.
TEST(MissingImages, TagIsNotSatisfiedByADigestEntry) {
  const std::vector<Image> present = {held({}, {"redis@" + digest_a})};
  EXPECT_THAT(missing_images({redis}, present), ElementsAre(redis));
}

TEST(MissingImages, NoneEntriesAreIgnored) {
  const std::vector<Image> present = {held({"<none>:<none>"}, {"<none>@<none>"})};
  EXPECT_THAT(present_refs(present), IsEmpty());
  EXPECT_THAT(missing_images({redis}, present), ElementsAre(redis));
}

// Tags that move: which content a tag names on a node is the pair of a
// RepoTags and a RepoDigests entry of the same repository on one image.
TEST(MissingImages, TagAtDigestIsTheTagsImageDigest) {
  const std::string at_a = tag_at_digest("docker.io/library/nginx:1.25", digest_a);
  const std::string at_b = tag_at_digest("docker.io/library/nginx:1.25", digest_b);
  EXPECT_EQ(at_a, "docker.io/library/nginx:1.25@" + digest_a);
  // After the tag moved to b: the old image keeps its digest, not the tag.
  const std::vector<Image> moved = {held({}, {"nginx@" + digest_a}),
                                    held({"nginx:1.25"}, {"nginx@" + digest_b})};
  EXPECT_THAT(missing_images({at_a, at_b}, moved), ElementsAre(at_a));
  // A digest of another repository on the same image names nothing here.
  EXPECT_THAT(missing_images({at_a}, {held({"nginx:1.25"}, {"other/nginx@" + digest_a})}),
              ElementsAre(at_a));
  EXPECT_EQ(tag_at_digest("docker.io/library/nginx@" + digest_a, digest_a), "");
  EXPECT_EQ(tag_at_digest("Not A Ref", digest_a), "");
}

TEST(MissingImages, KeepsTheDesiredOrder) {
  EXPECT_THAT(missing_images({"docker.io/library/b:1", redis, "docker.io/library/a:1"},
                             {held({"redis"}, {})}),
              ElementsAre("docker.io/library/b:1", "docker.io/library/a:1"));
}

TEST(MissingImages, OfANodePlan) {
  const Plan plan = desired_images(
      {make_node("n1", "a")}, {make_service("web", "nginx:1.25"), make_service("cache", "redis"),
                               make_service("pinned", "busybox@" + digest_a)});
  const std::vector<Image> present = {held({"nginx:1.25"}, {}), held({}, {"busybox@" + digest_a})};
  EXPECT_THAT(missing_images(plan, node_plan(plan, "n1"), present), ElementsAre(redis));
}

// --- the fast plan equals the rules applied one (node, spec) at a time ----------------

namespace naive {

using Wanted =
    std::map<std::string, std::map<std::string, std::set<std::string>>>;  // node -> ref -> services

void place(const ServiceSpec& spec, const std::string& name, const std::vector<Node>& nodes,
           Wanted& wanted) {
  if (spec.runtime != TaskRuntime::container) return;
  auto constraints = parse_constraints(spec.placement.constraints);
  if (!constraints) return;
  std::vector<std::string> refs = {spec.image};
  if (auto extra = spec.labels.find("swarm-prepull.images"); extra != spec.labels.end()) {
    std::stringstream list(extra->second);
    for (std::string item; std::getline(list, item, ',');) refs.push_back(item);
  }
  for (const Node& node : nodes) {
    if (!node_is_eligible(node) || !constraints_match(*constraints, node) ||
        !platform_matches(spec.placement.platforms, node)) {
      continue;
    }
    for (const std::string& ref : refs) {
      if (auto parsed = parse_reference(ref)) wanted[node.id][parsed->canonical()].insert(name);
    }
  }
}

}  // namespace naive

TEST(DesiredImages, MatchesTheRulesAppliedOneNodeAndSpecAtATime) {
  std::mt19937 random(42);  // only the values matter, not their portability
  const auto pick = [&](const std::vector<std::string>& choices) {
    return choices[random() % choices.size()];
  };
  std::vector<Node> nodes;
  for (int i = 0; i < 80; ++i) {
    Node node = make_node("id" + std::to_string(i), "host-" + std::to_string(i % 70));
    node.role = pick({"worker", "worker", "manager"});
    node.availability = pick({"active", "active", "active", "drain", "pause"});
    node.state = pick({"ready", "ready", "ready", "down", "disconnected"});
    node.addr = pick({"10.0.0.", "10.0.1.", "192.168.7.", "2001:db8::"}) + std::to_string(i + 1);
    node.platform = {pick({"x86_64", "aarch64", "amd64", ""}), pick({"linux", "windows"})};
    if (random() % 4) node.labels["zone"] = pick({"a", "b", "A", "c"});
    if (random() % 2) node.labels["Tier"] = pick({"web", "db"});
    if (random() % 3 == 0) node.engine_labels["disk"] = pick({"ssd", "hdd"});
    nodes.push_back(std::move(node));
  }
  const std::vector<std::string> constraint_pool = {"node.role==manager",
                                                    "node.role != worker",
                                                    "node.labels.zone==a",
                                                    "NODE.LABELS.zone!=b",
                                                    "node.labels.Tier==web",
                                                    "node.labels.tier==web",
                                                    "engine.labels.disk==ssd",
                                                    "node.platform.arch==x86_64",
                                                    "node.platform.os!=windows",
                                                    "node.hostname==host-3",
                                                    "node.hostname!=HOST-4",
                                                    "node.id==id7",
                                                    "node.ip==10.0.0.0/24",
                                                    "node.ip!=2001:db8::/64",
                                                    "node.ip==192.168.7.9",
                                                    "node.name==x",
                                                    "bad constraint"};
  std::vector<Service> services;
  for (int i = 0; i < 300; ++i) {
    Service service = make_service("svc-" + std::to_string(i % 280),
                                   pick({"redis", "nginx:1.25", "team/app:" + std::to_string(i % 9),
                                         "busybox@" + digest_a, "Bad:ref"}));
    for (int k = random() % 3; k > 0; --k) {
      service.spec.placement.constraints.push_back(pick(constraint_pool));
    }
    for (int k = random() % 3; k > 0; --k) {
      service.spec.placement.platforms.push_back(
          {pick({"amd64", "arm64", "", "x86_64"}), pick({"linux", ""})});
    }
    if (random() % 10 == 0)
      service.spec.labels["swarm-prepull.images"] = "alpine:3," + pick({"redis", "Bad"});
    if (random() % 15 == 0) service.spec.runtime = TaskRuntime::plugin;
    if (random() % 5 == 0) {
      service.previous_spec = service.spec;
      service.previous_spec->image = pick({"redis:6", "nginx:1.24"});
      service.previous_spec->placement.constraints = {pick(constraint_pool)};
    }
    services.push_back(std::move(service));
  }

  naive::Wanted expected;
  for (const Service& service : services) {
    naive::place(service.spec, service.spec.name, nodes, expected);
    if (service.previous_spec)
      naive::place(*service.previous_spec, service.spec.name, nodes, expected);
  }
  const Plan plan = desired_images(nodes, services);
  naive::Wanted actual;
  for (const NodePlan& node : plan.nodes) {
    for (const DesiredImage* image : desired_of(plan, node)) {
      actual[node.node_id][image->ref].insert(image->services.begin(), image->services.end());
    }
  }
  EXPECT_EQ(actual, expected);
  EXPECT_GT(actual.size(), 15u);  // most of the ~29 eligible nodes got something
  EXPECT_FALSE(plan.errors.empty());
}

}  // namespace
}  // namespace swarm_prepull::reconcile
