#include "api/error.h"

#include <string>

namespace swarm_prepull::api {
namespace {

class ApiCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "swarm-prepull agent API"; }
  std::string message(int value) const override {
    switch (static_cast<api_errc>(value)) {
      case api_errc::unauthorized:
        return "the controller refused the token";
      case api_errc::not_found:
        return "not found";
      case api_errc::rejected:
        return "the controller refused the request";
      case api_errc::too_many_requests:
        return "too many requests";
      case api_errc::unavailable:
        return "the controller is not ready";
      case api_errc::server_error:
        return "controller error";
      case api_errc::unreachable:
        return "controller unreachable";
      case api_errc::timeout:
        return "no answer in time";
      case api_errc::bad_response:
        return "malformed answer";
      case api_errc::cancelled:
        return "cancelled";
      case api_errc::invalid_url:
        return "invalid controller URL";
      case api_errc::forbidden:
        return "the controller refused this caller";
    }
    return "unknown agent API error " + std::to_string(value);
  }
};

api_errc from_status(unsigned status) {
  if (status == 401) return api_errc::unauthorized;
  if (status == 403) return api_errc::forbidden;
  if (status == 404) return api_errc::not_found;
  if (status == 429) return api_errc::too_many_requests;
  if (status == 503) return api_errc::unavailable;
  if (status >= 500) return api_errc::server_error;
  return api_errc::rejected;
}

}  // namespace

const boost::system::error_category& api_category() noexcept {
  static const ApiCategory category;
  return category;
}

boost::system::error_code make_error_code(api_errc code) noexcept {
  return {static_cast<int>(code), api_category()};
}

Error controller_error(Error error) {
  if (error.code.category() != http::http_category()) return error;
  switch (static_cast<http::errc>(error.code.value())) {
    case http::errc::status:
      error.code = make_error_code(from_status(error.status));
      break;
    case http::errc::unavailable:
    case http::errc::connection_lost:
      error.code = make_error_code(api_errc::unreachable);
      break;
    case http::errc::timeout:
      error.code = make_error_code(api_errc::timeout);
      break;
    case http::errc::cancelled:
      error.code = make_error_code(api_errc::cancelled);
      break;
    case http::errc::invalid_address:
      error.code = make_error_code(api_errc::invalid_url);
      break;
    case http::errc::too_large:
    case http::errc::bad_response:
    case http::errc::bad_request:
      error.code = make_error_code(api_errc::bad_response);
      break;
  }
  return error;
}

}  // namespace swarm_prepull::api
