// attn-harness reference CASE: compute (or confirm) the cached fp64 reference of a case.
#include <iostream>
#include <memory>

#include "datasets/case_store.hpp"
#include "datasets/input_hash.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "harness/reference_cache.hpp"

namespace attn::cli {

void add_reference_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string path;
    ReferenceOptions ref;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "reference", "Compute the fp64 reference (forward and every gradient) and cache it in the "
                   "case folder (reference.h5), tied to the inputs by their hash. A case that "
                   "cannot be written (a bundle, a read-only folder) gets it computed, not cached.");
  app->add_option("CASE", o->path, "case folder or bundle")->required();
  app->add_flag("--force", o->ref.force, "recompute even if the cached reference is current");
  app->add_option("--form", o->ref.form, "structured (fast, O(L*tile) memory) or dense (explicit mask)")
      ->capture_default_str();
  app->add_option("--threads", o->ref.threads, "worker threads (0: the OpenMP default, fewer for tiny cases)")->capture_default_str();
  app->add_flag("-q,--quiet", o->ref.quiet, "no progress on stderr");

  commands.push_back({app, [o] {
                        const data::CaseManifest m = data::read_manifest(o->path);
                        const data::CaseInputs in = data::read_case_inputs(m);
                        const std::string hash = data::input_hash(in);
                        // A current cache is confirmed from the hashes alone (not read).
                        if (!o->ref.force && m.reference &&
                            data::record_state(*m.reference, hash) == data::RecordState::current) {
                          std::cout << "reference of " << o->path << " is current (input hash "
                                    << hash << "); --force recomputes\n";
                          return int(kExitOk);
                        }
                        const ReferenceResult r = ensure_reference(m, in, hash, o->ref);
                        if (!r.computed)
                          std::cout << "reference of " << o->path << " is current (input hash "
                                    << hash << "); --force recomputes\n";
                        else if (r.cached)
                          std::cout << "reference computed in " << r.seconds << " s and cached in "
                                    << o->path << " (input hash " << hash << ")\n";
                        else
                          std::cout << "reference computed in " << r.seconds
                                    << " s, not cached: " << r.not_cached << "\n";
                        return int(kExitOk);
                      }});
}

}  // namespace attn::cli
