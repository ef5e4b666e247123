#include "api/gate.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <map>

#include "api/duration.h"

namespace swarm_prepull::api {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string join(const std::vector<std::string>& items, std::size_t limit = 0) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (limit != 0 && i == limit) {
      text += ", and " + std::to_string(items.size() - limit) + " more";
      break;
    }
    text += (i == 0 ? "" : ", ") + items[i];
  }
  return text;
}

// A resolution failure the controller still lists under the requested ref.
const std::string& listed_ref(const Tracked& image) {
  return image.ref.empty() ? image.requested : image.ref;
}

std::string describe(const GateFailure& failure) {
  std::string text(to_string(failure.reason));
  if (!failure.message.empty()) text += ": " + failure.message;
  if (failure.at_registry) {
    text += " at the registry (resolved by the manager)";
    if (!failure.nodes.empty()) text += "; not pulled on " + join(failure.nodes, 10);
    return text;
  }
  if (!failure.nodes.empty()) text += " on " + join(failure.nodes);
  return text;
}

const std::string& name_of(const std::string& hostname, const std::string& id) {
  return hostname.empty() ? id : hostname;
}

std::string seconds_text(Clock::duration duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(duration).count());
  return text;
}

}  // namespace

bool is_final_pull_failure(FailureReason reason) {
  return reason == FailureReason::not_found || reason == FailureReason::unauthorized ||
         reason == FailureReason::disk_full;
}

std::vector<Tracked> track(const WarmAnswer& answer) {
  std::vector<Tracked> tracked;
  for (const auto& image : answer.images) {
    Tracked item{.requested = image.ref, .ref = image.warm, .nodes_desired = image.nodes_desired};
    for (const auto& node : image.nodes) item.node_ids.push_back(node.id);
    std::sort(item.node_ids.begin(), item.node_ids.end());
    if (image.failure) {
      GateFailure refused{image.failure->reason, image.failure->message, {}, true};
      for (const auto& node : image.nodes) refused.nodes.push_back(name_of(node.hostname, node.id));
      std::sort(refused.nodes.begin(), refused.nodes.end());
      item.failures.push_back(std::move(refused));
      item.ref.clear();
    }
    tracked.push_back(std::move(item));
  }
  return tracked;
}

Progress evaluate_answer(const std::vector<Tracked>& tracked) {
  Progress progress;
  bool failed = false;
  for (const auto& image : tracked) {
    ImageProgress item{.requested = image.requested, .ref = image.ref};
    item.listed = !image.ref.empty();
    item.desired = image.nodes_desired;
    item.failures = image.failures;
    failed = failed || !image.failures.empty() || image.nodes_desired == 0;
    progress.images.push_back(std::move(item));
  }
  progress.verdict = failed ? Verdict::failed : Verdict::pending;
  return progress;
}

std::vector<std::string> listed_refs(const std::vector<Tracked>& tracked) {
  std::vector<std::string> refs;
  refs.reserve(tracked.size());
  for (const auto& image : tracked) refs.push_back(listed_ref(image));
  return refs;
}

Progress evaluate(const std::vector<Tracked>& tracked, const ImagesListing& listing) {
  std::map<std::string, const ListedImage*, std::less<>> listed;
  for (const auto& image : listing.images) listed.emplace(image.ref, &image);
  Progress progress;
  bool all_ready = true;
  bool failed = false;
  for (const auto& image : tracked) {
    ImageProgress item{.requested = image.requested, .ref = image.ref};
    item.failures = image.failures;
    const auto found = listed.find(listed_ref(image));
    if (found != listed.end()) {
      const ListedImage& entry = *found->second;
      item.listed = !image.ref.empty();
      item.desired = entry.nodes_desired;
      item.present = entry.nodes_present;
      // Only the nodes the request selected count, when the answer named them.
      const bool scoped = !image.node_ids.empty();
      const auto selected = [&](const std::string& id) {
        return !scoped || std::binary_search(image.node_ids.begin(), image.node_ids.end(), id);
      };
      for (const auto& node : entry.nodes) {
        if (!selected(node.id)) continue;
        NodeState missing{.node = name_of(node.hostname, node.id),
                          .state = node.state ? std::string(reconcile::to_string(*node.state))
                                              : std::string("unknown"),
                          .reason = {},
                          .agent = node.agent};
        for (const auto& failure : entry.failures) {
          if (failure.stage == FailureStage::pull && failure.node == node.id) {
            missing.reason = std::string(to_string(failure.reason));
          }
        }
        if (node.state == ImageState::held) {
          missing.reason = std::string(held_reason_disk_low);
          missing.disk = node.message;
          // The agent's message names the reason first; said once is enough.
          const std::string prefix = missing.reason + ": ";
          if (missing.disk.rfind(prefix, 0) == 0) missing.disk.erase(0, prefix.size());
          item.held.push_back(missing);
        }
        item.missing.push_back(std::move(missing));
      }
      std::sort(item.missing.begin(), item.missing.end(),
                [](const NodeState& a, const NodeState& b) { return a.node < b.node; });
      if (scoped) {
        item.desired = image.node_ids.size();
        item.present = item.desired - std::min<std::uint64_t>(item.missing.size(), item.desired);
      }
      // Grouped by (reason, message, stage), in the order first seen.
      std::vector<GateFailure> groups;
      for (const auto& failure : entry.failures) {
        const bool at_registry = failure.stage == FailureStage::resolve;
        if (at_registry && !item.failures.empty()) continue;  // known from the POST
        if (!at_registry && !selected(failure.node)) continue;
        auto group = std::find_if(groups.begin(), groups.end(), [&](const GateFailure& known) {
          return known.reason == failure.reason && known.message == failure.message &&
                 known.at_registry == at_registry;
        });
        if (group == groups.end()) {
          groups.push_back({failure.reason, failure.message, {}, at_registry});
          group = std::prev(groups.end());
        }
        if (const auto& name = name_of(failure.hostname, failure.node); !name.empty()) {
          group->nodes.push_back(name);
        }
      }
      for (auto& group : groups) {
        std::sort(group.nodes.begin(), group.nodes.end());
        item.failures.push_back(std::move(group));
      }
    } else if (!image.ref.empty()) {
      progress.needs_repost = true;
    }
    for (const auto& failure : item.failures) {
      if (failure.at_registry || is_final_pull_failure(failure.reason)) failed = true;
    }
    std::sort(item.held.begin(), item.held.end(),
              [](const NodeState& a, const NodeState& b) { return a.node < b.node; });
    if (image.ref.empty() || !item.held.empty()) failed = true;
    all_ready = all_ready && item.ready();
    progress.images.push_back(std::move(item));
  }
  progress.verdict = failed ? Verdict::failed : all_ready ? Verdict::ready : Verdict::pending;
  return progress;
}

std::string progress_line(const ImageProgress& image) {
  std::string line = image.requested + "  " + std::to_string(image.present) + "/" +
                     std::to_string(image.desired) + " nodes";
  if (image.ready()) return line + "  ready";
  if (image.ref.empty()) {
    // Refused at resolution: no node was told; say why on the line itself.
    for (const auto& failure : image.failures) {
      if (failure.at_registry) {
        return image.requested + "  0/" + std::to_string(failure.nodes.size()) +
               " nodes  refused at the registry: " + std::string(to_string(failure.reason));
      }
    }
    return line + "  refused";
  }
  if (!image.listed) return line + "  (not listed yet)";
  std::vector<std::string> missing;
  for (const auto& node : image.missing) {
    std::string entry = node.node + " " + node.state;
    if (!node.reason.empty()) entry += ": " + node.reason;
    if (!node.agent.empty()) entry += ": " + node.agent;
    missing.push_back(std::move(entry));
  }
  if (!missing.empty()) line += "  waiting: " + join(missing, 4);
  return line;
}

std::vector<std::string> progress_lines(const Progress& progress) {
  std::vector<std::string> lines;
  for (const auto& image : progress.images) lines.push_back(progress_line(image));
  return lines;
}

std::string failure_message(const Progress& progress) {
  std::string text;
  for (const auto& image : progress.images) {
    std::vector<const GateFailure*> final;
    for (const auto& failure : image.failures) {
      if (failure.at_registry || is_final_pull_failure(failure.reason)) final.push_back(&failure);
    }
    for (const auto* failure : final) {
      text += "wait: " + image.requested + ": " + describe(*failure) + "\n";
    }
    if (!image.held.empty()) {
      std::vector<std::string> nodes;
      for (const auto& node : image.held) {
        nodes.push_back(node.disk.empty() ? node.node : node.node + " (" + node.disk + ")");
      }
      text += "wait: " + image.requested + ": held: disk_low on " + join(nodes) +
              ": below its agent's --min-free-disk, not pulled until space is freed\n";
    }
    if (final.empty() && image.held.empty() && !image.ref.empty() && image.listed &&
        image.desired == 0) {
      text += "wait: " + image.requested + ": no ready, active node matches the placement\n";
    }
  }
  return text;
}

std::string timeout_message(const Progress& progress, std::chrono::milliseconds timeout) {
  std::string text;
  for (const auto& image : progress.images) {
    if (image.ready()) continue;
    text += "wait: timed out after " + format_duration(timeout) + ": " + image.requested;
    if (!image.listed) {
      text += " is not listed by the controller\n";
      continue;
    }
    text += " " + std::to_string(image.present) + "/" + std::to_string(image.desired) +
            " nodes, missing on ";
    std::vector<std::string> missing;
    for (const auto& node : image.missing) {
      std::string entry = node.node + " (" + node.state;
      for (const auto& failure : image.failures) {
        if (std::find(failure.nodes.begin(), failure.nodes.end(), node.node) !=
            failure.nodes.end()) {
          entry += ": " + std::string(to_string(failure.reason)) + ": " + failure.message;
          break;
        }
      }
      if (!node.agent.empty()) entry += "; " + node.agent;
      missing.push_back(entry + ")");
    }
    text += (missing.empty() ? std::string("unknown nodes") : join(missing)) + "\n";
  }
  return text;
}

// ---------------------------------------------------------------------------

net::awaitable<GateResult> run_gate(ControllerClient& client, GateOptions options,
                                    std::function<void(const Progress&)> on_progress) {
  const auto report = [&](const Progress& progress) {
    if (on_progress) on_progress(progress);
  };
  const auto started = Clock::now();
  const auto deadline = started + options.timeout;
  // Each exchange is bounded by what is left, within reason.
  const auto remaining = [&] {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    return std::clamp(left, milliseconds(200), milliseconds(30'000));
  };
  const auto finish = [&](GateOutcome outcome, Progress progress, std::optional<Error> error) {
    return GateResult{outcome, std::move(progress), std::move(error), Clock::now() - started};
  };
  net::steady_timer timer(co_await net::this_coro::executor);
  auto pause = std::min(options.first_interval, options.interval);

  std::vector<Tracked> tracked;
  bool filtered = true;  // GET /v1/images?refs= for the tracked images alone
  Progress progress;
  for (const auto& image : options.request.images) {
    // A named variable, not a braced temporary: GCC 12 miscompiles the
    // latter's destruction in a coroutine frame (ASan: stack-buffer-overflow).
    ImageProgress item;
    item.requested = image;
    progress.images.push_back(std::move(item));
  }
  bool posted = false;
  bool reached = false;  // the controller answered at least once
  std::optional<Error> last_error;
  for (;;) {
    if (!posted) {
      auto answer = co_await client.warm(options.request, remaining());
      if (answer) {
        reached = true;
        posted = true;
        last_error.reset();
        tracked = track(*answer);
        progress = evaluate_answer(tracked);
        if (progress.verdict == Verdict::failed) {
          report(progress);
          co_return finish(GateOutcome::failed, std::move(progress), std::nullopt);
        }
      } else {
        const Error& error = answer.error();
        if (error.code == api_errc::unauthorized) {
          co_return finish(GateOutcome::token_refused, std::move(progress), error);
        }
        if (error.code == api_errc::rejected || error.code == api_errc::not_found ||
            error.code == api_errc::forbidden) {
          co_return finish(GateOutcome::request_refused, std::move(progress), error);
        }
        if (error.code == api_errc::bad_response) {
          co_return finish(GateOutcome::bad_answer, std::move(progress), error);
        }
        // Unreachable, starting (503), busy (429), slow: try again until the timeout.
        reached = reached || error.status != 0;
        last_error = error;
      }
    }
    if (posted) {
      // Named, not a temporary in the co_await: GCC 12 destroyed a conditional's
      // temporary there twice.
      const auto refs = filtered ? listed_refs(tracked) : std::vector<std::string>{};
      auto listing = co_await client.images(remaining(), refs);
      if (listing) {
        progress = evaluate(tracked, *listing);
        report(progress);
        if (progress.verdict == Verdict::ready) {
          co_return finish(GateOutcome::ready, std::move(progress), std::nullopt);
        }
        if (progress.verdict == Verdict::failed) {
          co_return finish(GateOutcome::failed, std::move(progress), std::nullopt);
        }
        // The controller forgot the request (it restarted, or the ttl ran out).
        if (progress.needs_repost) posted = false;
      } else {
        const Error& error = listing.error();
        if (error.code == api_errc::unauthorized) {
          co_return finish(GateOutcome::token_refused, std::move(progress), error);
        }
        if (error.code == api_errc::forbidden) {
          co_return finish(GateOutcome::request_refused, std::move(progress), error);
        }
        // ?refs= refused on the way (a proxy's limit on the request line, say):
        // every image, as before it, from now on.
        if (error.code == api_errc::rejected && filtered) {
          filtered = false;
          continue;
        }
        last_error = error;
        // Restarted and not ready yet: post again once it is.
        if (error.code == api_errc::unavailable) posted = false;
      }
    }
    const auto now = Clock::now();
    if (now >= deadline) break;
    timer.expires_after(std::min<Clock::duration>(pause, deadline - now));
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    // Small images land within a second: ask soon at first, then every interval.
    pause = std::min(pause * 2, options.interval);
  }
  if (!reached) co_return finish(GateOutcome::unreachable, std::move(progress), last_error);
  co_return finish(GateOutcome::timed_out, std::move(progress),
                   posted ? std::nullopt : std::move(last_error));
}

std::string outcome_message(const GateResult& result, const GateOptions& options,
                            std::string_view controller) {
  const std::string at = "the controller at " + std::string(controller);
  const auto said = [&] {
    if (!result.error) return std::string();
    if (result.error->status == 0 || result.error->message.empty())
      return result.error->to_string();
    return "(HTTP " + std::to_string(result.error->status) + "): " + result.error->message;
  };
  switch (result.outcome) {
    case GateOutcome::ready:
      return "wait: ready: " + std::to_string(result.progress.images.size()) +
             " image(s) present on every node, after " + seconds_text(result.elapsed) + "\n";
    case GateOutcome::failed:
      return failure_message(result.progress);
    case GateOutcome::token_refused:
      return "swarm-prepull wait: " + at + " refused the token " + said() +
             "; check --token-file\n";
    case GateOutcome::request_refused:
      return "swarm-prepull wait: the controller refused the request " + said() + "\n";
    case GateOutcome::bad_answer:
      return "swarm-prepull wait: " + at + " answered with something else than the agent API: " +
             (result.error ? result.error->to_string() : std::string()) + "\n";
    case GateOutcome::unreachable:
      return "swarm-prepull wait: " + at + " is unreachable: " +
             (result.error ? result.error->to_string() : std::string("no answer")) + "\n";
    case GateOutcome::timed_out: {
      std::string text = timeout_message(result.progress, options.timeout);
      if (result.error) {
        text += "wait: last error from the controller: " + result.error->to_string() + "\n";
      }
      return text;
    }
  }
  return {};
}

}  // namespace swarm_prepull::api
