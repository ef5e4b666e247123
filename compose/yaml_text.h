// What every YAML text read in compose/ goes through before yaml-cpp sees it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace swarm_prepull::compose {

struct ControlCharacter {
  std::size_t line = 0;    // 1-based
  std::size_t column = 0;  // 1-based, in bytes
  std::string what;        // "control character 0x00 (YAML allows none)"
};

// The first C0 control character other than tab, line feed and carriage
// return, or DEL: YAML 1.2 (5.1) allows none. Refusing them first also keeps
// yaml-cpp 0.7 off a path where, on a NUL among other bytes, it reports
// documents forever (LoadAll never returns).
std::optional<ControlCharacter> find_control_character(std::string_view text);

}  // namespace swarm_prepull::compose
