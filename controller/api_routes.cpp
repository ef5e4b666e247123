// The controller's route table (docs/agent-api.md): every route with its
// methods and who may call it. Only /healthz (GET, HEAD: load balancers probe
// with HEAD), /metrics (GET) and the status page / (GET, unless
// --status-page token or off) are public; every other route, and every path
// that is no route at all, needs the agents' bearer token (http/server.h
// decides that before routing, on the one parse of the target).
#include "controller/controller.h"

namespace swarm_prepull::controller {

http::Router Controller::routes() {
  using http::Access;
  using http::verb;
  const auto to = [this](auto member) {
    return [this, member](const http::RequestContext& context) { return (this->*member)(context); };
  };
  http::Router router;
  router.add({{verb::get, verb::head}, "/healthz", Access::public_, to(&Controller::get_healthz)});
  router.add({{verb::get}, "/metrics", Access::public_, to(&Controller::get_metrics)});
  router.add(
      {{verb::get}, "/v1/nodes/{node_id}/desired", Access::token, to(&Controller::get_desired)});
  router.add(
      {{verb::post}, "/v1/nodes/{node_id}/status", Access::token, to(&Controller::post_status)});
  router.add({{verb::get}, "/v1/images", Access::token, to(&Controller::get_images)});
  router.add({{verb::post}, "/v1/warm", Access::token, to(&Controller::post_warm)});
  // The status page: public like /metrics unless --status-page says otherwise.
  if (options_.status_page != StatusPage::off) {
    router.add({{verb::get},
                "/",
                options_.status_page == StatusPage::open ? Access::public_ : Access::token,
                to(&Controller::get_status_page)});
  }
  return router;
}

net::awaitable<http::Response> Controller::get_healthz(const http::RequestContext& context) {
  if (!state_.has_plan()) {
    co_return http::make_response(context.request, http::status::service_unavailable,
                                  "no reconcile has completed yet\n", "text/plain");
  }
  co_return http::make_response(context.request, http::status::ok, "ok\n", "text/plain");
}

net::awaitable<http::Response> Controller::get_metrics(const http::RequestContext& context) {
  update_agent_metrics(false);
  if (readiness_stale_) update_readiness_metrics();
  co_return metrics::metrics_response(registry_, context.request);
}

}  // namespace swarm_prepull::controller
