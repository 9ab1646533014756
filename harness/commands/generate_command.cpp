// attn-harness generate: write a synthetic case (datasets/generator.hpp) as a folder or a bundle.
#include <iostream>
#include <memory>

#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"
#include "harness/progress.hpp"
#include "datasets/generator.hpp"
#include "datasets/presets.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"

namespace attn::cli {

void add_generate_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string output, dtype = "bf16";
    data::GeneratorSpec spec;
    bool bundle = false, quiet = false;
  };
  auto o = std::make_shared<Options>();
  std::string presets;
  for (const auto& p : data::model_presets())
    presets += "\n  " + p.name + ": H " + std::to_string(p.heads) + ", Hkv " +
               std::to_string(p.kv_heads) + ", D " + std::to_string(p.head_dim);

  CLI::App* app = root.add_subcommand(
      "generate", "Write a synthetic TTT case (realistic q/k/v/grad_out): a case folder holding "
                  "inputs.h5, or with --bundle a single HDF5 file.\n"
                  "Presets:" + presets + "\n  custom: give --heads, --kv-heads and --head-dim");
  app->add_option("-o,--output", o->output,
                  "case folder to write (created; its inputs.h5 is replaced atomically)")->required();
  app->add_flag("--bundle", o->bundle, "write a single-file bundle (for sharing) instead of a folder");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");
  app->add_option("--preset", o->spec.preset, "model preset or 'custom'")->capture_default_str();
  app->add_option("--heads", o->spec.heads, "query heads H (overrides the preset)");
  app->add_option("--kv-heads", o->spec.kv_heads, "key/value heads Hkv (overrides the preset)");
  app->add_option("--head-dim", o->spec.head_dim, "head dimension D (overrides the preset)");
  app->add_option("--seq", o->spec.seq, "sequence length L")->capture_default_str();
  app->add_option("--ttt-step", o->spec.ttt_step, "TTT step t (cache blocks 0..t), 0..T-1")
      ->capture_default_str();
  app->add_option("--batch", o->spec.batch, "batch size B")->capture_default_str();
  app->add_option("--pad", o->spec.pad,
                  "right padding per batch element (one value for all, or B values)")
      ->delimiter(',');
  app->add_option("--dtype", o->dtype, "bf16, f32 or f64")->capture_default_str();
  app->add_option("--seed", o->spec.seed, "random seed (same seed, same bytes on every machine)")
      ->capture_default_str();
  app->add_option("--rope-theta", o->spec.rope_theta, "RoPE base (default: the preset's)");
  app->add_option("--logit-std", o->spec.logit_std,
                  "temperature: std of s*q.k over ordinary channels")->capture_default_str();
  app->add_option("--outlier-channels", o->spec.outlier_channels,
                  "large-magnitude key channels per kv head")->capture_default_str();
  app->add_option("--outlier-gain", o->spec.outlier_gain,
                  "their magnitude relative to ordinary channels")->capture_default_str();
  app->add_option("--grad-scale", o->spec.grad_scale, "std of grad_out")->capture_default_str();

  commands.push_back({app, [o] {
                        o->spec.dtype = data::parse_dtype(o->dtype);
                        const std::string& out = o->output;
                        if (!o->bundle && out.size() > 3 && out.compare(out.size() - 3, 3, ".h5") == 0)
                          throw data::InputError(
                              "-o " + out + ": a case is a folder (write it with -o " +
                              out.substr(0, out.size() - 3) + "); --bundle writes a single-file "
                              "bundle");
                        Progress progress("generate", o->quiet);
                        const data::CaseInputs c = data::generate_case(o->spec);
                        if (o->bundle)
                          data::write_bundle(out, c, {}, nullptr);
                        else
                          data::write_case(out, c);
                        progress.finish();
                        const auto& k = c.config;
                        std::cout << "wrote " << o->output << ": " << c.generator->preset
                                  << " B=" << k.B << " H=" << k.H << " Hkv=" << k.Hkv
                                  << " L=" << k.L << " D=" << k.D << " t=" << k.t << " "
                                  << data::to_string(k.dtype) << " seed " << o->spec.seed
                                  << "\n";
                        return int(kExitOk);
                      }});
}

}  // namespace attn::cli
