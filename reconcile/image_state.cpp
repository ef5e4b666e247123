#include "reconcile/image_state.h"

#include <array>
#include <utility>

namespace swarm_prepull::reconcile {
namespace {

constexpr std::array<std::pair<ImageState, std::string_view>, 5> names = {{
    {ImageState::present, "present"},
    {ImageState::pulling, "pulling"},
    {ImageState::failed, "failed"},
    {ImageState::waiting, "waiting"},
    {ImageState::held, "held"},
}};

}  // namespace

std::string_view to_string(ImageState state) {
  for (const auto& [value, name] : names) {
    if (value == state) return name;
  }
  return "waiting";
}

std::optional<ImageState> parse_image_state(std::string_view text) {
  for (const auto& [value, name] : names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

}  // namespace swarm_prepull::reconcile
