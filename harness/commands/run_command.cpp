// attn-harness run CASE --backend NAME: run backends over a case and record each one's outputs as
// CASE/outputs/<producer>.h5 with provenance and the input hash.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "datasets/case_store.hpp"
#include "datasets/input_hash.hpp"
#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/commands/command.hpp"
#include "harness/commands/torch_commands.hpp"
#include "harness/exit_codes.hpp"
#include "harness/progress.hpp"
#include "harness/python_function.hpp"
#include "harness/ring/ring_run.hpp"
#include "harness/ring/ring_variants.hpp"
#include "datasets/atomic_output.hpp"
#include "kernels/registry.hpp"
#include "kernels/run_stability.hpp"
#include "reports/accuracy/error_budgets.hpp"
#include "reports/accuracy/gate_profile.hpp"

namespace attn::cli {
namespace {

/// How much of the room between a backend's observed error and its error budget (the default
/// profile's budgets file) the run-to-run spread takes, over its tensors; "" without budgets.
std::string budget_room_line(const kern::StabilityReport& st, const at::Device& device) {
  const std::string key = st.backend + "/" + (device.is_cpu() ? "cpu" : "cuda");
  std::shared_ptr<const report::ErrorBudgets> budgets;
  try {
    budgets = report::find_profile("bf16").budgets;
  } catch (const std::exception&) {
    return "";
  }
  if (!budgets) return "";
  if (!budgets->has(key) || !budgets->observed.count(key))
    return "  no error budget for " + key + " in " + budgets->source + "\n";
  double worst = -1;
  std::string where;
  for (const auto& t : st.tensors) {
    std::string kind = t.name;
    while (!kind.empty() && std::isdigit(static_cast<unsigned char>(kind.back()))) kind.pop_back();
    const auto budget = budgets->find(key, kind);
    const auto& obs = budgets->observed.at(key);
    if (!budget || !obs.count(kind) || !(t.max_abs > 0)) continue;
    const double room = *budget - obs.at(kind);
    const double share = room > 0 ? (t.max_spread / t.max_abs) / room : INFINITY;
    if (!(share <= worst)) worst = share, where = t.name;
  }
  if (where.empty()) return "";
  char line[256];
  std::snprintf(line, sizeof line,
                "  budget %s: the spread takes at most %.3g %% of the room between the largest "
                "calibrated error and the budget (%s)\n",
                key.c_str(), 100 * worst, where.c_str());
  return line;
}

}  // namespace

void add_run_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string path, device = "cpu", producer, stability_json;
    std::vector<std::string> backends;
    int repeat = 1;
    bool quiet = false;
    RingOptions ring;
    CLI::Option* world = nullptr;  ///< given or not
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "run", torch_command_description("run"));
  app->add_option("CASE", o->path, "case folder")->required();
  app->add_option("-b,--backend", o->backends,
                  "backend name(s), comma-separated: a C++ backend (`backends` lists them), "
                  "'all' (every C++ backend), 'flex', py:PATH.py:FUNC (your own Python "
                  "function, docs/own-implementation.md), or 'ring' / a ring mutant (with "
                  "--world; docs/ring.md)")
      ->required()
      ->delimiter(',');
  app->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  app->add_option("--as", o->producer,
                  "producer name to record under (default: the backend name; one backend only)");
  app->add_option("--repeat", o->repeat,
                  "run each backend N times on the same inputs and report how many elements "
                  "differ from the first run and the largest spread per tensor (the first run "
                  "is recorded)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app->add_option("--stability-json", o->stability_json,
                  "with --repeat: write the run-to-run variation as JSON");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");
  o->world = app->add_option("--world", o->ring.world,
                  "ring backends: the number of ranks P (processes on this host; 1 <= P <= L; "
                  "gloo on the CPU, NCCL on CUDA with one GPU per rank)");
  app->add_option("--ring-block0", o->ring.block0,
                  "ring backends: the block-0 chunk kernel: auto (PyTorch's flash kernel where "
                  "there is one), flash, or composed (explicit fp32 scores)")
      ->capture_default_str();
  app->add_option("--ring-timeout", o->ring.timeout_s,
                  "ring backends: seconds for the whole run; when it is over, or when a rank "
                  "fails, every rank is stopped")
      ->capture_default_str();

  commands.push_back({app, [o] {
    std::vector<std::shared_ptr<const kern::Backend>> chosen;
    std::vector<PythonFunction> functions;
    std::vector<std::string> ring;
    for (const std::string& name : o->backends) {
      if (name == "all") {
        for (const auto& b : kern::all_backends()) chosen.push_back(b);
      } else if (auto f = python_function_backend(name)) {
        functions.push_back(*f);
      } else if (find_ring_variant(name)) {
        ring.push_back(name);
      } else {
        chosen.push_back(kern::find_backend(name));
      }
    }
    if (!o->producer.empty() && chosen.size() + functions.size() + ring.size() != 1)
      throw data::InputError("--as names one producer: give exactly one --backend");
    if (o->repeat > 1 && !functions.empty())
      throw data::InputError("--repeat runs the C++ backends several times in one process; it "
                             "does not apply to Python functions (" + functions.front().function + ")");
    if (o->repeat > 1 && !ring.empty())
      throw data::InputError("--repeat runs the C++ backends several times in one process; it "
                             "does not apply to the ring backends (" + ring.front() + ")");
    const bool world_given = o->world->count() > 0;
    if (ring.empty() && world_given)
      throw data::InputError("--world " + std::to_string(o->ring.world) +
                             ": expected a ring backend (--backend ring), found none");
    if (!ring.empty() && !world_given)
      throw data::InputError("--backend " + ring.front() + ": expected --world P, the number of "
                             "ranks (1 <= P <= L)");
    // The ring's device is that of the Python running its ranks (the launcher counts its GPUs).
    at::Device device(at::kCPU);
    if (!chosen.empty() || !functions.empty()) device = kern::parse_device(o->device);
    const data::CaseManifest m = data::read_manifest(o->path);
    if (!ring.empty()) {
      o->ring.device = o->device;
      check_ring_request(o->ring, {{o->path, m.config.L}});
    }
    // Refuse before running anything when nothing can be recorded.
    std::vector<std::string> names;
    for (const auto& b : chosen) names.push_back(o->producer.empty() ? b->name() : o->producer);
    for (const auto& f : functions) names.push_back(o->producer.empty() ? f.producer : o->producer);
    for (const auto& r : ring) names.push_back(o->producer.empty() ? r : o->producer);
    for (const std::string& name : names) {
      const std::string why = data::record_write_blocker(
          m, std::string(data::kOutputsFolderName) + "/" + name + ".h5");
      if (!why.empty()) throw data::InputError("cannot record '" + name + "': " + why);
    }
    int python_rc = kExitOk;
    for (const auto& f : functions)
      if (run_python_function(o->path, f, o->device, o->producer) != 0) python_rc = kExitInputError;
    if (!ring.empty() && run_ring({o->path}, ring, o->producer, o->ring) != 0) python_rc = kExitInputError;
    if (chosen.empty()) return python_rc;
    const data::CaseInputs in = data::read_case_inputs(m);
    const std::string hash = data::input_hash(in);
    const kern::TorchCase on_device = kern::to_device(in, device);

    int rc = kExitOk;
    nlohmann::json stability = nlohmann::json::array();
    for (const auto& b : chosen) {
      const kern::Support s = b->supports(in.config, device);
      if (!s.ok) {
        std::cout << b->name() << " (" << o->device << "): " << s.why << "\n";
        rc = kExitInputError;
        continue;
      }
      Progress progress(b->name() + " on " + o->device, o->quiet);
      data::ProducerOutputs rec;
      rec.name = o->producer.empty() ? b->name() : o->producer;
      rec.input_hash = hash;
      kern::TorchOutputs outputs;
      if (o->repeat >= 2) {
        const kern::StabilityReport st = kern::measure_stability(*b, on_device, o->repeat, &outputs);
        stability.push_back(kern::stability_json(st));
        std::cout << kern::format_stability_text(st) << budget_room_line(st, device);
      } else {
        outputs = b->run(on_device);
      }
      rec.outputs = kern::to_host(outputs);
      rec.provenance = kern::run_provenance(*b, device, in.config, kCommit, outputs.variant);
      progress.finish();
      data::write_producer(m, rec);
      std::cout << b->name() << " (" << o->device << "): recorded as " << o->path << "/"
                << data::kOutputsFolderName << "/" << rec.name << ".h5\n";
    }
    if (!o->stability_json.empty())
      data::write_file_atomically(o->stability_json, stability.dump(2) + "\n");
    return rc != kExitOk ? rc : python_rc;
  }});
}

}  // namespace attn::cli
