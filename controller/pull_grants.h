// Pull grants: which nodes may pull which desired image now. Two caps bound
// them, both cluster-wide: per image (--max-parallel-node-pulls, so that
// nodes do not all fetch the same layers at once) and per registry host
// (--max-pulls-per-registry: Docker Hub's pull limits, small private
// registries). And a registry that answered 429 to any node (rate_limited)
// gets no new grant for a while, doubling while it keeps answering 429,
// instead of every node finding that out for itself.
//
// Grants are handed out in one order, whatever the caps: nodes where swarm is
// starting a task that needs the image first (that pull is what a rollout
// waits for: within the registry's budget it goes before warming the other
// nodes), then nodes that did not fail, then the failed ones; within each, by
// image ref, then by node id. A grant is kept until its node reports the
// image present or failed, with one exception: when the caps are full and a
// starting task's pull waits, a grant that only warms a node is taken back
// (published with `withdraw`, so that its agent cancels the pull) and the
// starting one takes its slot. A grant goes only where the order puts it
// and is taken back only for a starting pair, so a pass over unchanged
// inputs changes no grant: updating them incrementally (one report touches
// one node's images, and only its registries are looked at again) is all a
// report needs. A report costs O(its changed images + the images of their
// registries), not O(nodes x images); taking a grant back, O(the pairs of
// the images that hold one). A restarted controller hands grants out anew,
// and an agent's pull under way without a grant goes on (no `withdraw`).
//
// Pure: no clock but the `now` handed in, no I/O. State owns one and feeds it
// each desired (node, image) pair with what the node's last report says.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace swarm_prepull::controller {

struct PullGrantsOptions {
  std::uint32_t per_image = 0;  // 0: no cap
  std::uint32_t per_registry = 0;
  // The first pause after a 429; each further 429 after a pause ended doubles
  // it up to the max; a pull granted in that registry that ends present
  // resets it (and ends a pause).
  std::chrono::steady_clock::duration backoff_base = std::chrono::seconds(5);
  std::chrono::steady_clock::duration backoff_max = std::chrono::minutes(5);
};

// A registry that a 429 paused, or whose next pause is longer than the base.
struct RegistryBackoff {
  std::chrono::steady_clock::duration remaining{};  // until grants resume; 0: not paused
  std::chrono::steady_clock::duration next_pause{};
  bool operator==(const RegistryBackoff&) const = default;
};

class PullGrants {
 public:
  using Clock = std::chrono::steady_clock;
  using Pair = std::pair<std::string, std::string>;  // (node id, ref)

  // All that grants read of a node's last report of a desired image.
  enum class Input { other, pulling, present, failed, rate_limited };

  explicit PullGrants(PullGrantsOptions options);

 private:
  struct Image;
  struct PairState;

 public:
  // One ref's pairs, looked up once for the many set()/granted() of a pass
  // (1,000 nodes share each ref, and refs are long and share their prefixes).
  // Valid until end_pass() drops the ref's last pair.
  class ImageHandle {
   public:
    const std::string& ref() const { return entry_->first; }

   private:
    friend PullGrants;
    explicit ImageHandle(std::pair<const std::string, Image>* entry) : entry_(entry) {}
    std::pair<const std::string, Image>* entry_;
  };
  // The ref's entry, added if new.
  ImageHandle image(const std::string& ref);
  // One (node, image) pair, as set() left it: whether it holds a grant can be
  // read after settle() without looking it up again. Valid until end_pass()
  // drops the pair.
  class PairHandle {
   private:
    friend PullGrants;
    explicit PairHandle(const PairState* pair) : pair_(pair) {}
    const PairState* pair_;
  };

  // The pair is desired, its node's last report says `input` of it, and
  // `starting`: a task swarm is starting on the node needs it (a new pair is
  // added). Hands nothing out: settle() does, once per batch.
  void set(const std::string& node, const std::string& ref, Input input, bool starting);
  PairHandle set(ImageHandle image, const std::string& node, Input input, bool starting);
  // A node's report turned one of `registry`'s images to rate_limited: new
  // grants there pause (grants of nodes not pulling yet are taken back) unless
  // a pause already runs, which a 429 of a pull started before it does not
  // extend.
  void rate_limited(const std::string& registry, Clock::time_point now);
  // Ends the pauses that are over.
  void resume(Clock::time_point now);

  // A full pass: pairs not set() between begin_pass() and end_pass() are no
  // longer desired and are dropped (with their grants).
  void begin_pass();
  void end_pass();

  // Hands free slots out in the registries something changed in since the
  // last call; the pairs whose grant changed since then, either way.
  std::vector<Pair> settle();

  bool granted(std::string_view node, std::string_view ref) const;
  static bool granted(PairHandle pair);
  // The pair's grant was taken back for a starting task while its node may
  // be pulling: until its node reports the image anything but pulling, or
  // the pair is granted again.
  static bool taken_back(PairHandle pair);
  bool taken_back(std::string_view node, std::string_view ref) const;
  // Registries paused, or whose next pause is longer than the base.
  std::map<std::string, RegistryBackoff> backoffs(Clock::time_point now) const;
  // Grants held now, by registry (every registry with a desired image).
  std::map<std::string, std::uint32_t> grants_by_registry() const;

 private:
  struct PairState {
    Input input = Input::other;
    bool starting = false;
    bool granted = false;
    bool taken_back = false;
    std::uint64_t seen_in_pass = 0;  // the last full pass that set it
  };
  struct Registry;
  struct Image {
    Registry* registry = nullptr;
    std::map<std::string, PairState, std::less<>> pairs;  // by node id
    // Pairs set in the current full pass: when all were, end_pass() has
    // nothing to drop and need not walk them.
    std::size_t seen = 0;
    // Pairs neither present nor granted, by node id, in three queues: those
    // of starting tasks ahead, those whose last try failed behind the others.
    std::set<std::string, std::less<>> starting, waiting, failed;
    std::uint32_t grants = 0;
    std::uint32_t warming = 0;  // grants of pairs not starting: what may be taken back
  };
  struct Registry {
    std::map<std::string, Image*, std::less<>> images;  // by ref: the hand-out order
    std::uint32_t grants = 0;
    std::uint32_t warming = 0;
    bool paused = false;
    Clock::time_point paused_until{};
    Clock::duration next_pause{};
  };

  // Queues a pair that holds no grant (or takes it out of the queues).
  void enqueue(Image& image, const std::string& node, const PairState& pair);
  void dequeue(Image& image, const std::string& node);
  void grant(Image& image, const std::string& ref, const std::string& node, PairState& pair,
             bool granted);
  void fill(Registry& registry);
  // Frees a slot for a starting pair of `starting` by taking a warming
  // grant back; false when there is none to take.
  bool take_back_for(Registry& registry, Image& starting);
  bool has_room(const Image& image) const;
  bool registry_full(const Registry& registry) const;
  const PairState* find_pair(std::string_view node, std::string_view ref) const;

  PullGrantsOptions options_;
  std::map<std::string, Image, std::less<>> images_;         // by ref
  std::map<std::string, Registry, std::less<>> registries_;  // by host ("docker.io")
  std::set<Registry*> dirty_;                                // to fill at settle()
  std::map<Pair, bool> changed_;                             // pair -> grant before
  std::uint64_t pass_ = 0;                                   // full passes begun
};

}  // namespace swarm_prepull::controller
