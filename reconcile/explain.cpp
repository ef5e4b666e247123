#include "reconcile/explain.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "reconcile/imageset.h"
#include "reconcile/reference.h"
#include "reconcile/rules.h"

namespace swarm_prepull::reconcile {
namespace {

// One (source, spec) that wants the image, and where it asks to be placed.
struct Want {
  std::string source;
  std::string spec;
  Expected<TaskPlacement> placement;
};

// The canonical form of `text`, or empty when it does not parse or is an
// image ID (the plan reports both as errors and places them nowhere).
std::string canonical(std::string_view text) {
  if (is_image_id(text)) return {};
  auto reference = parse_reference(text);
  return reference ? reference->canonical() : std::string();
}

// The images of a spec, as plan.cpp reads them: the task template's image and
// the comma-separated images label, items trimmed of blanks.
bool spec_wants(const ServiceSpec& spec, const std::string& image) {
  if (!spec.image.empty() && canonical(spec.image) == image) return true;
  const auto extra = spec.labels.find(std::string(images_label));
  if (extra == spec.labels.end()) return false;
  std::string_view list = extra->second;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty() && canonical(item) == image) return true;
  }
  return false;
}

std::vector<Want> wants_of(const std::string& image, const std::vector<Service>& services,
                           const std::vector<NamedImageSet>& sets) {
  std::vector<Want> wants;
  const std::string skip_key(skip_label);
  for (const Service& service : services) {
    // The current Spec's skip label leaves out the rollback target too.
    if (label_is_true(service.spec.labels, skip_key)) continue;
    const std::string& name = service.spec.name.empty() ? service.id : service.spec.name;
    const auto add = [&](const ServiceSpec& spec, std::string which) {
      // Plugin and network-attachment tasks run no container image.
      if (spec.runtime != TaskRuntime::container || !spec_wants(spec, image)) return;
      wants.push_back(Want{name, std::move(which), task_placement(spec.placement, spec.needs)});
    };
    add(service.spec, "spec");
    if (service.previous_spec) add(*service.previous_spec, "previous spec");
  }
  for (const NamedImageSet& set : sets) {
    if (set.error) continue;  // an invalid document places nothing
    const bool wanted =
        std::any_of(set.set.images.begin(), set.set.images.end(),
                    [&](const std::string& ref) { return canonical(ref) == image; });
    if (wanted) wants.push_back(Want{set.source, "image set", task_placement(set.set.placement)});
  }
  std::sort(wants.begin(), wants.end(), [](const Want& a, const Want& b) {
    return std::tie(a.source, a.spec) < std::tie(b.source, b.spec);
  });
  return wants;
}

SourceVerdict judge(const Want& want, const Node& node) {
  SourceVerdict verdict{want.source, want.spec, false, {}};
  if (!want.placement) {
    verdict.reason = "invalid placement: " + want.placement.error().message;
  } else if (auto refusal = first_refusal(*want.placement, node)) {
    verdict.reason = std::move(*refusal);
  } else {
    verdict.placed = true;
  }
  return verdict;
}

// The node's reason: the one every source shares (a drained node refuses
// them all alike), else each source's own.
std::string node_reason(const std::vector<SourceVerdict>& sources) {
  if (sources.empty()) return std::string(nobody_wants);
  const bool shared = std::all_of(sources.begin(), sources.end(), [&](const SourceVerdict& v) {
    return v.reason == sources.front().reason;
  });
  if (shared) return sources.front().reason;
  std::string reason;
  for (const SourceVerdict& verdict : sources) {
    reason += (reason.empty() ? "" : "; ") + verdict.source +
              (verdict.spec == "previous spec" ? " (previous spec)" : "") + ": " + verdict.reason;
  }
  return reason;
}

}  // namespace

Expected<Explanation> explain_image(std::string_view image, const std::vector<Node>& nodes,
                                    const std::vector<Service>& services,
                                    const std::vector<NamedImageSet>& sets) {
  Explanation explanation;
  const bool image_id = is_image_id(image);
  if (image_id) {
    explanation.image = std::string(image);
  } else {
    auto reference = parse_reference(image);
    if (!reference) {
      return Error{"image '" + std::string(image) + "': " + reference.error().message};
    }
    explanation.image = reference->canonical();
  }
  const std::vector<Want> wants =
      image_id ? std::vector<Want>() : wants_of(explanation.image, services, sets);

  std::vector<const Node*> sorted;
  sorted.reserve(nodes.size());
  for (const Node& node : nodes) sorted.push_back(&node);
  std::sort(sorted.begin(), sorted.end(), [](const Node* a, const Node* b) {
    return std::tie(a->hostname, a->id) < std::tie(b->hostname, b->id);
  });
  explanation.nodes.reserve(sorted.size());
  for (const Node* node : sorted) {
    NodeExplanation entry{node->id, node->hostname, false, {}, {}};
    for (const Want& want : wants) entry.sources.push_back(judge(want, *node));
    entry.placed = std::any_of(entry.sources.begin(), entry.sources.end(),
                               [](const SourceVerdict& v) { return v.placed; });
    if (!entry.placed) {
      entry.reason = image_id ? std::string(image_id_never_pulled) : node_reason(entry.sources);
    }
    explanation.nodes.push_back(std::move(entry));
  }
  return explanation;
}

}  // namespace swarm_prepull::reconcile
