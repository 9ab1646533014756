// attn-harness pack / unpack / migrate: between case folders (what attn-harness records into)
// and single-file bundles (for sharing and fixtures), and from the schema-1 single-file format.
#include <iostream>
#include <memory>

#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"
#include "datasets/input_hash.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"

namespace attn::cli {
namespace {

struct CopyOptions {
  std::string from, to;
  bool to_bundle = false;
  bool stamp_unverified = false;  ///< migrate: records without an input hash get the inputs'
  std::string command;            ///< for messages
};

/// Copies a case's inputs and its usable records into a new folder or bundle. Stale and
/// damaged records are left out and named; records without an input hash (schema 1) are
/// stamped with the inputs' hash when `stamp_unverified`, else left out.
int copy_case(const CopyOptions& o) {
  const data::CaseManifest m = data::read_manifest(o.from);
  const data::CaseInputs in = data::read_case_inputs(m);
  const std::string hash = data::input_hash(in);
  std::vector<data::ProducerOutputs> producers;
  std::optional<data::ProducerOutputs> reference;
  std::vector<std::string> left_out;
  auto take = [&](const data::RecordInfo& r) -> std::optional<data::ProducerOutputs> {
    const data::RecordState s = data::record_state(r, hash);
    if (s == data::RecordState::damaged || s == data::RecordState::stale ||
        (s == data::RecordState::unverified && !o.stamp_unverified)) {
      left_out.push_back(r.name + " (" + data::to_string(s) +
                         (s == data::RecordState::unverified ? ": `attn-harness migrate` ties it to the inputs" : "") + ")");
      return std::nullopt;
    }
    return data::ProducerOutputs{r.name, r.provenance, hash, data::read_record(m, r)};
  };
  if (m.reference) reference = take(*m.reference);
  for (const data::RecordInfo& r : m.producers)
    if (auto p = take(r)) producers.push_back(std::move(*p));

  if (o.to_bundle) {
    data::write_bundle(o.to, in, producers, reference ? &*reference : nullptr);
  } else {
    data::write_case(o.to, in);
    const data::CaseManifest out = data::read_manifest(o.to);
    if (reference) data::write_reference(out, *reference);
    for (const auto& p : producers) data::write_producer(out, p);
  }
  std::cout << o.command << ": wrote " << o.to << " (" << (o.to_bundle ? "bundle" : "case folder")
            << ") with the inputs (hash " << hash << ")" << (reference ? ", the reference" : "");
  if (!producers.empty()) {
    std::cout << " and " << producers.size() << " producer(s):";
    for (const auto& p : producers) std::cout << " " << p.name;
  }
  std::cout << "\n";
  for (const std::string& l : left_out) std::cout << "  left out: " << l << "\n";
  return kExitOk;
}

}  // namespace

void add_case_file_commands(CLI::App& root, std::vector<Command>& commands) {
  {
    auto o = std::make_shared<CopyOptions>();
    o->command = "pack";
    o->to_bundle = true;
    CLI::App* app = root.add_subcommand(
        "pack", "Write a case folder as one HDF5 file (a bundle, gzip-compressed) for sharing or "
                "as a test fixture: the inputs, the current reference and every current producer. "
                "Stale or damaged records are left out and named.");
    app->add_option("CASE", o->from, "case folder (or bundle)")->required();
    app->add_option("-o,--output", o->to, "bundle file to write")->required();
    commands.push_back({app, [o] { return copy_case(*o); }});
  }
  {
    auto o = std::make_shared<CopyOptions>();
    o->command = "unpack";
    CLI::App* app = root.add_subcommand(
        "unpack", "Write a bundle as a case folder (inputs.h5, reference.h5, outputs/<name>.h5), "
                  "which attn-harness can record into. Records without an input hash (a schema-1 "
                  "file) are left out: `migrate` keeps them.");
    app->add_option("BUNDLE", o->from, "bundle file")->required();
    app->add_option("-o,--output", o->to, "case folder to write")->required();
    commands.push_back({app, [o] { return copy_case(*o); }});
  }
  {
    auto o = std::make_shared<CopyOptions>();
    o->command = "migrate";
    o->stamp_unverified = true;
    CLI::App* app = root.add_subcommand(
        "migrate", "Convert a schema-1 case file (one file, records without an input hash) into "
                   "a case folder, or with --bundle a schema-2 bundle. Its records are tied to its "
                   "inputs: running this states that they were computed from them.");
    app->add_option("FILE", o->from, "schema-1 case file")->required();
    app->add_option("-o,--output", o->to, "case folder (or bundle with --bundle) to write")->required();
    app->add_flag("--bundle", o->to_bundle, "write a bundle instead of a folder");
    commands.push_back({app, [o] { return copy_case(*o); }});
  }
}

}  // namespace attn::cli
