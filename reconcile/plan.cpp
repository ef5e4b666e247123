#include "reconcile/plan.h"

#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <span>
#include <unordered_map>

#include "reconcile/constraint.h"
#include "reconcile/imageset.h"
#include "reconcile/platform.h"
#include "reconcile/reference.h"
#include "reconcile/rules.h"

namespace swarm_prepull::reconcile {
namespace {

// How the plan stays fast (docs/benchmarks.md): nothing is evaluated once per
// (service, node). A constraint is parsed once per distinct text and turned
// into the set of nodes it admits through an index of the attribute it reads
// (folded value -> nodes), so "node.labels.zone==a" costs one lookup however
// many services use it; a spec's placement is the intersection of such sets.
// Nodes that lie in exactly the same placements (a "class": same labels, role,
// platform and state, unless an id/hostname/ip constraint singles one out)
// get their image list computed once, and images and service names are
// interned so that a node's list is a vector of indexes.

// A set of nodes, one bit per node in plan order.
class NodeSet {
 public:
  NodeSet() = default;
  explicit NodeSet(std::size_t size) : words_((size + 63) / 64, 0), size_(size) {}

  void insert(std::size_t node) { words_[node / 64] |= std::uint64_t{1} << (node % 64); }
  bool empty() const {
    return std::all_of(words_.begin(), words_.end(), [](std::uint64_t w) { return w == 0; });
  }
  void intersect(const NodeSet& other) {
    for (std::size_t i = 0; i < words_.size(); ++i) words_[i] &= other.words_[i];
  }
  NodeSet complement() const {
    NodeSet result(size_);
    for (std::size_t i = 0; i < words_.size(); ++i) result.words_[i] = ~words_[i];
    if (size_ % 64 != 0) result.words_.back() &= (std::uint64_t{1} << (size_ % 64)) - 1;
    return result;
  }
  template <class F>
  void for_each(F&& visit) const {
    for (std::size_t i = 0; i < words_.size(); ++i) {
      for (std::uint64_t bits = words_[i]; bits != 0; bits &= bits - 1) {
        visit(i * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
      }
    }
  }
  std::size_t hash() const {
    std::size_t seed = words_.size();
    for (std::uint64_t w : words_) {
      seed ^= std::hash<std::uint64_t>{}(w) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    }
    return seed;
  }
  bool operator==(const NodeSet&) const = default;

 private:
  std::vector<std::uint64_t> words_;
  std::size_t size_ = 0;
};

struct NodeSetHash {
  std::size_t operator()(const NodeSet& set) const { return set.hash(); }
};

struct IndexesHash {
  std::size_t operator()(const std::vector<std::uint32_t>& values) const {
    std::size_t seed = values.size();
    for (std::uint32_t v : values) seed ^= v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    return seed;
  }
};

// Lets maps keyed by std::string be searched with a string_view, without a copy.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};
template <class T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

// Interns strings: id <-> text, ids in order of first appearance.
class Interner {
 public:
  std::uint32_t intern(std::string_view text) {
    auto [it, inserted] =
        ids_.try_emplace(std::string(text), static_cast<std::uint32_t>(texts_.size()));
    if (inserted) texts_.push_back(&it->first);
    return it->second;
  }
  const std::string& text(std::uint32_t id) const { return *texts_[id]; }
  std::size_t size() const { return texts_.size(); }

  // rank[id]: the position of text(id) in sorted order.
  std::vector<std::uint32_t> ranks() const {
    std::vector<std::uint32_t> order(texts_.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return *texts_[a] < *texts_[b]; });
    std::vector<std::uint32_t> rank(order.size());
    for (std::uint32_t position = 0; position < order.size(); ++position) {
      rank[order[position]] = position;
    }
    return rank;
  }

 private:
  StringMap<std::uint32_t> ids_;
  std::vector<const std::string*> texts_;  // keys of ids_, which never move
};

constexpr std::uint32_t nowhere = UINT32_MAX;  // no placement, no entry

// One image wanted by one source (service or image set) on one placement,
// with the priority of that source's want.
struct Want {
  std::uint32_t image;
  std::uint32_t source;
  std::uint32_t placement;
  PullPriority priority;
  auto operator<=>(const Want&) const = default;
};

// The plan's wants, sorted by (image, source, placement), indexed two ways.
// By image: the wants of image i are wants[first_want[i] .. first_want[i+1]),
// and a subset of them is a bit mask (bit k: the k-th of them) of
// mask_words(i) words. By placement: which mask bit each of its wants sets.
class WantIndex {
 public:
  struct Mark {
    std::uint32_t image;
    std::uint32_t word;  // index of the mask word, among all images' masks
    std::uint64_t bit;
  };

  WantIndex(const std::vector<Want>& wants, std::size_t image_count, std::size_t placement_count)
      : first_want_(image_count + 1, 0),
        mask_offset_(image_count + 1, 0),
        first_mark_(placement_count + 1, 0),
        marks_(wants.size()) {
    for (const Want& want : wants) ++first_want_[want.image + 1];
    std::partial_sum(first_want_.begin(), first_want_.end(), first_want_.begin());
    for (std::size_t image = 0; image < image_count; ++image) {
      mask_offset_[image + 1] = mask_offset_[image] + (wants_of(image) + 63) / 64;
    }
    for (const Want& want : wants) ++first_mark_[want.placement + 1];
    std::partial_sum(first_mark_.begin(), first_mark_.end(), first_mark_.begin());
    std::vector<std::uint32_t> next(first_mark_.begin(), first_mark_.end() - 1);
    for (std::uint32_t w = 0; w < wants.size(); ++w) {
      const std::uint32_t image = wants[w].image;
      const std::uint32_t bit = w - first_want_[image];
      marks_[next[wants[w].placement]++] =
          Mark{image, mask_offset_[image] + bit / 64, std::uint64_t{1} << (bit % 64)};
    }
  }

  std::size_t image_count() const { return first_want_.size() - 1; }
  std::uint32_t first_want(std::size_t image) const { return first_want_[image]; }
  std::uint32_t wants_of(std::size_t image) const {
    return first_want_[image + 1] - first_want_[image];
  }
  std::uint32_t mask_offset(std::size_t image) const { return mask_offset_[image]; }
  std::uint32_t mask_words(std::size_t image) const {
    return mask_offset_[image + 1] - mask_offset_[image];
  }
  std::size_t total_mask_words() const { return mask_offset_.back(); }
  std::span<const Mark> marks_of(std::uint32_t placement) const {
    return {marks_.data() + first_mark_[placement],
            first_mark_[placement + 1] - first_mark_[placement]};
  }

 private:
  std::vector<std::uint32_t> first_want_;
  std::vector<std::uint32_t> mask_offset_;
  std::vector<std::uint32_t> first_mark_;
  std::vector<Mark> marks_;
};

// Nodes that lie in exactly the same placements (a class) want exactly the
// same images from the same services: one list serves them all.
struct NodeClasses {
  std::vector<std::uint32_t> of_node;                  // each node's class
  std::vector<std::vector<std::uint32_t>> placements;  // each class's placements, ascending
};

NodeClasses node_classes(const std::vector<const NodeSet*>& placements, const WantIndex& index,
                         std::size_t node_count) {
  std::vector<std::vector<std::uint32_t>> signature(node_count);
  for (std::uint32_t p = 0; p < placements.size(); ++p) {
    if (index.marks_of(p).empty()) continue;  // each of its images failed to parse
    placements[p]->for_each([&](std::size_t node) { signature[node].push_back(p); });
  }
  NodeClasses classes;
  classes.of_node.resize(node_count);
  std::unordered_map<std::vector<std::uint32_t>, std::uint32_t, IndexesHash> ids;
  for (std::size_t node = 0; node < node_count; ++node) {
    const auto [it, inserted] =
        ids.try_emplace(signature[node], static_cast<std::uint32_t>(classes.placements.size()));
    if (inserted) classes.placements.push_back(std::move(signature[node]));
    classes.of_node[node] = it->second;
  }
  return classes;
}

// The distinct (image, subset of its wants) pairs met so far, numbered in
// order of discovery. Most images have few wants, and their mask indexes a
// small per-image table directly; popular images are looked up by a hash of
// the mask, checked.
class EntryTable {
 public:
  explicit EntryTable(const WantIndex& index)
      : index_(index),
        table_offset_(index.image_count(), nowhere),
        entries_of_image_(index.image_count()) {
    std::size_t size = 0;
    for (std::size_t image = 0; image < index.image_count(); ++image) {
      if (index.wants_of(image) > table_wants) continue;
      table_offset_[image] = static_cast<std::uint32_t>(size);
      size += std::size_t{1} << index.wants_of(image);
    }
    table_.assign(size, nowhere);
  }

  std::uint32_t find_or_add(std::uint32_t image, const std::uint64_t* mask) {
    if (table_offset_[image] != nowhere) {
      std::uint32_t& slot = table_[table_offset_[image] + mask[0]];
      if (slot == nowhere) slot = add(image, mask);
      return slot;
    }
    const std::size_t words = index_.mask_words(image);
    std::uint64_t hash = image * 0x9e3779b97f4a7c15ULL;
    for (std::size_t k = 0; k < words; ++k) hash = (hash ^ mask[k]) * 0xbf58476d1ce4e5b9ULL + k;
    const auto [slot, inserted] = by_hash_.try_emplace(hash, nowhere);
    if (inserted) return slot->second = add(image, mask);
    if (holds(slot->second, mask)) return slot->second;
    for (std::uint32_t id : entries_of_image_[image]) {  // two masks with one hash
      if (holds(id, mask)) return id;
    }
    return add(image, mask);
  }

  std::size_t size() const { return entries_.size(); }

  // The highest priority among an entry's wants.
  PullPriority priority(std::uint32_t id, const std::vector<Want>& wants) const {
    PullPriority best = PullPriority::declared;
    const std::uint32_t image = entries_[id].image;
    const std::uint64_t* mask = &masks_[entries_[id].mask];
    for (std::uint32_t bit = 0; bit < index_.wants_of(image); ++bit) {
      if ((mask[bit / 64] >> (bit % 64) & 1) == 0) continue;
      best = std::min(best, wants[index_.first_want(image) + bit].priority);
    }
    return best;
  }
  const std::uint32_t& image(std::uint32_t id) const { return entries_[id].image; }

  // The sources of an entry's wants, ascending and distinct (wants are
  // sorted by source within an image).
  std::vector<std::uint32_t> sources(std::uint32_t id, const std::vector<Want>& wants) const {
    std::vector<std::uint32_t> result;
    const std::uint32_t image = entries_[id].image;
    const std::uint64_t* mask = &masks_[entries_[id].mask];
    for (std::uint32_t bit = 0; bit < index_.wants_of(image); ++bit) {
      if ((mask[bit / 64] >> (bit % 64) & 1) == 0) continue;
      const std::uint32_t source = wants[index_.first_want(image) + bit].source;
      if (result.empty() || result.back() != source) result.push_back(source);
    }
    return result;
  }

 private:
  static constexpr std::uint32_t table_wants = 10;  // up to 2^10 slots per image

  struct Entry {
    std::uint32_t image;
    std::uint32_t mask;  // offset into masks_
  };

  bool holds(std::uint32_t id, const std::uint64_t* mask) const {
    return std::equal(mask, mask + index_.mask_words(entries_[id].image),
                      &masks_[entries_[id].mask]);
  }

  std::uint32_t add(std::uint32_t image, const std::uint64_t* mask) {
    const auto id = static_cast<std::uint32_t>(entries_.size());
    entries_.push_back(Entry{image, static_cast<std::uint32_t>(masks_.size())});
    masks_.insert(masks_.end(), mask, mask + index_.mask_words(image));
    entries_of_image_[image].push_back(id);
    return id;
  }

  const WantIndex& index_;
  std::vector<Entry> entries_;
  std::vector<std::uint64_t> masks_;
  std::vector<std::uint32_t> table_offset_;
  std::vector<std::uint32_t> table_;
  std::unordered_map<std::uint64_t, std::uint32_t> by_hash_;
  std::vector<std::vector<std::uint32_t>> entries_of_image_;
};

// A class's list: for every image some of whose wants lie on the class's
// placements, the entry (image, those wants). Walking the placements marks
// the wants; walking the marked images in rank order yields the list sorted
// by ref. Cost: the class's wants plus its list, nothing per service.
class ClassListBuilder {
 public:
  ClassListBuilder(const WantIndex& index, EntryTable& entries)
      : index_(index),
        entries_(entries),
        masks_(index.total_mask_words(), 0),
        touched_((index.image_count() + 63) / 64, 0) {}

  std::vector<std::uint32_t> build(const std::vector<std::uint32_t>& placements) {
    for (std::uint32_t placement : placements) {
      for (const WantIndex::Mark& mark : index_.marks_of(placement)) {
        masks_[mark.word] |= mark.bit;
        touched_[mark.image / 64] |= std::uint64_t{1} << (mark.image % 64);
      }
    }
    std::size_t count = 0;
    for (std::uint64_t word : touched_) count += static_cast<std::size_t>(std::popcount(word));
    std::vector<std::uint32_t> list;
    list.reserve(count);
    for (std::size_t word = 0; word < touched_.size(); ++word) {
      for (std::uint64_t bits = touched_[word]; bits != 0; bits &= bits - 1) {
        const auto image = static_cast<std::uint32_t>(word * 64 + std::countr_zero(bits));
        std::uint64_t* mask = &masks_[index_.mask_offset(image)];
        list.push_back(entries_.find_or_add(image, mask));
        std::fill(mask, mask + index_.mask_words(image), 0);
      }
      touched_[word] = 0;
    }
    return list;
  }

 private:
  const WantIndex& index_;
  EntryTable& entries_;
  std::vector<std::uint64_t> masks_;    // scratch: the marked wants of each image
  std::vector<std::uint64_t> touched_;  // scratch: the images with a marked want
};

std::vector<std::uint32_t> inverse(const std::vector<std::uint32_t>& permutation) {
  std::vector<std::uint32_t> result(permutation.size());
  for (std::uint32_t i = 0; i < permutation.size(); ++i) result[permutation[i]] = i;
  return result;
}

class Planner {
 public:
  explicit Planner(const std::vector<Node>& nodes) {
    nodes_.reserve(nodes.size());
    for (const Node& node : nodes) nodes_.push_back(&node);
    std::sort(nodes_.begin(), nodes_.end(), [](const Node* a, const Node* b) {
      return std::tie(a->hostname, a->id) < std::tie(b->hostname, b->id);
    });
    eligible_ = NodeSet(nodes_.size());
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (node_is_eligible(*nodes_[i])) eligible_.insert(i);
    }
  }

  void add_service(const Service& service) {
    // The operator's current intent decides: a skip label on the Spec leaves
    // out the rollback target too, and one only on PreviousSpec does not count.
    static const std::string skip_key(skip_label);
    if (label_is_true(service.spec.labels, skip_key)) return;
    const std::string& name = service.spec.name.empty() ? service.id : service.spec.name;
    const std::uint32_t source = sources_.intern(name);
    add_spec(service.spec, name, source, "",
             service_updating(service) ? PullPriority::urgent : PullPriority::current);
    if (service.previous_spec) {
      add_spec(*service.previous_spec, name, source, "previous spec: ", PullPriority::previous);
    }
  }

  void add_set(const NamedImageSet& named, PullPriority priority) {
    const std::string& name = named.source;
    if (named.error) return error(name, named.error->message);
    const ImageSet& set = named.set;
    auto placement = place(set.placement, {});
    if (!placement) return error(name, placement.error().message);
    const std::uint32_t source = sources_.intern(name);
    for (const std::string& ref : set.images) {
      want_image(ref, name, source, *placement, "", priority);
    }
  }

  Plan finish() &&;

 private:
  // A spec's images: its task template's image and the images label, all
  // placed by its own Placement. Plugin and network-attachment tasks pull no
  // image (swarmkit runs them without a container spec).
  void add_spec(const ServiceSpec& spec, const std::string& name, std::uint32_t source,
                std::string_view which, PullPriority priority) {
    if (spec.runtime != TaskRuntime::container) return;
    auto placement = place(spec.placement, spec.needs);
    if (!placement) error(name, std::string(which) + placement.error().message);
    const std::uint32_t where = placement ? *placement : nowhere;
    if (spec.image.empty()) {
      error(name, std::string(which) + "the container spec has no image");
    } else {
      want_image(spec.image, name, source, where, which, priority);
    }
    static const std::string images_key(images_label);
    const auto extra = spec.labels.find(images_key);
    if (extra == spec.labels.end()) return;
    const std::string context = std::string(which) + "label " + std::string(images_label) + ": ";
    std::string_view list = extra->second;
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty()) want_image(item, name, source, where, context, priority);
    }
  }

  // Records that `source` wants `text` on `placement`; a reference that does
  // not parse, or an image ID that swarm never pulls, is reported and placed
  // nowhere.
  void want_image(std::string_view text, const std::string& name, std::uint32_t source,
                  std::uint32_t placement, std::string_view context, PullPriority priority) {
    auto found = references_.find(text);
    if (found == references_.end()) {
      Expected<std::uint32_t> id = Error{std::string(image_id_never_pulled)};
      if (!is_image_id(text)) {
        auto reference = parse_reference(text);
        id = reference ? Expected<std::uint32_t>(images_.intern(reference->canonical()))
                       : Expected<std::uint32_t>(reference.error());
      }
      found = references_.emplace(std::string(text), std::move(id)).first;
    }
    if (!found->second) {
      return error(name, std::string(context) + "image '" + std::string(text) +
                             "': " + found->second.error().message);
    }
    if (placement != nowhere) wants_.push_back(Want{*found->second, source, placement, priority});
  }

  // The eligible nodes that can hold the task's resources and plugins and
  // satisfy every constraint and one of the platforms, interned; `nowhere`
  // when there are none.
  Expected<std::uint32_t> place(const Placement& placement, const TaskNeeds& needs) {
    NodeSet nodes = eligible_;
    if (!needs.reservations.empty()) nodes.intersect(resource_nodes(needs.reservations));
    for (const std::string& driver : needs.volume_drivers) {
      nodes.intersect(plugin_nodes(TaskNeeds{{}, {driver}, {}}));
    }
    if (!needs.log_driver.empty())
      nodes.intersect(plugin_nodes(TaskNeeds{{}, {}, needs.log_driver}));
    for (const std::string& text : placement.constraints) {
      const Expected<NodeSet>& admitted = constraint_nodes(text);
      if (!admitted) return Error{"constraint '" + text + "': " + admitted.error().message};
      nodes.intersect(*admitted);
    }
    if (!placement.platforms.empty()) nodes.intersect(platform_nodes(placement.platforms));
    if (nodes.empty()) return nowhere;
    const auto [it, inserted] = placement_ids_.try_emplace(
        std::move(nodes), static_cast<std::uint32_t>(placements_.size()));
    if (inserted) placements_.push_back(&it->first);
    return it->second;
  }

  // The nodes one constraint admits, computed once per distinct text.
  const Expected<NodeSet>& constraint_nodes(const std::string& text) {
    if (auto found = constraints_.find(text); found != constraints_.end()) return found->second;
    auto constraint = parse_constraint(text);
    Expected<NodeSet> admitted = constraint ? Expected<NodeSet>(admitted_by(*constraint))
                                            : Expected<NodeSet>(constraint.error());
    return constraints_.emplace(text, std::move(admitted)).first->second;
  }

  NodeSet admitted_by(const Constraint& constraint) {
    NodeSet admitted(nodes_.size());
    switch (constraint.kind) {
      case ConstraintKey::unknown:
        return admitted;  // matches no node, for == and != alike
      case ConstraintKey::node_ip:
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
          if (constraint_matches(constraint, *nodes_[i])) admitted.insert(i);
        }
        return admitted;
      default: {
        const auto& index = attribute_index(constraint);
        const auto equal = index.find(fold_case(constraint.value));
        if (equal != index.end()) admitted = equal->second;
        return constraint.op == ConstraintOperator::equal ? admitted : admitted.complement();
      }
    }
  }

  // For the attribute a constraint reads (role, os, a label name, ...): each
  // folded value and the nodes that hold it. A node without the label holds "".
  const StringMap<NodeSet>& attribute_index(const Constraint& constraint) {
    std::string attribute =
        std::to_string(static_cast<int>(constraint.kind)) + ":" + constraint.label;
    auto [it, inserted] = attributes_.try_emplace(std::move(attribute));
    if (inserted) {
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        const std::string folded = fold_case(*constraint_subject(constraint, *nodes_[i]));
        auto [entry, created] = it->second.try_emplace(folded);
        if (created) entry->second = NodeSet(nodes_.size());
        entry->second.insert(i);
      }
    }
    return it->second;
  }

  // The nodes whose totals cover a reservation, computed once per distinct
  // reservation: services mostly share a few sizes.
  const NodeSet& resource_nodes(const Resources& reservations) {
    std::string key =
        std::to_string(reservations.nano_cpus) + '\x1f' + std::to_string(reservations.memory_bytes);
    for (const GenericResource& resource : reservations.generic) {
      key.push_back('\x1e');
      key.push_back(resource.named ? 'n' : 'd');
      key.append(resource.kind).push_back('\x1f');
      key.append(resource.named ? resource.value : std::to_string(resource.amount));
    }
    return nodes_where(resources_, std::move(key),
                       [&](const Node& node) { return node_has_resources(reservations, node); });
  }

  // The nodes that have the one plugin `needs` asks for (a volume driver or
  // a log driver), computed once per distinct plugin.
  const NodeSet& plugin_nodes(const TaskNeeds& needs) {
    std::string key = needs.volume_drivers.empty() ? "log\x1f" + needs.log_driver
                                                   : "volume\x1f" + needs.volume_drivers.front();
    return nodes_where(plugins_, std::move(key),
                       [&](const Node& node) { return node_has_plugins(needs, node); });
  }

  // The entry of `cache` for `key`, filled on first use with the nodes that
  // pass `check`.
  template <class Check>
  const NodeSet& nodes_where(StringMap<NodeSet>& cache, std::string key, Check&& check) {
    auto [it, inserted] = cache.try_emplace(std::move(key));
    if (inserted) {
      it->second = NodeSet(nodes_.size());
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (check(*nodes_[i])) it->second.insert(i);
      }
    }
    return it->second;
  }

  const NodeSet& platform_nodes(const std::vector<Platform>& platforms) {
    std::string key;
    for (const Platform& platform : platforms) {
      key.append(platform.architecture).push_back('\x1f');
      key.append(platform.os).push_back('\x1e');
    }
    return nodes_where(platforms_, std::move(key),
                       [&](const Node& node) { return platform_matches(platforms, node); });
  }

  void error(const std::string& source, std::string message) {
    errors_.push_back(PlanError{source, std::move(message)});
  }

  std::vector<const Node*> nodes_;  // plan order: hostname, then id
  NodeSet eligible_;
  StringMap<Expected<NodeSet>> constraints_;
  StringMap<StringMap<NodeSet>> attributes_;
  StringMap<NodeSet> platforms_;
  StringMap<NodeSet> resources_;
  StringMap<NodeSet> plugins_;
  std::unordered_map<NodeSet, std::uint32_t, NodeSetHash> placement_ids_;
  std::vector<const NodeSet*> placements_;         // keys of placement_ids_, which never move
  StringMap<Expected<std::uint32_t>> references_;  // as written -> image id
  Interner images_;                                // canonical refs
  Interner sources_;                               // service names, "config:<name>"
  std::vector<Want> wants_;
  std::vector<PlanError> errors_;
};

Plan Planner::finish() && {
  // Ids renumbered in sorted order of their text, so that ordering ids
  // orders the output.
  const std::vector<std::uint32_t> image_rank = images_.ranks();
  const std::vector<std::uint32_t> source_rank = sources_.ranks();
  for (Want& want : wants_) {
    want.image = image_rank[want.image];
    want.source = source_rank[want.source];
  }
  std::sort(wants_.begin(), wants_.end());
  wants_.erase(std::unique(wants_.begin(), wants_.end()), wants_.end());

  const WantIndex index(wants_, images_.size(), placements_.size());
  const NodeClasses classes = node_classes(placements_, index, nodes_.size());
  EntryTable entries(index);
  ClassListBuilder builder(index, entries);
  std::vector<std::vector<std::uint32_t>> class_lists;
  class_lists.reserve(classes.placements.size());
  for (const auto& placements : classes.placements) {
    class_lists.push_back(builder.build(placements));
  }

  // Entries in (ref, services, priority) order, merging those that differ in
  // which wants they hold but not in their services or priority (one
  // service wanting an image through both of its specs on nodes where its
  // Spec places it). A class list holds one entry per image, in image order,
  // so renumbering keeps it sorted.
  std::vector<std::vector<std::uint32_t>> services(entries.size());
  std::vector<PullPriority> priorities(entries.size());
  for (std::uint32_t id = 0; id < entries.size(); ++id) {
    services[id] = entries.sources(id, wants_);
    priorities[id] = entries.priority(id, wants_);
  }
  const auto key = [&](std::uint32_t id) {
    return std::tie(entries.image(id), services[id], priorities[id]);
  };
  std::vector<std::uint32_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
  std::vector<std::uint32_t> renumbered(entries.size());
  std::vector<std::uint32_t> distinct;  // the first entry of each (image, services, priority)
  for (std::uint32_t id : order) {
    if (distinct.empty() || key(id) != key(distinct.back())) distinct.push_back(id);
    renumbered[id] = static_cast<std::uint32_t>(distinct.size() - 1);
  }
  for (auto& list : class_lists) {
    for (std::uint32_t& id : list) id = renumbered[id];
  }

  const std::vector<std::uint32_t> image_of_rank = inverse(image_rank);
  const std::vector<std::uint32_t> source_of_rank = inverse(source_rank);
  Plan plan;
  plan.images.reserve(distinct.size());
  for (std::uint32_t id : distinct) {
    DesiredImage image{images_.text(image_of_rank[entries.image(id)]), {}, priorities[id]};
    image.services.reserve(services[id].size());
    for (std::uint32_t source : services[id]) {
      image.services.push_back(sources_.text(source_of_rank[source]));
    }
    plan.images.push_back(std::move(image));
  }
  plan.nodes.reserve(nodes_.size());
  for (std::size_t node = 0; node < nodes_.size(); ++node) {
    plan.nodes.push_back(
        NodePlan{nodes_[node]->id, nodes_[node]->hostname, class_lists[classes.of_node[node]], {}});
  }
  plan.errors = std::move(errors_);
  std::sort(plan.errors.begin(), plan.errors.end(), [](const PlanError& a, const PlanError& b) {
    return std::tie(a.service, a.message) < std::tie(b.service, b.message);
  });
  plan.errors.erase(std::unique(plan.errors.begin(), plan.errors.end()), plan.errors.end());
  return plan;
}

}  // namespace

bool node_is_eligible(const Node& node) { return node_ready(node) && node_active(node); }

Plan desired_images(const std::vector<Node>& nodes, const std::vector<Service>& services,
                    const std::vector<NamedImageSet>& sets) {
  return desired_images(nodes, services, sets, {});
}

Plan desired_images(const std::vector<Node>& nodes, const std::vector<Service>& services,
                    const std::vector<NamedImageSet>& sets,
                    const std::vector<NamedImageSet>& more_sets) {
  Planner planner(nodes);
  for (const Service& service : services) planner.add_service(service);
  for (const NamedImageSet& set : sets) planner.add_set(set, PullPriority::declared);
  for (const NamedImageSet& set : more_sets) planner.add_set(set, PullPriority::urgent);
  return std::move(planner).finish();
}

bool service_updating(const Service& service) {
  return service.update_status && (service.update_status->state == "updating" ||
                                   service.update_status->state == "rollback_started");
}

bool task_starting(const Task& task) {
  static constexpr std::array<std::string_view, 5> starting_states = {
      "assigned", "accepted", "preparing", "ready", "starting"};
  return !task.node_id.empty() && task.desired_state == "running" &&
         std::find(starting_states.begin(), starting_states.end(), task.state) !=
             starting_states.end();
}

void mark_starting(Plan& plan, const std::vector<Task>& tasks) {
  std::map<std::string_view, std::set<std::string>> refs_by_node;
  for (const Task& task : tasks) {
    if (!task_starting(task) || is_image_id(task.image)) continue;
    auto reference = parse_reference(task.image);
    if (reference) refs_by_node[task.node_id].insert(reference->canonical());
  }
  for (NodePlan& node : plan.nodes) {
    node.starting.clear();
    const auto refs = refs_by_node.find(node.node_id);
    if (refs == refs_by_node.end()) continue;
    for (std::uint32_t id : node.images) {
      if (refs->second.count(plan.images[id].ref) != 0) node.starting.push_back(id);
    }
  }
}

std::vector<const DesiredImage*> desired_of(const Plan& plan, const NodePlan& node) {
  std::vector<const DesiredImage*> images;
  images.reserve(node.images.size());
  for (std::uint32_t id : node.images) images.push_back(&plan.images[id]);
  return images;
}

std::vector<std::string> desired_refs(const Plan& plan, const NodePlan& node) {
  std::vector<std::string> refs;
  refs.reserve(node.images.size());
  for (std::uint32_t id : node.images) refs.push_back(plan.images[id].ref);
  return refs;
}

const NodePlan* find_node(const Plan& plan, std::string_view node_id) {
  for (const NodePlan& node : plan.nodes) {
    if (node.node_id == node_id) return &node;
  }
  return nullptr;
}

std::unordered_set<std::string> present_refs(const std::vector<Image>& present) {
  std::unordered_set<std::string> refs;
  for (const Image& image : present) {
    // A RepoTags entry vouches for a tag, a RepoDigests entry for a digest;
    // neither for the other (a digest-less "repo" would read as repo:latest).
    for (const std::string& tag : image.repo_tags) {
      auto reference = parse_reference(tag);
      if (reference && reference->digest.empty()) refs.insert(reference->canonical());
    }
    std::vector<Reference> digests;
    for (const std::string& digest : image.repo_digests) {
      auto reference = parse_reference(digest);
      if (reference && !reference->digest.empty()) {
        refs.insert(reference->canonical());
        digests.push_back(std::move(reference).value());
      }
    }
    // A tag moved at the registry still names the old content here until
    // pulled again: only the pair on one image says which content it names.
    for (const std::string& tag : image.repo_tags) {
      auto reference = parse_reference(tag);
      if (!reference || !reference->digest.empty()) continue;
      for (const Reference& pinned : digests) {
        if (pinned.name() == reference->name()) {
          refs.insert(reference->canonical() + "@" + pinned.digest);
        }
      }
    }
  }
  return refs;
}

std::string tag_at_digest(std::string_view tag_ref, std::string_view digest) {
  auto reference = parse_reference(tag_ref);
  if (!reference || !reference->digest.empty()) return {};
  return reference->canonical() + "@" + std::string(digest);
}

std::vector<std::string> missing_images(const std::vector<std::string>& desired,
                                        const std::unordered_set<std::string>& present) {
  std::vector<std::string> missing;
  for (const std::string& ref : desired) {
    if (!present.contains(ref)) missing.push_back(ref);
  }
  return missing;
}

std::vector<std::string> missing_images(const std::vector<std::string>& desired,
                                        const std::vector<Image>& present) {
  return missing_images(desired, present_refs(present));
}

std::vector<std::string> missing_images(const Plan& plan, const NodePlan& node,
                                        const std::vector<Image>& present) {
  const std::unordered_set<std::string> held = present_refs(present);
  std::vector<std::string> missing;
  for (std::uint32_t id : node.images) {
    if (!held.contains(plan.images[id].ref)) missing.push_back(plan.images[id].ref);
  }
  return missing;
}

}  // namespace swarm_prepull::reconcile
