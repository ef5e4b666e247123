#include "api/messages.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "api/duration.h"
#include "reconcile/constraint.h"
#include "reconcile/reference.h"

namespace swarm_prepull::api {
namespace {

using nlohmann::json;
using Failure = std::optional<DecodeError>;

constexpr std::array<std::string_view, 7> reason_names = {
    "not_found", "unauthorized", "rate_limited", "network", "timeout", "disk_full", "other"};

// Encoding never throws on text that is not UTF-8 (an engine's message can
// hold anything): such bytes become U+FFFD.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

DecodeError fail(std::string where, std::string message) {
  return DecodeError{std::move(where), std::move(message)};
}

std::string path_of(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string item_of(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// Parses a body: refuses nesting deeper than max_nesting before the parser
// sees it, and turns every parser exception (syntax, invalid UTF-8, a number
// out of range such as 1e400) into an error naming the position.
Failure parse(std::string_view body, json& document) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_nesting) {
        return fail("body", "nested deeper than " + std::to_string(max_nesting) + " levels");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  try {
    document = json::parse(body.begin(), body.end());
  } catch (const json::exception& error) {
    // "[json.exception.parse_error.101] parse error at line 1, column 3: ..."
    std::string_view what = error.what();
    if (const auto close = what.find("] "); what.starts_with("[json.") && close != what.npos) {
      what.remove_prefix(close + 2);
    }
    return fail("body", "malformed JSON: " + printable(what));
  }
  return std::nullopt;
}

Failure expect_object(const json& value, const std::string& where) {
  if (value.is_object()) return std::nullopt;
  return fail(where.empty() ? "body" : where, "expected an object");
}

enum class Need { optional, required, non_empty };

Failure get_string(const json& object, std::string_view key, const std::string& parent,
                   std::string& out, Need need = Need::optional) {
  const auto found = object.find(key);
  if (found == object.end()) {
    if (need == Need::optional) return std::nullopt;
    return fail(path_of(parent, key), "required");
  }
  if (!found->is_string()) {
    return fail(path_of(parent, key),
                need == Need::non_empty ? "expected a non-empty string" : "expected a string");
  }
  const auto& text = found->get_ref<const std::string&>();
  if (need == Need::non_empty && text.empty()) {
    return fail(path_of(parent, key), "expected a non-empty string");
  }
  out = text;
  return std::nullopt;
}

Failure get_unsigned(const json& object, std::string_view key, const std::string& parent,
                     std::uint64_t& out, Need need = Need::optional) {
  const auto found = object.find(key);
  if (found == object.end()) {
    if (need == Need::optional) return std::nullopt;
    return fail(path_of(parent, key), "required");
  }
  if (!found->is_number_unsigned()) {
    return fail(path_of(parent, key), "expected a non-negative integer");
  }
  out = found->get<std::uint64_t>();
  return std::nullopt;
}

Failure get_bool(const json& object, std::string_view key, const std::string& parent, bool& out) {
  const auto found = object.find(key);
  if (found == object.end()) return std::nullopt;
  if (!found->is_boolean()) return fail(path_of(parent, key), "expected a boolean");
  out = found->get<bool>();
  return std::nullopt;
}

// A finite number (the parser refuses what does not fit a double).
Failure get_number(const json& object, std::string_view key, const std::string& parent,
                   double& out) {
  const auto found = object.find(key);
  if (found == object.end()) return std::nullopt;
  if (!found->is_number() || !std::isfinite(found->get<double>())) {
    return fail(path_of(parent, key), "expected a number");
  }
  out = found->get<double>();
  return std::nullopt;
}

// The array at `key`, or nullptr when it is absent and optional.
Failure get_array(const json& object, std::string_view key, const std::string& parent,
                  const json*& out, Need need = Need::optional) {
  out = nullptr;
  const auto found = object.find(key);
  if (found == object.end()) {
    if (need == Need::optional) return std::nullopt;
    return fail(path_of(parent, key), "required, an array");
  }
  if (!found->is_array()) return fail(path_of(parent, key), "expected an array");
  out = &*found;
  return std::nullopt;
}

// An optional array of strings.
Failure get_strings(const json& object, std::string_view key, const std::string& parent,
                    std::vector<std::string>& out) {
  const json* items = nullptr;
  if (auto error = get_array(object, key, parent, items)) return error;
  for (std::size_t i = 0; items != nullptr && i < items->size(); ++i) {
    if (!(*items)[i].is_string())
      return fail(item_of(path_of(parent, key), i), "expected a string");
    out.push_back((*items)[i].get<std::string>());
  }
  return std::nullopt;
}

Failure get_reason(const json& object, std::string_view key, const std::string& parent,
                   FailureReason& out, Need need) {
  std::string text;
  if (auto error = get_string(object, key, parent, text, need)) return error;
  if (text.empty() && need == Need::optional) return std::nullopt;
  const auto reason = parse_failure_reason(text);
  if (!reason) {
    return fail(path_of(parent, key),
                "unknown reason '" + printable(text) +
                    "' (expected not_found, unauthorized, rate_limited, network, timeout, "
                    "disk_full or other)");
  }
  out = *reason;
  return std::nullopt;
}

// Rounds to whole milliseconds: what a ms duration written as seconds reads back as.
std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

double ms_to_seconds(std::chrono::milliseconds duration) {
  return static_cast<double>(duration.count()) / 1000;
}

}  // namespace

std::string DecodeError::to_string() const { return where + ": " + message; }

void throw_exception_from_error(const DecodeError& error, const boost::source_location&) {
  throw std::invalid_argument(error.to_string());
}

std::string_view to_string(FailureReason reason) {
  const auto index = static_cast<std::size_t>(reason);
  return index < reason_names.size() ? reason_names[index] : "other";
}

std::optional<FailureReason> parse_failure_reason(std::string_view text) {
  for (const FailureReason reason : all_failure_reasons) {
    if (to_string(reason) == text) return reason;
  }
  return std::nullopt;
}

std::string_view to_string(FailureStage stage) {
  return stage == FailureStage::resolve ? "resolve" : "pull";
}

std::string printable(std::string_view text, std::size_t limit) {
  std::string out;
  const auto escape = [&](unsigned char byte) {
    constexpr char hex[] = "0123456789abcdef";
    out += "\\x";
    out += hex[byte >> 4];
    out += hex[byte & 0xf];
  };
  const auto continuation = [&](std::size_t at, unsigned char low = 0x80,
                                unsigned char high = 0xbf) {
    if (at >= text.size()) return false;
    const auto byte = static_cast<unsigned char>(text[at]);
    return byte >= low && byte <= high;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;  // of a valid UTF-8 sequence starting here; 0: escape the byte
    if (byte >= 0x20 && byte < 0x7f) {
      length = 1;
    } else if (byte >= 0xc2 && byte <= 0xdf) {
      length = continuation(i + 1) ? 2 : 0;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      // No overlong forms (E0 80..9F) and no surrogates (ED A0..BF).
      const unsigned char low = byte == 0xe0 ? 0xa0 : 0x80;
      const unsigned char high = byte == 0xed ? 0x9f : 0xbf;
      length = continuation(i + 1, low, high) && continuation(i + 2) ? 3 : 0;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      // No overlong forms (F0 80..8F) and nothing above U+10FFFF (F4 90..).
      const unsigned char low = byte == 0xf0 ? 0x90 : 0x80;
      const unsigned char high = byte == 0xf4 ? 0x8f : 0xbf;
      length = continuation(i + 1, low, high) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
    }
    if (length == 0) {
      escape(byte);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------

namespace {
std::optional<reconcile::PullPriority> parse_pull_priority(std::string_view text) {
  for (auto priority : {reconcile::PullPriority::urgent, reconcile::PullPriority::current,
                        reconcile::PullPriority::previous, reconcile::PullPriority::declared}) {
    if (reconcile::to_string(priority) == text) return priority;
  }
  return std::nullopt;
}
}  // namespace

std::string encode(const DesiredSet& set) {
  json images = json::array();
  for (const auto& image : set.images) {
    json entry = {{"ref", image.ref}, {"pull", image.pull}};
    if (image.retry != 0) entry["retry"] = image.retry;
    if (!image.digest.empty()) entry["digest"] = image.digest;
    if (image.priority != reconcile::PullPriority::current) {
      entry["priority"] = reconcile::to_string(image.priority);
    }
    if (image.starting) entry["starting"] = true;
    if (!image.via.empty()) entry["via"] = image.via;
    if (image.withdraw) entry["withdraw"] = true;
    images.push_back(std::move(entry));
  }
  return dump({{"node_id", set.node_id},
               {"hostname", set.hostname},
               {"generation", set.generation},
               {"images", std::move(images)}});
}

Decoded<DesiredSet> decode_desired_set(std::string_view body) {
  json document;
  if (auto error = parse(body, document)) return *error;
  if (auto error = expect_object(document, "")) return *error;
  DesiredSet set;
  if (auto error = get_string(document, "node_id", "", set.node_id)) return *error;
  if (auto error = get_string(document, "hostname", "", set.hostname)) return *error;
  if (auto error = get_unsigned(document, "generation", "", set.generation, Need::required)) {
    return *error;
  }
  const json* images = nullptr;
  if (auto error = get_array(document, "images", "", images, Need::required)) return *error;
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const json& item = (*images)[i];
    const std::string where = item_of("images", i);
    if (auto error = expect_object(item, where)) return *error;
    DesiredImage image;
    if (auto error = get_string(item, "ref", where, image.ref, Need::non_empty)) return *error;
    if (!seen.insert(image.ref).second) {
      return fail(where + ".ref", "'" + printable(image.ref) + "' listed twice");
    }
    if (auto error = get_bool(item, "pull", where, image.pull)) return *error;
    if (auto error = get_unsigned(item, "retry", where, image.retry)) return *error;
    if (auto error = get_string(item, "digest", where, image.digest)) return *error;
    std::string priority;
    if (auto error = get_string(item, "priority", where, priority)) return *error;
    if (!priority.empty()) {
      const auto known = parse_pull_priority(priority);
      if (!known) {
        return fail(where + ".priority", "expected urgent, current, previous or declared, got '" +
                                             printable(priority) + "'");
      }
      image.priority = *known;
    }
    if (auto error = get_bool(item, "starting", where, image.starting)) return *error;
    if (auto error = get_bool(item, "withdraw", where, image.withdraw)) return *error;
    if (auto error = get_string(item, "via", where, image.via)) return *error;
    if (!image.via.empty()) {
      // Only ever by digest: a cache can then serve nothing but the origin's content.
      const auto via = reconcile::parse_reference(image.via);
      if (!via || via->digest.empty()) {
        return fail(where + ".via", "expected a reference by digest, got '" + printable(image.via) +
                                        "'" + (via ? "" : ": " + via.error().message));
      }
    }
    set.images.push_back(std::move(image));
  }
  return set;
}

// ---------------------------------------------------------------------------

namespace {
// The disk fields an agent reports and the controller lists per node, under
// the same names in both, into `object`.
void encode_disk(json& object, const std::optional<std::uint64_t>& free_bytes,
                 const std::optional<std::uint64_t>& size_bytes,
                 const std::optional<GcSummary>& gc) {
  if (free_bytes) object["disk_free_bytes"] = *free_bytes;
  if (size_bytes) object["disk_size_bytes"] = *size_bytes;
  if (gc) {
    object["gc"] = {{"mode", gc->mode},
                    {"candidates", gc->candidates},
                    {"candidate_bytes", gc->candidate_bytes},
                    {"removed_images", gc->removed_images},
                    {"reclaimed_bytes", gc->reclaimed_bytes}};
  }
}

Failure decode_disk(const json& object, const std::string& where,
                    std::optional<std::uint64_t>& free_bytes,
                    std::optional<std::uint64_t>& size_bytes, std::optional<GcSummary>& gc) {
  for (auto [key, out] :
       {std::pair{"disk_free_bytes", &free_bytes}, std::pair{"disk_size_bytes", &size_bytes}}) {
    if (!object.contains(key)) continue;
    std::uint64_t value = 0;
    if (auto error = get_unsigned(object, key, where, value)) return error;
    *out = value;
  }
  const auto found = object.find("gc");
  if (found == object.end()) return std::nullopt;
  const std::string at = path_of(where, "gc");
  if (auto error = expect_object(*found, at)) return error;
  GcSummary summary;
  if (auto error = get_string(*found, "mode", at, summary.mode)) return error;
  for (auto [key, out] : {std::pair{"candidates", &summary.candidates},
                          std::pair{"candidate_bytes", &summary.candidate_bytes},
                          std::pair{"removed_images", &summary.removed_images},
                          std::pair{"reclaimed_bytes", &summary.reclaimed_bytes}}) {
    if (auto error = get_unsigned(*found, key, at, *out)) return error;
  }
  gc = std::move(summary);
  return std::nullopt;
}

json disk_of(const StatusReport& report) {
  json agent = {{"version", report.agent_version}, {"engine_version", report.engine_version}};
  encode_disk(agent, report.disk_free_bytes, report.disk_size_bytes, report.gc);
  return agent;
}
}  // namespace

std::string encode(const StatusReport& report) {
  json images = json::array();
  for (const auto& status : report.images) {
    json image = {{"ref", status.ref}, {"state", reconcile::to_string(status.state)}};
    if (status.state == ImageState::failed) image["reason"] = to_string(status.reason);
    if (status.state == ImageState::held) image["reason"] = held_reason_disk_low;
    if (!status.message.empty()) image["message"] = status.message;
    if (status.attempts != 0) image["attempts"] = status.attempts;
    // NaN and infinities would be written as null, which no decoder takes.
    if (status.since != 0 && std::isfinite(status.since)) image["since"] = status.since;
    if (!status.digest.empty()) image["digest"] = status.digest;
    images.push_back(std::move(image));
  }
  return dump({{"generation", report.generation},
               {"images", std::move(images)},
               {"agent", disk_of(report)}});
}

Decoded<StatusReport> decode_status_report(std::string_view body) {
  json document;
  if (auto error = parse(body, document)) return *error;
  if (auto error = expect_object(document, "")) return *error;
  StatusReport report;
  if (auto error = get_unsigned(document, "generation", "", report.generation)) return *error;
  const json* images = nullptr;
  if (auto error = get_array(document, "images", "", images, Need::required)) return *error;
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const json& item = (*images)[i];
    const std::string where = item_of("images", i);
    if (auto error = expect_object(item, where)) return *error;
    ImageStatus status;
    if (auto error = get_string(item, "ref", where, status.ref, Need::non_empty)) return *error;
    if (!seen.insert(status.ref).second) {
      return fail(where + ".ref", "'" + printable(status.ref) + "' listed twice");
    }
    std::string state;
    if (auto error = get_string(item, "state", where, state, Need::required)) return *error;
    const auto parsed = reconcile::parse_image_state(state);
    if (!parsed) {
      return fail(where + ".state", "unknown state '" + printable(state) +
                                        "' (expected present, pulling, failed, waiting or held)");
    }
    status.state = *parsed;
    const bool failed = status.state == ImageState::failed;
    FailureReason reason = FailureReason::other;
    if (status.state == ImageState::held) {
      std::string held_reason;
      if (auto error = get_string(item, "reason", where, held_reason)) return *error;
      if (!held_reason.empty() && held_reason != held_reason_disk_low) {
        return fail(where + ".reason",
                    "unknown reason '" + printable(held_reason) + "' for held (expected disk_low)");
      }
    } else if (auto error = get_reason(item, "reason", where, reason,
                                       failed ? Need::required : Need::optional)) {
      return *error;
    }
    if (failed) status.reason = reason;  // "failed only": ignored on other states
    if (auto error = get_string(item, "message", where, status.message)) return *error;
    if (auto error = get_unsigned(item, "attempts", where, status.attempts)) return *error;
    if (auto error = get_number(item, "since", where, status.since)) return *error;
    if (auto error = get_string(item, "digest", where, status.digest)) return *error;
    report.images.push_back(std::move(status));
  }
  if (const auto agent = document.find("agent"); agent != document.end()) {
    if (auto error = expect_object(*agent, "agent")) return *error;
    if (auto error = get_string(*agent, "version", "agent", report.agent_version)) return *error;
    if (auto error = get_string(*agent, "engine_version", "agent", report.engine_version)) {
      return *error;
    }
    if (auto error = decode_disk(*agent, "agent", report.disk_free_bytes, report.disk_size_bytes,
                                 report.gc)) {
      return *error;
    }
  }
  return report;
}

// ---------------------------------------------------------------------------

std::string encode(const WarmRequest& request) {
  json body = {{"images", request.images}, {"ttl", format_duration(request.ttl)}};
  if (!request.constraints.empty()) body["constraints"] = request.constraints;
  return dump(body);
}

Decoded<WarmRequest> decode_warm_request(std::string_view body) {
  json document;
  if (auto error = parse(body, document)) return *error;
  if (auto error = expect_object(document, "")) return *error;
  for (const auto& [key, value] : document.items()) {
    if (key != "images" && key != "constraints" && key != "ttl") {
      return fail(printable(key), "unknown key (expected images, constraints, ttl)");
    }
  }
  WarmRequest request;
  const json* images = nullptr;
  if (auto error = get_array(document, "images", "", images, Need::required)) return *error;
  if (images->empty()) return fail("images", "expected at least one image reference");
  if (images->size() > max_warm_images) {
    return fail("images", "at most " + std::to_string(max_warm_images) + " per request");
  }
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const json& item = (*images)[i];
    const std::string where = item_of("images", i);
    if (!item.is_string()) return fail(where, "expected a string");
    auto reference = reconcile::parse_reference(item.get_ref<const std::string&>());
    if (!reference) return fail(where, printable(reference.error().message));
    auto canonical = reference->canonical();
    if (seen.insert(canonical).second) request.images.push_back(std::move(canonical));
  }
  const json* constraints = nullptr;
  if (auto error = get_array(document, "constraints", "", constraints)) return *error;
  for (std::size_t i = 0; constraints != nullptr && i < constraints->size(); ++i) {
    const json& item = (*constraints)[i];
    const std::string where = item_of("constraints", i);
    if (!item.is_string()) return fail(where, "expected a string");
    const auto& text = item.get_ref<const std::string&>();
    if (auto parsed = reconcile::parse_constraint(text); !parsed) {
      return fail(where, "'" + printable(text) + "': " + printable(parsed.error().message));
    }
    request.constraints.push_back(text);
  }
  if (const auto ttl = document.find("ttl"); ttl != document.end()) {
    std::optional<std::chrono::milliseconds> value;
    if (ttl->is_string()) {
      value = parse_duration(ttl->get_ref<const std::string&>());
    } else if (ttl->is_number() && ttl->get<double>() >= 0 && ttl->get<double>() < 1e9) {
      value = seconds_to_ms(ttl->get<double>());
    }
    if (!value || value->count() <= 0 || *value > max_warm_ttl) {
      return fail("ttl", "expected a duration from 1ms to 24h (\"30m\", or seconds), got " +
                             printable(dump(*ttl), 80));
    }
    request.ttl = *value;
  }
  return request;
}

// ---------------------------------------------------------------------------

std::string encode(const WarmAnswer& answer) {
  json images = json::array();
  for (const auto& image : answer.images) {
    json item = {{"ref", image.ref}};
    if (image.failure) {
      item["failure"] = {{"reason", to_string(image.failure->reason)},
                         {"message", image.failure->message}};
    } else {
      item["warm"] = image.warm;
      item["resolved"] = image.resolved;
      item["nodes_desired"] = image.nodes_desired;
    }
    if (!image.note.empty()) item["note"] = image.note;
    json nodes = json::array();
    for (const auto& node : image.nodes) {
      nodes.push_back({{"id", node.id}, {"hostname", node.hostname}});
    }
    item["nodes"] = std::move(nodes);
    images.push_back(std::move(item));
  }
  return dump({{"id", answer.id},
               {"expires_in", ms_to_seconds(answer.expires_in)},
               {"images", std::move(images)}});
}

Decoded<WarmAnswer> decode_warm_answer(std::string_view body) {
  json document;
  if (auto error = parse(body, document)) return *error;
  if (auto error = expect_object(document, "")) return *error;
  WarmAnswer answer;
  if (auto error = get_string(document, "id", "", answer.id)) return *error;
  double expires_in = 0;
  if (auto error = get_number(document, "expires_in", "", expires_in)) return *error;
  if (expires_in < 0 || expires_in > 1e9) {
    return fail("expires_in", "expected a number of seconds from 0 to 10^9");
  }
  answer.expires_in = seconds_to_ms(expires_in);
  const json* images = nullptr;
  if (auto error = get_array(document, "images", "", images, Need::required)) return *error;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const json& item = (*images)[i];
    const std::string where = item_of("images", i);
    if (auto error = expect_object(item, where)) return *error;
    WarmImage image;
    if (auto error = get_string(item, "ref", where, image.ref, Need::non_empty)) return *error;
    if (auto error = get_string(item, "warm", where, image.warm)) return *error;
    if (auto error = get_bool(item, "resolved", where, image.resolved)) return *error;
    if (auto error = get_string(item, "note", where, image.note)) return *error;
    if (auto error = get_unsigned(item, "nodes_desired", where, image.nodes_desired)) {
      return *error;
    }
    if (const auto failure = item.find("failure"); failure != item.end()) {
      const std::string at = where + ".failure";
      if (auto error = expect_object(*failure, at)) return *error;
      WarmFailure refused;
      if (auto error = get_reason(*failure, "reason", at, refused.reason, Need::required)) {
        return *error;
      }
      if (auto error = get_string(*failure, "message", at, refused.message)) return *error;
      image.failure = std::move(refused);
    }
    if (image.failure && (!image.warm.empty() || image.resolved || image.nodes_desired != 0)) {
      return fail(where,
                  "a failure with warm, resolved or nodes_desired: an image is either given to "
                  "nodes or refused");
    }
    if (!image.failure && image.warm.empty()) {
      return fail(where + ".warm", "expected a non-empty string (or a failure)");
    }
    const json* nodes = nullptr;
    if (auto error = get_array(item, "nodes", where, nodes)) return *error;
    for (std::size_t n = 0; nodes != nullptr && n < nodes->size(); ++n) {
      const std::string at = item_of(where + ".nodes", n);
      if (auto error = expect_object((*nodes)[n], at)) return *error;
      WarmNode node;
      if (auto error = get_string((*nodes)[n], "id", at, node.id, Need::non_empty)) return *error;
      if (auto error = get_string((*nodes)[n], "hostname", at, node.hostname)) return *error;
      image.nodes.push_back(std::move(node));
    }
    answer.images.push_back(std::move(image));
  }
  return answer;
}

// ---------------------------------------------------------------------------

std::string encode_refs_query(const std::vector<std::string>& refs) {
  std::string joined;
  for (const auto& ref : refs) {
    if (!joined.empty()) joined += ',';
    joined += ref;
  }
  return joined;
}

Decoded<RefSet> decode_refs_query(std::string_view value) {
  RefSet refs;
  std::size_t index = 0;
  for (std::size_t start = 0;; ++index) {
    const auto comma = value.find(',', start);
    const auto entry = value.substr(start, comma == value.npos ? value.npos : comma - start);
    const std::string where = item_of("refs", index);
    if (index >= max_warm_images) {
      return fail("refs", "at most " + std::to_string(max_warm_images) + " references");
    }
    if (entry.empty()) return fail(where, "empty (expected image references, comma-separated)");
    auto reference = reconcile::parse_reference(entry);
    if (!reference) return fail(where, printable(reference.error().message));
    refs.insert(reference->canonical());
    if (comma == value.npos) break;
    start = comma + 1;
  }
  return refs;
}

std::string encode(const ImagesListing& listing) {
  json images = json::array();
  for (const auto& image : listing.images) {
    json nodes = json::array();
    for (const auto& node : image.nodes) {
      json entry = {
          {"id", node.id},
          {"hostname", node.hostname},
          {"state", node.state ? reconcile::to_string(*node.state) : std::string_view("unknown")}};
      if (!node.agent.empty()) entry["agent"] = node.agent;
      if (node.since != 0 && std::isfinite(node.since)) entry["since"] = node.since;
      if (node.held) entry["held"] = true;
      if (!node.message.empty()) entry["message"] = node.message;
      nodes.push_back(std::move(entry));
    }
    json failures = json::array();
    for (const auto& failure : image.failures) {
      failures.push_back({{"node", failure.node},
                          {"hostname", failure.hostname},
                          {"reason", to_string(failure.reason)},
                          {"message", failure.message},
                          {"stage", to_string(failure.stage)}});
    }
    json entry = {{"ref", image.ref},
                  {"nodes_desired", image.nodes_desired},
                  {"nodes_present", image.nodes_present},
                  {"nodes", std::move(nodes)},
                  {"failures", std::move(failures)}};
    if (!image.digest.empty()) entry["digest"] = image.digest;
    if (image.resolved_at != 0 && std::isfinite(image.resolved_at)) {
      entry["resolved_at"] = image.resolved_at;
    }
    if (!image.services.empty()) entry["services"] = image.services;
    if (!image.present_on.empty()) entry["present_on"] = image.present_on;
    images.push_back(std::move(entry));
  }
  json document = {{"generation", listing.generation}, {"images", std::move(images)}};
  if (listing.reconciled_at != 0 && std::isfinite(listing.reconciled_at)) {
    document["reconciled_at"] = listing.reconciled_at;
  }
  if (!listing.nodes.empty()) {
    json nodes = json::array();
    for (const auto& node : listing.nodes) {
      json entry = {{"id", node.id},
                    {"hostname", node.hostname},
                    {"role", node.role},
                    {"availability", node.availability},
                    {"state", node.state}};
      if (!node.agent.empty()) entry["agent"] = node.agent;
      encode_disk(entry, node.disk_free_bytes, node.disk_size_bytes, node.gc);
      nodes.push_back(std::move(entry));
    }
    document["nodes"] = std::move(nodes);
  }
  if (!listing.warm.empty()) {
    json warm = json::array();
    for (const auto& request : listing.warm) {
      json entry = {{"id", request.id}, {"images", request.images}};
      if (request.expires_at != 0 && std::isfinite(request.expires_at)) {
        entry["expires_at"] = request.expires_at;
      }
      warm.push_back(std::move(entry));
    }
    document["warm"] = std::move(warm);
  }
  return dump(document);
}

Decoded<ImagesListing> decode_images_listing(std::string_view body) {
  json document;
  if (auto error = parse(body, document)) return *error;
  if (auto error = expect_object(document, "")) return *error;
  ImagesListing listing;
  if (auto error = get_unsigned(document, "generation", "", listing.generation, Need::required)) {
    return *error;
  }
  const json* images = nullptr;
  if (auto error = get_array(document, "images", "", images, Need::required)) return *error;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const json& item = (*images)[i];
    const std::string where = item_of("images", i);
    if (auto error = expect_object(item, where)) return *error;
    ListedImage image;
    if (auto error = get_string(item, "ref", where, image.ref, Need::non_empty)) return *error;
    if (auto error =
            get_unsigned(item, "nodes_desired", where, image.nodes_desired, Need::required)) {
      return *error;
    }
    if (auto error =
            get_unsigned(item, "nodes_present", where, image.nodes_present, Need::required)) {
      return *error;
    }
    const json* nodes = nullptr;
    if (auto error = get_array(item, "nodes", where, nodes)) return *error;
    for (std::size_t n = 0; nodes != nullptr && n < nodes->size(); ++n) {
      const std::string at = item_of(where + ".nodes", n);
      const json& entry = (*nodes)[n];
      if (auto error = expect_object(entry, at)) return *error;
      ListedNode node;
      if (auto error = get_string(entry, "id", at, node.id, Need::non_empty)) return *error;
      if (auto error = get_string(entry, "hostname", at, node.hostname)) return *error;
      if (auto error = get_string(entry, "agent", at, node.agent)) return *error;
      if (auto error = get_number(entry, "since", at, node.since)) return *error;
      if (auto error = get_bool(entry, "held", at, node.held)) return *error;
      if (auto error = get_string(entry, "message", at, node.message)) return *error;
      std::string state;
      if (auto error = get_string(entry, "state", at, state, Need::required)) return *error;
      if (state != "unknown") {
        node.state = reconcile::parse_image_state(state);
        if (!node.state) {
          return fail(at + ".state",
                      "unknown state '" + printable(state) +
                          "' (expected present, pulling, failed, waiting, held or unknown)");
        }
      }
      image.nodes.push_back(std::move(node));
    }
    const json* failures = nullptr;
    if (auto error = get_array(item, "failures", where, failures)) return *error;
    for (std::size_t n = 0; failures != nullptr && n < failures->size(); ++n) {
      const std::string at = item_of(where + ".failures", n);
      const json& entry = (*failures)[n];
      if (auto error = expect_object(entry, at)) return *error;
      ListedFailure failure;
      if (auto error = get_string(entry, "node", at, failure.node)) return *error;
      if (auto error = get_string(entry, "hostname", at, failure.hostname)) return *error;
      if (auto error = get_reason(entry, "reason", at, failure.reason, Need::required)) {
        return *error;
      }
      if (auto error = get_string(entry, "message", at, failure.message)) return *error;
      std::string stage;
      if (auto error = get_string(entry, "stage", at, stage, Need::required)) return *error;
      if (stage == "pull") {
        failure.stage = FailureStage::pull;
      } else if (stage == "resolve") {
        failure.stage = FailureStage::resolve;
      } else {
        return fail(at + ".stage",
                    "unknown stage '" + printable(stage) + "' (expected pull or resolve)");
      }
      image.failures.push_back(std::move(failure));
    }
    if (auto error = get_string(item, "digest", where, image.digest)) return *error;
    if (auto error = get_number(item, "resolved_at", where, image.resolved_at)) return *error;
    if (auto error = get_strings(item, "services", where, image.services)) return *error;
    if (auto error = get_strings(item, "present_on", where, image.present_on)) return *error;
    listing.images.push_back(std::move(image));
  }
  if (auto error = get_number(document, "reconciled_at", "", listing.reconciled_at)) {
    return *error;
  }
  const json* nodes = nullptr;
  if (auto error = get_array(document, "nodes", "", nodes)) return *error;
  for (std::size_t i = 0; nodes != nullptr && i < nodes->size(); ++i) {
    const std::string at = item_of("nodes", i);
    const json& entry = (*nodes)[i];
    if (auto error = expect_object(entry, at)) return *error;
    ClusterNode node;
    if (auto error = get_string(entry, "id", at, node.id, Need::non_empty)) return *error;
    if (auto error = get_string(entry, "hostname", at, node.hostname)) return *error;
    if (auto error = get_string(entry, "role", at, node.role)) return *error;
    if (auto error = get_string(entry, "availability", at, node.availability)) return *error;
    if (auto error = get_string(entry, "state", at, node.state)) return *error;
    if (auto error = get_string(entry, "agent", at, node.agent)) return *error;
    if (auto error = decode_disk(entry, at, node.disk_free_bytes, node.disk_size_bytes, node.gc)) {
      return *error;
    }
    listing.nodes.push_back(std::move(node));
  }
  const json* warm = nullptr;
  if (auto error = get_array(document, "warm", "", warm)) return *error;
  for (std::size_t i = 0; warm != nullptr && i < warm->size(); ++i) {
    const std::string at = item_of("warm", i);
    const json& entry = (*warm)[i];
    if (auto error = expect_object(entry, at)) return *error;
    ListedWarm request;
    if (auto error = get_string(entry, "id", at, request.id, Need::non_empty)) return *error;
    if (auto error = get_strings(entry, "images", at, request.images)) return *error;
    if (auto error = get_number(entry, "expires_at", at, request.expires_at)) return *error;
    listing.warm.push_back(std::move(request));
  }
  return listing;
}

// ---------------------------------------------------------------------------

std::string encode_error(std::string_view message) {
  return dump({{"error", std::string(message)}});
}

std::string decode_error(std::string_view body) {
  json document;
  if (!parse(body, document) && document.is_object()) {
    if (const auto error = document.find("error"); error != document.end() && error->is_string()) {
      return printable(error->get_ref<const std::string&>(), 1000);
    }
  }
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) {
    body.remove_suffix(1);
  }
  return printable(body);
}

}  // namespace swarm_prepull::api
