#include "harness/selftest/ring_selftest.hpp"

#include <ftw.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"
#include "datasets/generator.hpp"
#include "harness/ring/ring_variants.hpp"
#include "harness/selftest/case_runner.hpp"
#include "harness/selftest/selftest_run.hpp"
#include "kernels/registry.hpp"

namespace attn::cli::selftest {
namespace {

namespace fs = std::filesystem;

/// A fresh folder under the system's temporary directory, removed with everything in it.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (fs::temp_directory_path() / "attn-ring-selftest-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      throw data::InputError("cannot create a temporary folder " + pattern + " for the ring self-test");
    path_ = pattern;
  }
  // nftw rather than std::filesystem::remove_all: in a binary linked with LibTorch the latter
  // resolves to libtorch.so's own copy, which crashes (torch 2.11 wheel).
  ~TempFolder() {
    ::nftw(path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); },
           16, FTW_DEPTH | FTW_PHYS);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// The record `producer` of a case folder's manifest, as a producer to judge.
data::ProducerOutputs read_producer(const data::CaseManifest& m, const std::string& producer) {
  const data::RecordInfo* r = m.find_producer(producer);
  if (!r) throw data::InputError(producer + " recorded nothing in " + m.path.string());
  if (!r->damage.empty()) throw data::InputError(producer + "'s record is damaged: " + r->damage);
  data::ProducerOutputs p;
  p.name = producer;
  p.provenance = r->provenance;
  p.input_hash = r->input_hash;
  p.outputs = data::read_record(m, *r);
  return p;
}

}  // namespace

RingSelftestPlan default_ring_plan(const RingOptions& ring) {
  RingSelftestPlan p;
  p.cases = default_suite();
  p.ring = ring;
  p.baseline = kern::find_backend("sdpa");
  for (const RingVariant& v : ring_variants()) p.variants.push_back(v.name);
  p.default_profile = report::find_profile("bf16");
  p.first_rule_profile = report::find_profile("bf16-offset-floor");
  p.budget_key = "ring/" + ring.device;
  return p;
}

DetectionMatrix run_ring_selftest(const RingSelftestPlan& plan,
                                  const std::function<void(int64_t, int64_t)>& progress) {
  if (!plan.baseline) throw data::InputError("ring selftest: no baseline backend");
  if (plan.variants.empty() || plan.variants.front() != "ring")
    throw data::InputError("ring selftest: the first variant must be ring");
  const at::Device device = kern::parse_device(plan.ring.device);
  DetectionMatrix m;
  m.device = plan.ring.device + " (ring, world " + std::to_string(plan.ring.world) + ", " +
             (plan.ring.device == "cuda" ? "nccl" : "gloo") + ", block 0 " + plan.ring.block0 + ")";
  m.baseline = plan.baseline->name();
  m.default_profile = plan.default_profile.name;
  m.first_rule_profile = plan.first_rule_profile.name;
  m.budgets = plan.default_profile.budgets && plan.default_profile.budgets->has(plan.budget_key)
                  ? plan.default_profile.budgets->source
                  : "";
  for (const std::string& name : plan.variants) {
    const RingVariant* info = find_ring_variant(name);
    if (!info) throw data::InputError("ring selftest: not a ring backend: " + name);
    VariantRow r;
    r.name = name;
    r.expect = info->mutant() ? Expect::gate : Expect::pass;
    if (info->mutant()) r.summary = info->summary, r.invisible_when = info->invisible_when;
    m.rows.push_back(std::move(r));
  }

  TempFolder work;
  std::vector<std::string> folders;
  std::vector<std::pair<std::string, int64_t>> lengths;
  for (size_t i = 0; i < plan.cases.size(); ++i) {
    const fs::path folder = work.path() / ("c" + std::to_string(i + 1) + "-" + plan.cases[i].name);
    data::write_case(folder, data::generate_case(plan.cases[i].spec));
    folders.push_back(folder.string());
    lengths.emplace_back(folder.string(), plan.cases[i].spec.seq);
  }
  check_ring_request(plan.ring, lengths);
  std::string launch_error;
  try {
    if (run_ring(folders, plan.variants, "", plan.ring) != 0)
      launch_error = "the ring launcher failed (its message is above)";
  } catch (const std::exception& e) {
    launch_error = e.what();
  }

  const int64_t total = int64_t(plan.cases.size());
  for (size_t i = 0; i < plan.cases.size(); ++i) {
    const FixtureCase& fc = plan.cases[i];
    const data::CaseManifest manifest = data::read_manifest(folders[i]);  // once: each read forks
    const PreparedCase c = prepare_case(data::read_case_inputs(manifest), device);
    std::optional<data::ProducerOutputs> base;
    std::string error = launch_error;
    if (error.empty()) {
      try {
        base = run_backend(*plan.baseline, c, device);
      } catch (const std::exception& e) {
        error = "baseline " + plan.baseline->name() + " did not run: " + e.what();
      }
    }
    for (size_t v = 0; v < plan.variants.size(); ++v) {
      CaseVerdicts verdicts;
      verdicts.case_name = fc.name;
      verdicts.realistic_grads = fc.realistic_grads();
      verdicts.error = error;
      if (error.empty()) {
        try {
          verdicts = judge_variant(fc, c, read_producer(manifest, plan.variants[v]), *base,
                                   plan.default_profile, plan.first_rule_profile, plan.budget_key);
        } catch (const std::exception& e) {
          verdicts.error = e.what();
        }
      }
      m.rows[v].cases.push_back(std::move(verdicts));
    }
    if (progress) progress(int64_t(i + 1), total);
  }
  summarize(m);
  return m;
}

}  // namespace attn::cli::selftest
