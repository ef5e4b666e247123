#include "api/controller_client.h"

#include "http/url.h"

namespace swarm_prepull::api {

namespace net = boost::asio;

Result<ControllerUrl> parse_controller_url(std::string_view url) {
  auto parsed = http::parse_http_url(url);
  if (!parsed) return controller_error(std::move(parsed).error());
  return parsed;
}

ControllerClient::ControllerClient(ControllerClientOptions options)
    : options_(std::move(options)),
      client_(options_.url.endpoint, http::Limits{.timeout = options_.request_timeout,
                                                  .header_limit = 16 * 1024,
                                                  .body_limit = options_.body_limit}) {}

ControllerClient::~ControllerClient() = default;

net::awaitable<Result<http::Reply>> ControllerClient::exchange(http::verb method, std::string path,
                                                               std::string query, std::string body,
                                                               std::chrono::milliseconds timeout) {
  http::Request request{method, options_.url.base_path + path + query, 11};
  request.set(http::field::user_agent, options_.user_agent);
  request.set(http::field::accept, "application/json");
  if (!options_.token.empty()) {
    request.set(http::field::authorization, "Bearer " + options_.token);
  }
  if (method == http::verb::post) {
    request.set(http::field::content_type, "application/json");
    request.body() = std::move(body);
  }
  request = client_.prepare(std::move(request));
  http::Call call = client_.call_for(request);
  http::Limits limits = client_.limits();
  limits.timeout = timeout;
  auto reply = co_await client_.request(std::move(call), std::move(request), limits);
  if (!reply) co_return controller_error(std::move(reply).error());
  co_return std::move(*reply);
}

namespace {

// The 2xx body of `reply` as the message `decode` reads, or bad_response
// naming where it is wrong.
template <class Message>
Result<Message> decode_reply(const http::Reply& reply, Decoded<Message> (*decode)(std::string_view),
                             const http::Call& call) {
  auto message = decode(reply.body);
  if (!message) {
    return call.fail(make_error_code(api_errc::bad_response), message.error().to_string(),
                     reply.status);
  }
  return std::move(*message);
}

}  // namespace

net::awaitable<Result<DesiredSet>> ControllerClient::desired(std::uint64_t after) {
  const std::string path = "/v1/nodes/" + http::percent_encode(options_.node_id) + "/desired";
  const std::string query =
      "?after=" + std::to_string(after) + "&wait=" + std::to_string(options_.wait.count());
  auto reply =
      co_await exchange(http::verb::get, path, query, {}, options_.wait + options_.request_timeout);
  if (!reply) co_return reply.error();
  co_return decode_reply(
      *reply, decode_desired_set,
      http::Call{options_.url.endpoint.to_string(), "GET " + options_.url.base_path + path});
}

net::awaitable<Result<void>> ControllerClient::post_status(const StatusReport& report) {
  const std::string path = "/v1/nodes/" + http::percent_encode(options_.node_id) + "/status";
  auto reply =
      co_await exchange(http::verb::post, path, {}, encode(report), options_.request_timeout);
  if (!reply) co_return reply.error();
  co_return Result<void>{};
}

net::awaitable<Result<WarmAnswer>> ControllerClient::warm(
    const WarmRequest& request, std::optional<std::chrono::milliseconds> timeout) {
  auto reply = co_await exchange(http::verb::post, "/v1/warm", {}, encode(request),
                                 timeout.value_or(options_.request_timeout));
  if (!reply) co_return reply.error();
  co_return decode_reply(
      *reply, decode_warm_answer,
      http::Call{options_.url.endpoint.to_string(), "POST " + options_.url.base_path + "/v1/warm"});
}

std::string ControllerClient::images_query(const std::vector<std::string>& refs) {
  // What a reference holds stays as it is where RFC 3986 allows it in a query.
  return "?refs=" + http::percent_encode(encode_refs_query(refs), ",:/@");
}

net::awaitable<Result<ImagesListing>> ControllerClient::images(
    std::optional<std::chrono::milliseconds> timeout, const std::vector<std::string>& refs) {
  std::string query;
  if (!refs.empty()) {
    query = images_query(refs);
    const std::string_view path = "/v1/images";
    if (options_.url.base_path.size() + path.size() + query.size() > max_refs_target) {
      query.clear();
    }
  }
  auto reply = co_await exchange(http::verb::get, "/v1/images", std::move(query), {},
                                 timeout.value_or(options_.request_timeout));
  if (!reply) co_return reply.error();
  co_return decode_reply(*reply, decode_images_listing,
                         http::Call{options_.url.endpoint.to_string(),
                                    "GET " + options_.url.base_path + "/v1/images"});
}

}  // namespace swarm_prepull::api
