// The engine's answers are decoded the way engine::Client decodes them: the
// body parsed as JSON, then a list of nodes, services, tasks, configs or
// images, an event line, a saved snapshot, or an error body's message. A
// compromised or buggy engine (or a proxy in front of it) must give an error,
// not a crash. The first byte picks the decoder, the rest is the body.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "engine/error.h"
#include "reconcile/snapshot.h"
#include "reconcile/swarm.h"

namespace {

namespace reconcile = swarm_prepull::reconcile;
using nlohmann::json;

template <class T>
void list(const json& body, reconcile::Decoder<T> decode) {
  const auto decoded = reconcile::decode_list(body, decode);
  if (!decoded && decoded.error().message.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const unsigned which = data[0] % 9;
  if (which == 7) {
    const auto snapshot = reconcile::parse_snapshot(text);
    if (!snapshot && snapshot.error().message.empty()) std::abort();
    return 0;
  }
  if (which == 8) {
    (void)swarm_prepull::engine::engine_message(text);
    return 0;
  }
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception&) {
    // engine/client.cpp's parse_json turns every nlohmann exception into its
    // "invalid JSON: ..." error (it once caught parse_error only, and "1e400"
    // escaped as out_of_range: fuzz/corpus/engine_response_fuzz/regression-1e400).
    return 0;
  }
  switch (which) {
    case 0:
      list(body, &reconcile::decode_node);
      break;
    case 1:
      list(body, &reconcile::decode_service);
      break;
    case 2:
      list(body, &reconcile::decode_task);
      break;
    case 3:
      list(body, &reconcile::decode_config);
      break;
    case 4:
      list(body, &reconcile::decode_image);
      break;
    case 5: {
      const auto event = reconcile::decode_event(body);
      if (!event && event.error().message.empty()) std::abort();
      break;
    }
    default: {
      const auto snapshot = reconcile::decode_snapshot(body);
      if (!snapshot && snapshot.error().message.empty()) std::abort();
      break;
    }
  }
  return 0;
}
