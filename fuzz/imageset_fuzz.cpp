// Image-set documents come from swarm configs anyone with manager access can
// create: any bytes must give a set or an error that says something, through
// the whole path the controller takes (yaml-cpp or nlohmann, then the decoder).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "compose/imageset_document.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto set = swarm_prepull::compose::read_imageset(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!set && set.error().message.empty()) std::abort();
  return 0;
}
