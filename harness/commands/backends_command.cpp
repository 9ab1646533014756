// attn-harness backends: what this build offers, and why an entry is missing.
#include <iomanip>
#include <iostream>
#include <memory>

#include "datasets/case_store.hpp"
#include "harness/commands/command.hpp"
#include "harness/commands/torch_commands.hpp"
#include "harness/exit_codes.hpp"
#include "harness/python_function.hpp"
#include "harness/ring/ring_variants.hpp"
#include "kernels/mutants.hpp"
#include "kernels/registry.hpp"

namespace attn::cli {

void add_backends_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string case_path;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "backends", torch_command_description("backends"));
  app->add_option("--case", o->case_path, "judge support for this case (folder or bundle)");

  commands.push_back({app, [o] {
    data::CaseConfig config;
    const bool have_case = !o->case_path.empty();
    if (have_case) config = data::read_manifest(o->case_path).config;
    std::cout << "CUDA: " << (kern::cuda_available() ? "available" : "not available (no device or CPU-only build)")
              << "\n";
    std::cout << "Backends:\n";
    for (const auto& b : kern::all_backends()) {
      std::cout << "  " << std::left << std::setw(12) << b->name() << " invalid rows: "
                << std::setw(12) << kern::to_string(b->invalid_rows()) << b->description() << "\n";
      for (const char* dev : {"cpu", "cuda"}) {
        if (std::string(dev) == "cuda" && !kern::cuda_available()) {
          std::cout << "      cuda: missing: no CUDA device in this process\n";
          continue;
        }
        if (!have_case) continue;
        const kern::Support s = b->supports(config, kern::parse_device(dev));
        std::cout << "      " << dev << ": " << (s.ok ? "supports this case" : s.why) << "\n";
      }
    }
    std::cout << "Python functions (run in " << python_interpreter() << "; never in `run --backend all`):\n"
              << "  flex                 torch.compile(flex_attention) with the TTT block mask "
                 "(kernels/flex/flex_function.py:flex_ttt); CPU: forward only\n"
              << "  py:PATH.py:FUNC      your own function FUNC(q, k, v, valid_len, scale) -> out or "
                 "(out, lse) (docs/own-implementation.md)\n";
    std::cout << "Ring (sequence-parallel over P ranks of torch.distributed, Python in "
              << python_interpreter() << "; `run --backend ring --world P`, docs/ring.md; the "
                 "mutants are for `selftest --ring P`):\n";
    for (const RingVariant& v : ring_variants())
      std::cout << "  " << std::left << std::setw(30) << v.name << v.summary
                << (v.invisible_when.empty() ? "" : " [invisible when " + v.invisible_when + "]") << "\n";
    std::cout << "Mutants (defective variants of flash for `attn-harness selftest`; never in "
                 "`run --backend all`; support as flash):\n";
    for (const auto& b : kern::mutant_backends()) {
      const kern::MutantInfo* m = kern::find_mutant(b->name());
      std::cout << "  " << std::left << std::setw(30) << b->name() << " seen by: "
                << std::setw(18) << (m ? kern::to_string(m->seen) : "gate")
                << (m ? m->summary : b->description())
                << (m && !m->invisible_when.empty() ? " [invisible when " + m->invisible_when + "]" : "")
                << "\n";
    }
    return int(kExitOk);
  }});
}

}  // namespace attn::cli
