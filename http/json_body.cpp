#include "http/json_body.h"

namespace swarm_prepull::http {

Result<nlohmann::json> parse_json_body(std::string_view body, std::string_view what) {
  const auto fail = [&](std::string message) {
    return Error{make_error_code(errc::bad_request),
                 {},
                 {},
                 400,
                 std::string(what) + ": " + std::move(message)};
  };
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& error) {
    // nlohmann's message says what broke and where ("syntax error while parsing
    // value - invalid string: ill-formed UTF-8 byte; last read: ..."); the raw
    // bytes it quotes are replaced when the error is dumped into a response.
    return fail("malformed JSON at byte " + std::to_string(error.byte) + ": " + error.what());
  } catch (const nlohmann::json::out_of_range& error) {
    return fail(std::string("a number out of range: ") + error.what());
  } catch (const nlohmann::json::exception& error) {
    return fail(std::string("malformed JSON: ") + error.what());
  }
}

}  // namespace swarm_prepull::http
