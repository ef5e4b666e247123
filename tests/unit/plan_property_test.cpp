// The fast planner (reconcile/plan.cpp's index) and swarm's rules applied one
// node and one spec at a time (reconcile/rules.h, through explain_image) are
// the same specification: over thousands of generated swarms, for every
// node and every image, the plan holds the image exactly when the rules
// place it, with exactly the services the rules name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "generated_swarm.h"
#include "reconcile/explain.h"
#include "reconcile/plan.h"
#include "reconcile/reference.h"

namespace swarm_prepull::reconcile {
namespace {

// Checks one swarm; returns how many (node, image) pairs it compared.
std::size_t expect_agreement(const testing::GeneratedSwarm& swarm, std::uint32_t seed) {
  const Plan plan = desired_images(swarm.nodes, swarm.services, swarm.sets);
  std::set<std::string> images(swarm.images.begin(), swarm.images.end());
  images.insert("busybox:unwanted");
  std::size_t compared = 0;
  for (const std::string& image : images) {
    auto explanation = explain_image(image, swarm.nodes, swarm.services, swarm.sets);
    if (!parse_reference(image)) {
      EXPECT_FALSE(explanation) << image;
      continue;
    }
    EXPECT_TRUE(explanation) << image;
    if (!explanation) continue;
    EXPECT_EQ(explanation->nodes.size(), plan.nodes.size());
    for (std::size_t n = 0; n < plan.nodes.size() && n < explanation->nodes.size(); ++n) {
      const NodePlan& planned = plan.nodes[n];
      const NodeExplanation& explained = explanation->nodes[n];
      EXPECT_EQ(explained.node_id, planned.node_id);
      std::set<std::string> plan_services;
      for (const DesiredImage* wanted : desired_of(plan, planned)) {
        if (wanted->ref == explanation->image) {
          plan_services.insert(wanted->services.begin(), wanted->services.end());
        }
      }
      std::set<std::string> rule_services;
      for (const SourceVerdict& source : explained.sources) {
        if (source.placed) rule_services.insert(source.source);
      }
      EXPECT_EQ(explained.placed, !plan_services.empty())
          << "seed " << seed << ", node " << planned.node_id << ", image " << image;
      EXPECT_EQ(rule_services, plan_services)
          << "seed " << seed << ", node " << planned.node_id << ", image " << image;
      EXPECT_EQ(explained.reason.empty(), explained.placed)
          << "seed " << seed << ", node " << planned.node_id << ", image " << image;
      ++compared;
    }
  }
  return compared;
}

TEST(PlanProperty, FastPlanAgreesWithTheRulesOnSmallGeneratedSwarms) {
  std::size_t compared = 0;
  for (std::uint32_t seed = 1; seed <= 2000; ++seed) {
    testing::SwarmGenerator generator(seed);
    compared += expect_agreement(generator.generate(8, 8, 3), seed);
    if (::testing::Test::HasFailure()) break;  // one seed to reproduce is enough
  }
  EXPECT_GT(compared, 30'000u);
}

TEST(PlanProperty, FastPlanAgreesWithTheRulesOnLargerGeneratedSwarms) {
  for (std::uint32_t seed = 10'001; seed <= 10'010; ++seed) {
    testing::SwarmGenerator generator(seed);
    expect_agreement(generator.generate(120, 200, 10), seed);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace swarm_prepull::reconcile
