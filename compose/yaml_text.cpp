#include "compose/yaml_text.h"

namespace swarm_prepull::compose {

std::optional<ControlCharacter> find_control_character(std::string_view text) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r') || byte == 0x7F) {
      static constexpr char hex[] = "0123456789ABCDEF";
      return ControlCharacter{line, column,
                              std::string("control character 0x") + hex[byte >> 4] +
                                  hex[byte & 0xF] + " (YAML allows none)"};
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::nullopt;
}

}  // namespace swarm_prepull::compose
