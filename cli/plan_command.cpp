#include <nlohmann/json.hpp>
#include <ostream>
#include <variant>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/plan_output.h"
#include "compose/imageset_document.h"
#include "compose/stack_files.h"
#include "reconcile/explain.h"
#include "reconcile/plan.h"
#include "reconcile/reference.h"
#include "reconcile/snapshot.h"

namespace swarm_prepull::cli {
namespace {

// A snapshot of a 1,000-node, 10,000-service swarm is tens of MiB.
constexpr std::size_t snapshot_limit = 512 * 1024 * 1024;

std::vector<OptionSpec> plan_option_specs() {
  std::vector<OptionSpec> specs = {
      {.name = "format",
       .value_name = "FORMAT",
       .help = "table (for people) or json",
       .default_value = "table",
       .choices = {"table", "json"}},
      {.name = "snapshot",
       .value_name = "FILE",
       .help = "read {\"nodes\",\"services\",\"configs\"} from FILE instead of the engine"},
      {.name = "explain",
       .value_name = "IMAGE",
       .help = "for every node, whether IMAGE goes there and, if not, the first rule that keeps "
               "it away"},
  };
  for (auto& spec : engine_option_specs()) specs.push_back(std::move(spec));
  return specs;
}

// Three list calls on a manager; a worker answers 503 "This node is not a
// swarm manager", which is reported as the engine says it.
reconcile::Expected<reconcile::Snapshot> read_engine(engine::Client& client) {
  // co_spawn on Boost 1.81 default-constructs the coroutine's result, which
  // reconcile::Expected is not; a variant whose first member is can carry it.
  using Outcome = std::variant<reconcile::Snapshot, reconcile::Error>;
  auto outcome = engine::run_blocking([&]() -> boost::asio::awaitable<Outcome> {
    if (auto version = co_await client.negotiate(); !version) {
      co_return reconcile::Error{version.error().to_string()};
    }
    auto nodes = co_await client.nodes();
    if (!nodes) co_return reconcile::Error{nodes.error().to_string()};
    auto services = co_await client.services();
    if (!services) co_return reconcile::Error{services.error().to_string()};
    auto configs = co_await client.configs();
    if (!configs) co_return reconcile::Error{configs.error().to_string()};
    // No tasks: which are starting does not change the plan.
    co_return reconcile::Snapshot{
        std::move(nodes).value(), std::move(services).value(), std::move(configs).value(), {}};
  }());
  if (auto* error = std::get_if<reconcile::Error>(&outcome)) return std::move(*error);
  return std::get<reconcile::Snapshot>(std::move(outcome));
}

reconcile::Expected<reconcile::Snapshot> read_input(const ParsedOptions& options,
                                                    const CommandIo& io) {
  if (const std::string path = options.get("snapshot"); !path.empty()) {
    auto text = compose::read_text_file(path, snapshot_limit);
    if (!text) return text.error();
    auto snapshot = reconcile::parse_snapshot(*text);
    if (!snapshot) return reconcile::Error{"snapshot " + path + ": " + snapshot.error().message};
    return snapshot;
  }
  auto client = make_engine_client(options, io.environment);
  if (!client) return client.error();
  return read_engine(**client);
}

}  // namespace

int run_plan(const std::vector<std::string>& args, const CommandIo& io) {
  const auto specs = plan_option_specs();
  auto options = parse_options(specs, args, io.environment);
  if (!options) {
    io.err << "swarm-prepull plan: " << options.error().message << "\n";
    return exit_usage;
  }
  if (options->help) {
    io.out << "Usage: swarm-prepull plan [OPTIONS]\n\n"
              "Prints the images every node should hold, and which services want each, as the\n"
              "controller computes them (swarm's placement rules; see docs/plan.md).\n"
              "With --explain IMAGE: for every node, whether IMAGE goes there and, if not,\n"
              "which of swarm's rules keeps it away.\n\n"
              "Options:\n"
           << format_options_help(specs);
    return exit_ok;
  }
  if (!options->positional.empty()) {
    io.err << "swarm-prepull plan: unexpected argument '" << options->positional.front() << "'\n";
    return exit_usage;
  }
  // A bad IMAGE is a bad command line: say so before asking the engine.
  const std::string image = options->get("explain");
  if (auto reference = reconcile::parse_reference(image); !image.empty() && !reference) {
    io.err << "swarm-prepull plan: --explain: " << reference.error().message << "\n";
    return exit_usage;
  }
  auto snapshot = read_input(*options, io);
  if (!snapshot) {
    io.err << "swarm-prepull plan: " << snapshot.error().message << "\n";
    return exit_input;
  }
  // Image-set configs are read (YAML or JSON) here, before reconcile/.
  const auto sets = compose::image_sets(snapshot->configs);
  const bool json = options->get("format") == "json";
  if (!image.empty()) {
    auto explanation = reconcile::explain_image(image, snapshot->nodes, snapshot->services, sets);
    if (!explanation) {
      io.err << "swarm-prepull plan: --explain: " << explanation.error().message << "\n";
      return exit_usage;
    }
    if (json) {
      io.out << explanation_to_json(*explanation).dump() << "\n";
    } else {
      io.out << format_explanation_table(*explanation);
    }
    return exit_ok;
  }
  const auto plan = reconcile::desired_images(snapshot->nodes, snapshot->services, sets);
  if (json) {
    io.out << plan_to_json(plan).dump() << "\n";
  } else {
    io.out << format_plan_table(plan);
  }
  return exit_ok;
}

}  // namespace swarm_prepull::cli
