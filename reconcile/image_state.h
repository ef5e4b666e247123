// The states an agent reports for each desired image (docs/agent-api.md):
// one vocabulary for the agent that reports them and the controller that reads them.
#pragma once

#include <optional>
#include <string_view>

namespace swarm_prepull::reconcile {

// held: the agent starts no pull of it for now (its engine's data root is
// below --min-free-disk, reason disk_low); not a failure, nothing was tried.
enum class ImageState { present, pulling, failed, waiting, held };

std::string_view to_string(ImageState state);
std::optional<ImageState> parse_image_state(std::string_view text);

}  // namespace swarm_prepull::reconcile
