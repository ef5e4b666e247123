// The agent API's messages arrive from the network on both sides (agents post
// status reports, anyone with the token posts a warm request; agents and
// `wait` read the controller's answers), so every decoder in api/messages.h
// gets any bytes. The first byte picks the decoder, the rest is the body.
// Checks: nothing throws or crashes, a refusal says what is wrong, and a
// decoded message survives encode -> decode unchanged (what one side writes
// the other reads back as the same message).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "api/messages.h"

namespace {

namespace api = swarm_prepull::api;

template <class T>
void check(const api::Decoded<T>& decoded, api::Decoded<T> (*decode)(std::string_view)) {
  if (!decoded) {
    // `where` may be empty: it is the path of the offending key, and a body
    // can have the key "" ({"": 1} gives ": unknown key ...").
    if (decoded.error().message.empty()) std::abort();
    return;
  }
  const auto again = decode(api::encode(*decoded));
  if (!again) std::abort();
  if (!(*again == *decoded)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      check(api::decode_desired_set(body), &api::decode_desired_set);
      break;
    case 1:
      check(api::decode_status_report(body), &api::decode_status_report);
      break;
    case 2:
      check(api::decode_warm_request(body), &api::decode_warm_request);
      break;
    case 3:
      check(api::decode_warm_answer(body), &api::decode_warm_answer);
      break;
    case 4:
      check(api::decode_images_listing(body), &api::decode_images_listing);
      break;
    case 6: {
      // GET /v1/images?refs=: what decodes, encoded and decoded again, is the same set.
      const auto refs = api::decode_refs_query(body);
      if (!refs) {
        if (refs.error().where.empty()) std::abort();
        break;
      }
      const auto again = api::decode_refs_query(
          api::encode_refs_query(std::vector<std::string>(refs->begin(), refs->end())));
      if (!again || *again != *refs) std::abort();
      break;
    }
    default:
      // An error body from anything between us and the controller: always
      // some printable text, never the raw bytes.
      for (const char c : api::decode_error(body)) {
        if (static_cast<unsigned char>(c) < 0x20) std::abort();
      }
      break;
  }
  return 0;
}
