// attn-harness run CASE --backend NAME: run backends over a case and record their outputs in
// the case file under /outputs/<producer>, with provenance.
#include <iostream>
#include <memory>

#include "datasets/case_file.hpp"
#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "harness/progress.hpp"
#include "kernels/registry.hpp"

namespace attn::cli {

void add_run_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string path, device = "cpu", producer;
    std::vector<std::string> backends;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "run", "Run backends over a case (forward and backward with the case's grad_out) and record "
             "their outputs in the case file. An unsupported backend is reported and skipped; "
             "the exit code is then 2, after the others have run.");
  app->add_option("CASE", o->path, "case file")->required();
  app->add_option("-b,--backend", o->backends, "backend name(s), comma-separated, or 'all'")
      ->required()
      ->delimiter(',');
  app->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  app->add_option("--as", o->producer,
                  "producer name to record under (default: the backend name; one backend only)");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");

  commands.push_back({app, [o] {
    std::vector<std::shared_ptr<const kern::Backend>> chosen;
    for (const std::string& name : o->backends) {
      if (name == "all") {
        for (const auto& b : kern::all_backends()) chosen.push_back(b);
      } else {
        chosen.push_back(kern::find_backend(name));
      }
    }
    if (!o->producer.empty() && chosen.size() != 1)
      throw data::InputError("--as names one producer: give exactly one --backend");
    const at::Device device = kern::parse_device(o->device);
    const data::CaseInputs in = data::read_case_inputs(o->path);
    const kern::TorchCase on_device = kern::to_device(in, device);

    int rc = kExitOk;
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
      const kern::TorchOutputs outputs = b->run(on_device);
      rec.outputs = kern::to_host(outputs);
      rec.provenance = kern::run_provenance(*b, device, in.config, kCommit, outputs.variant);
      progress.finish();
      data::write_producer(o->path, rec);
      std::cout << b->name() << " (" << o->device << "): recorded as /outputs/" << rec.name
                << " in " << o->path << "\n";
    }
    return rc;
  }});
}

}  // namespace attn::cli
