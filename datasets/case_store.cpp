#include "datasets/case_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <system_error>

#include "datasets/atomic_output.hpp"
#include "datasets/detail/case_hdf5.hpp"
#include "datasets/detail/isolated_call.hpp"
#include "datasets/errors.hpp"
#include "datasets/input_hash.hpp"
#include "datasets/limits.hpp"

namespace attn::data {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr double kHeaderTimeout = 30.0;  // seconds for reading a file's metadata

std::string number_text(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

/// Seconds a data read may take: a minute plus a second per 100 MB (disks slower than that
/// are not what this is for), unless ATTN_READ_TIMEOUT_S says otherwise.
double data_timeout(uint64_t bytes) {
  return detail::read_timeout(60.0 + double(bytes) / 100e6);
}

/// JSON text of what a child found; strings from the file that are not UTF-8 are replaced.
std::string to_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

uint64_t size_of_file(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : uint64_t(n);
}

bool is_record_file_name(const std::string& name) {
  return name.size() > 3 && name[0] != '.' && name.compare(name.size() - 3, 3, ".h5") == 0;
}

/// Producer names become file names: letters, digits, '.', '_', '-', not starting with '.'.
void check_producer_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 128 && name[0] != '.' &&
                  name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789._-") == std::string::npos;
  if (!ok)
    throw InputError("invalid producer name '" + name +
                     "': expected 1-128 letters, digits, '.', '_' or '-', not starting with '.'");
}

GeneratorParams generator_from_json(const json& j) {
  GeneratorParams p;
  if (j.contains("preset")) p.preset = j["preset"];
  if (j.contains("seed")) p.seed = j["seed"];
  if (j.contains("pad")) p.pad = j["pad"].get<std::vector<int64_t>>();
  if (j.contains("rope_theta")) p.rope_theta = j["rope_theta"];
  if (j.contains("logit_std")) p.logit_std = j["logit_std"];
  if (j.contains("outlier_channels")) p.outlier_channels = j["outlier_channels"];
  if (j.contains("outlier_gain")) p.outlier_gain = j["outlier_gain"];
  if (j.contains("grad_scale")) p.grad_scale = j["grad_scale"];
  if (j.contains("rng")) p.rng = j["rng"];
  return p;
}

/// The record at (file, group) of a case of config `c`; a failure to read it is kept in
/// RecordInfo::damage, since other records of the case stay usable.
RecordInfo read_record_info(const std::string& name, const std::string& file,
                            const std::string& group, const CaseConfig& c) {
  RecordInfo r;
  r.name = name;
  r.file = file;
  r.group = group;
  try {
    const json j = json::parse(detail::isolated_call(
        file + (group == "/" ? "" : " " + group), detail::read_timeout(kHeaderTimeout),
        [&] { return to_text(detail::read_record_header(file, group, c)); }));
    r.input_hash = j["input_hash"];
    for (const auto& [k, v] : j["provenance"].items()) r.provenance[k] = v.get<std::string>();
    r.tensors = j["tensors"].get<std::vector<std::string>>();
    for (const auto& [k, v] : j["dtypes"].items()) r.tensor_dtypes[k] = parse_dtype(v);
  } catch (const InputError& e) {
    r.damage = e.what();
  }
  return r;
}

std::vector<std::string> leftover_temporaries(const fs::path& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 1 && n[0] == '.' && n.find(".tmp.") != std::string::npos) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void check_finite(const Tensor& t, const std::string& file, const std::string& dataset,
                  const std::string& what_it_is, const std::string& remedy);

}  // namespace

std::string to_string(CaseFormat f) { return f == CaseFormat::folder ? "folder" : "bundle"; }

std::string to_string(RecordState s) {
  switch (s) {
    case RecordState::current: return "current";
    case RecordState::stale: return "stale";
    case RecordState::unverified: return "unverified";
    case RecordState::damaged: return "damaged";
  }
  return "?";
}

RecordState record_state(const RecordInfo& r, const std::string& input_hash) {
  if (!r.damage.empty()) return RecordState::damaged;
  if (r.input_hash.empty()) return RecordState::unverified;
  return r.input_hash == input_hash ? RecordState::current : RecordState::stale;
}

const RecordInfo* CaseManifest::find_producer(const std::string& name) const {
  for (const RecordInfo& r : producers)
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<std::string> CaseManifest::producer_names() const {
  std::vector<std::string> names;
  for (const RecordInfo& r : producers) names.push_back(r.name);
  return names;
}

CaseManifest read_manifest(const fs::path& case_path) {
  CaseManifest m;
  m.path = case_path;
  std::error_code ec;
  const fs::file_status st = fs::status(case_path, ec);
  if (!fs::exists(st))
    throw InputError("no such case: " + case_path.string() +
                     " (expected a case folder holding inputs.h5, or a bundle file; write one with "
                     "`attn-harness generate -o " + case_path.string() +
                     "`, or from your own tensors with attn_harness.write_inputs: "
                     "docs/case-format.md)");
  fs::path inputs_file;
  if (fs::is_directory(st)) {
    m.format = CaseFormat::folder;
    inputs_file = case_path / kInputsFileName;
    if (!fs::exists(inputs_file, ec))
      throw InputError("case " + case_path.string() + ": a folder without " + kInputsFileName +
                       ", so not an attn-harness case (`attn-harness generate -o FOLDER` makes "
                       "one; `attn-harness unpack FILE.h5 -o FOLDER` unpacks a bundle)");
  } else {
    m.format = CaseFormat::bundle;
    inputs_file = case_path;
  }
  const std::string file = inputs_file.string();
  const json j = json::parse(detail::isolated_call(file, detail::read_timeout(kHeaderTimeout), [&] {
    return to_text(detail::read_inputs_header(file));
  }));
  m.schema_version = j["schema_version"];
  m.config = detail::config_from_json(j["config"]);
  m.valid_len = j["valid_len"].get<std::vector<int64_t>>();
  m.recorded_input_hash = j["input_hash"];
  if (j.contains("generator")) m.generator = generator_from_json(j["generator"]);

  if (m.format == CaseFormat::folder) {
    m.bytes = size_of_file(inputs_file);
    const fs::path ref = case_path / kReferenceFileName;
    if (fs::exists(ref, ec)) {
      m.reference = read_record_info("reference", ref.string(), "/", m.config);
      m.reference->bytes = size_of_file(ref);
      m.bytes += m.reference->bytes;
    }
    const fs::path outputs = case_path / kOutputsFolderName;
    if (fs::is_directory(outputs, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(outputs, ec))
        if (is_record_file_name(e.path().filename().string())) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const fs::path& p : files) {
        const std::string stem = p.filename().string();
        RecordInfo r = read_record_info(stem.substr(0, stem.size() - 3), p.string(), "/", m.config);
        r.bytes = size_of_file(p);
        m.bytes += r.bytes;
        m.producers.push_back(std::move(r));
      }
      for (const std::string& n : leftover_temporaries(outputs))
        m.leftover_temporaries.push_back(std::string(kOutputsFolderName) + "/" + n);
    }
    for (const std::string& n : leftover_temporaries(case_path)) m.leftover_temporaries.push_back(n);
  } else {
    m.bytes = size_of_file(inputs_file);
    const auto names = json::parse(detail::isolated_call(
        file, detail::read_timeout(kHeaderTimeout), [&] {
          json k;
          k["producers"] = detail::bundle_producer_names(file);
          k["reference"] = detail::bundle_has_reference(file);
          return to_text(k);
        }));
    if (names["reference"].get<bool>())
      m.reference = read_record_info("reference", file, "/reference", m.config);
    for (const std::string& n : names["producers"].get<std::vector<std::string>>())
      m.producers.push_back(read_record_info(n, file, "/outputs/" + n, m.config));
  }
  return m;
}

CaseInputs read_case_inputs(const fs::path& case_path) {
  return read_case_inputs(read_manifest(case_path));
}

CaseInputs read_case_inputs(const CaseManifest& m) {
  const CaseConfig& c = m.config;
  const std::string file = (m.format == CaseFormat::folder ? m.path / kInputsFileName : m.path).string();
  const std::vector<int64_t> qs{c.B, c.H, c.L, c.D}, kvs{c.B, c.Hkv, c.L, c.D};
  std::vector<std::pair<std::string, std::vector<int64_t>>> names{{"q", qs}};
  for (int64_t m2 = 0; m2 <= c.t; ++m2) names.push_back({"k" + std::to_string(m2), kvs});
  for (int64_t m2 = 0; m2 <= c.t; ++m2) names.push_back({"v" + std::to_string(m2), kvs});
  names.push_back({"grad_out", qs});

  uint64_t total = 0;
  std::vector<uint64_t> offsets;
  for (const auto& [name, shape] : names) {
    offsets.push_back(total);
    const uint64_t bytes = uint64_t(checked_numel(shape, file + " /inputs/" + name)) * element_size(c.dtype);
    total += (bytes + 63) / 64 * 64;
  }
  require_memory(total, "reading the inputs of " + m.path.string());
  std::shared_ptr<void> block = detail::shared_memory(total);
  std::vector<detail::ReadItem> items;
  for (size_t i = 0; i < names.size(); ++i)
    items.push_back({"/inputs", names[i].first, c.dtype, names[i].second, {}, {},
                     static_cast<char*>(block.get()) + offsets[i]});
  detail::isolated_call(file, data_timeout(total), [&] {
    detail::read_items(file, items);
    return std::string();
  });

  auto tensor = [&](size_t i) {
    return Tensor::adopt(c.dtype, names[i].second,
                         std::shared_ptr<void>(block, static_cast<char*>(block.get()) + offsets[i]));
  };
  CaseInputs in;
  in.config = c;
  in.q = tensor(0);
  for (int64_t m2 = 0; m2 <= c.t; ++m2) in.k.push_back(tensor(size_t(1 + m2)));
  for (int64_t m2 = 0; m2 <= c.t; ++m2) in.v.push_back(tensor(size_t(2 + c.t + m2)));
  in.grad_out = tensor(names.size() - 1);
  in.valid_len = m.valid_len;
  in.generator = m.generator;
  for (size_t i = 0; i < names.size(); ++i)
    check_finite(i == 0 ? in.q : i + 1 == names.size() ? in.grad_out
                      : i <= size_t(c.t + 1) ? in.k[i - 1] : in.v[i - 2 - size_t(c.t)],
                 file, "/inputs/" + names[i].first, "inputs must be finite", "");
  return in;
}

namespace {

std::string record_where(const RecordInfo& r, const std::string& name) {
  return (r.group == "/" ? "/" : r.group + "/") + name;
}

void require_usable(const CaseManifest& m, const RecordInfo& r) {
  if (!r.damage.empty())
    throw InputError((r.name == "reference" ? std::string("the cached reference")
                                            : "producer '" + r.name + "'") +
                     " of " + m.path.string() + " cannot be read: " + r.damage);
}

std::string tensor_list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

}  // namespace

AttentionOutputs read_record(const CaseManifest& m, const RecordInfo& r,
                             const std::vector<std::string>& wanted) {
  require_usable(m, r);
  const std::vector<std::string> names = wanted.empty() ? r.tensors : wanted;
  uint64_t total = 0;
  std::vector<uint64_t> offsets;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> dtypes;
  for (const std::string& n : names) {
    const auto it = r.tensor_dtypes.find(n);
    if (it == r.tensor_dtypes.end())
      throw InputError(r.file + " " + record_where(r, n) + ": not recorded (" +
                       (r.name == "reference" ? std::string("the reference") : "producer '" + r.name + "'") +
                       " holds " + tensor_list(r.tensors) + ")");
    shapes.push_back(output_shape(n, m.config));
    dtypes.push_back(it->second);
    offsets.push_back(total);
    total += (uint64_t(checked_numel(shapes.back(), n)) * element_size(it->second) + 63) / 64 * 64;
  }
  require_memory(total, "reading " + r.name + " of " + m.path.string());
  std::shared_ptr<void> block = detail::shared_memory(total);
  std::vector<detail::ReadItem> items;
  for (size_t i = 0; i < names.size(); ++i)
    items.push_back({r.group, names[i], dtypes[i], shapes[i], {}, {},
                     static_cast<char*>(block.get()) + offsets[i]});
  detail::isolated_call(r.file + (r.group == "/" ? "" : " " + r.group), data_timeout(total), [&] {
    detail::read_items(r.file, items);
    return std::string();
  });
  AttentionOutputs o;
  o.dk.resize(size_t(m.config.t + 1));
  o.dv.resize(size_t(m.config.t + 1));
  for (size_t i = 0; i < names.size(); ++i) {
    Tensor* slot = nullptr;
    if (names[i] == "out") slot = &o.out;
    else if (names[i] == "lse") slot = &o.lse;
    else if (names[i] == "dq") slot = &o.dq;
    else slot = &(names[i][1] == 'k' ? o.dk : o.dv)[size_t(std::stoll(names[i].substr(2)))];
    *slot = Tensor::adopt(dtypes[i], shapes[i],
                          std::shared_ptr<void>(block, static_cast<char*>(block.get()) + offsets[i]));
    if (r.name == "reference")
      check_finite(*slot, r.file, record_where(r, names[i]), "the cached reference must be finite",
                   "; recompute it with `attn-harness reference " + m.path.string() + " --force`");
  }
  if (std::none_of(o.dk.begin(), o.dk.end(), [](const Tensor& t) { return t.has_storage(); })) o.dk.clear();
  if (std::none_of(o.dv.begin(), o.dv.end(), [](const Tensor& t) { return t.has_storage(); })) o.dv.clear();
  return o;
}

Tensor read_record_rows(const CaseManifest& m, const RecordInfo& r, const std::string& name,
                        int64_t b, int64_t x, int64_t row0, int64_t rows) {
  require_usable(m, r);
  const auto it = r.tensor_dtypes.find(name);
  if (it == r.tensor_dtypes.end())
    throw InputError(r.file + " " + record_where(r, name) + ": not recorded (" + r.name +
                     " holds " + tensor_list(r.tensors) + ")");
  const std::vector<int64_t> shape = output_shape(name, m.config);
  if (b < 0 || b >= shape[0] || x < 0 || x >= shape[1] || row0 < 0 || rows < 0 || row0 + rows > shape[2])
    throw InputError(name + ": rows [" + std::to_string(row0) + ", " + std::to_string(row0 + rows) +
                     ") at (b " + std::to_string(b) + ", head " + std::to_string(x) +
                     ") are outside its shape " + shape_string(shape));
  std::vector<int64_t> start{b, x, row0}, count{1, 1, rows}, out_shape{rows};
  if (shape.size() == 4) {
    start.push_back(0);
    count.push_back(shape[3]);
    out_shape.push_back(shape[3]);
  }
  const DType d = it->second;
  const uint64_t bytes = uint64_t(checked_numel(out_shape, name)) * element_size(d);
  std::shared_ptr<void> block = detail::shared_memory(bytes);
  const std::vector<detail::ReadItem> items{{r.group, name, d, shape, start, count, block.get()}};
  detail::isolated_call(r.file + (r.group == "/" ? "" : " " + r.group), data_timeout(bytes), [&] {
    detail::read_items(r.file, items);
    return std::string();
  });
  Tensor t = Tensor::adopt(d, out_shape, block);
  if (r.name == "reference")
    check_finite(t, r.file, record_where(r, name), "the cached reference must be finite",
                 "; recompute it with `attn-harness reference " + m.path.string() + " --force`");
  return t;
}

// ---- validation ---------------------------------------------------------------------------------

namespace {

std::vector<int64_t> coordinates(int64_t i, const std::vector<int64_t>& shape) {
  std::vector<int64_t> c(shape.size(), 0);
  for (size_t k = shape.size(); k-- > 0;) {
    if (shape[k] > 0) {
      c[k] = i % shape[k];
      i /= shape[k];
    }
  }
  return c;
}

/// Index of the first NaN or +-inf of `t`, or -1. Blocks are scanned in parallel, branch-free.
int64_t first_nonfinite(const Tensor& t) {
  const int64_t n = t.numel();
  constexpr int64_t kBlock = 1 << 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  int64_t first_bad_block = blocks;
#pragma omp parallel for schedule(static) reduction(min : first_bad_block) if (n > (1 << 20))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t lo = blk * kBlock, hi = std::min(n, lo + kBlock);
    uint32_t bad = 0;
    if (t.dtype == DType::bf16) {
      const uint16_t* p = t.data<uint16_t>();
      for (int64_t i = lo; i < hi; ++i) bad |= uint32_t((p[i] & 0x7F80u) == 0x7F80u);
    } else if (t.dtype == DType::f32) {
      const uint32_t* p = static_cast<const uint32_t*>(t.raw());
      for (int64_t i = lo; i < hi; ++i) bad |= uint32_t((p[i] & 0x7F800000u) == 0x7F800000u);
    } else {
      const uint64_t* p = static_cast<const uint64_t*>(t.raw());
      for (int64_t i = lo; i < hi; ++i)
        bad |= uint32_t((p[i] & 0x7FF0000000000000ULL) == 0x7FF0000000000000ULL);
    }
    if (bad) first_bad_block = std::min(first_bad_block, blk);
  }
  if (first_bad_block == blocks) return -1;
  for (int64_t i = first_bad_block * kBlock; i < n; ++i)
    if (!std::isfinite(t.at(i))) return i;
  return -1;
}

void check_finite(const Tensor& t, const std::string& file, const std::string& dataset,
                  const std::string& what_it_is, const std::string& remedy) {
  const int64_t i = first_nonfinite(t);
  if (i < 0) return;
  const double x = t.at(i);
  throw InputError(dataset + " in " + file + ": " +
                   (std::isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf") + " at flat index " +
                   std::to_string(i) + " (coordinates " + shape_string(coordinates(i, t.shape)) +
                   "): " + what_it_is + remedy);
}

void check_input_tensor(const Tensor& t, const std::string& dataset,
                        const std::vector<int64_t>& shape, const std::string& legend, DType dtype,
                        const std::string& where) {
  const std::string at = dataset + " in " + where;
  if (t.shape != shape)
    throw InputError(at + ": expected shape " + shape_string(shape) + " (" + legend +
                     "), found " + shape_string(t.shape));
  if (!t.has_storage()) throw InputError(at + ": has no values");
  if (t.dtype != dtype)
    throw InputError(at + ": expected element type " + to_string(dtype) +
                     " (the case dtype), found " + to_string(t.dtype));
  check_finite(t, where, dataset, "inputs must be finite", "");
}

}  // namespace

void validate_case(const CaseInputs& in, const std::string& where) {
  const CaseConfig& c = in.config;
  const std::tuple<const char*, int64_t, int64_t> sizes[] = {{"B", c.B, kMaxBatch},
                                                             {"H", c.H, kMaxHeads},
                                                             {"Hkv", c.Hkv, kMaxHeads},
                                                             {"L", c.L, kMaxSeq},
                                                             {"D", c.D, kMaxHeadDim}};
  for (const auto& [name, value, limit] : sizes)
    if (value <= 0 || value > limit)
      throw InputError(where + ": " + name + " = " + std::to_string(value) + " is outside [1, " +
                       std::to_string(limit) + "]");
  if (c.t < 0 || c.t > kMaxTttStep)
    throw InputError(where + ": t = " + std::to_string(c.t) + " is outside [0, " +
                     std::to_string(kMaxTttStep) + "]");
  if (c.H % c.Hkv != 0)
    throw InputError(where + ": expected H to be a multiple of Hkv, found H = " +
                     std::to_string(c.H) + ", Hkv = " + std::to_string(c.Hkv));
  if (!std::isfinite(c.scale) || c.scale < 0)
    throw InputError(where + ": expected a finite positive softmax scale (0 = 1/sqrt(D)), found " +
                     number_text(c.scale));
  const std::vector<int64_t> qs{c.B, c.H, c.L, c.D}, kvs{c.B, c.Hkv, c.L, c.D};
  checked_numel(qs, where + " q");
  for (const auto* blocks : {&in.k, &in.v})
    if (int64_t(blocks->size()) != c.t + 1)
      throw InputError(where + ": t = " + std::to_string(c.t) + " needs t + 1 = " +
                       std::to_string(c.t + 1) + " " + (blocks == &in.k ? "key" : "value") +
                       " blocks, found " + std::to_string(blocks->size()));
  check_input_tensor(in.q, "/inputs/q", qs, "B, H, L, D", c.dtype, where);
  for (int64_t m = 0; m <= c.t; ++m) {
    check_input_tensor(in.k[size_t(m)], "/inputs/k" + std::to_string(m), kvs, "B, Hkv, L, D", c.dtype, where);
    check_input_tensor(in.v[size_t(m)], "/inputs/v" + std::to_string(m), kvs, "B, Hkv, L, D", c.dtype, where);
  }
  if (int64_t(in.valid_len.size()) != c.B)
    throw InputError("/inputs/valid_len in " + where + ": expected shape " + shape_string({c.B}) +
                     " (B), found " + shape_string({int64_t(in.valid_len.size())}));
  for (size_t b = 0; b < in.valid_len.size(); ++b)
    if (in.valid_len[b] < 0 || in.valid_len[b] > c.L)
      throw InputError("/inputs/valid_len in " + where + ": valid_len[" + std::to_string(b) +
                       "] = " + std::to_string(in.valid_len[b]) + " is outside [0, L] = [0, " +
                       std::to_string(c.L) + "]");
  check_input_tensor(in.grad_out, "/inputs/grad_out", qs, "B, H, L, D", c.dtype, where);
}

// ---- writing ------------------------------------------------------------------------------------

namespace {

void check_record_tensors(const ProducerOutputs& p, const CaseConfig& c, const std::string& file) {
  if (p.input_hash.empty())
    throw InputError(file + ": a record needs the input_hash of the inputs it was computed from");
  const AttentionOutputs& o = p.outputs;
  if (!o.out.has_storage()) throw InputError(file + " /out: a record holds at least out");
  for (const auto* blocks : {&o.dk, &o.dv})
    if (!blocks->empty() && int64_t(blocks->size()) != c.t + 1)
      throw InputError(file + ": t = " + std::to_string(c.t) + " needs t + 1 = " +
                       std::to_string(c.t + 1) + " " + (blocks == &o.dk ? "dk" : "dv") +
                       " blocks (or none), found " + std::to_string(blocks->size()));
  for (const std::string& name : recorded_tensors(o)) {
    const Tensor& t = *find_output(o, name);
    const std::vector<int64_t> shape = output_shape(name, c);
    if (t.shape != shape)
      throw InputError(file + " /" + name + ": expected shape " + shape_string(shape) +
                       ", found " + shape_string(t.shape));
  }
}

void write_record_file(const fs::path& target, const ProducerOutputs& record) {
  AtomicOutput out(target);
  {
    detail::Hdf5Scope hdf5;
    detail::H5Id f = detail::create_file(out.temp_path().string(), target.string());
    detail::write_record(f.get(), target.string(), "/", record, false);
    if (f.close() < 0)
      throw InputError("cannot write " + target.string() + ": " + detail::hdf5_error_text());
  }
  out.commit();
}

void require_folder(const CaseManifest& m, const std::string& what) {
  if (m.format != CaseFormat::folder)
    throw InputError("cannot " + what + ": " + m.path.string() +
                     " is a single-file bundle, which attn-harness does not modify; `attn-harness "
                     "unpack " + m.path.string() + " -o FOLDER` makes a case folder to record into");
}

}  // namespace

void write_case(const fs::path& folder, const CaseInputs& inputs) {
  validate_case(inputs, "the case to write to " + folder.string());
  std::error_code ec;
  if (fs::exists(folder, ec) && !fs::is_directory(folder, ec))
    throw InputError("cannot write case " + folder.string() + ": it exists and is not a folder");
  if (fs::is_directory(folder, ec) && !fs::exists(folder / kInputsFileName, ec) &&
      !fs::is_empty(folder, ec))
    throw InputError("cannot write case " + folder.string() +
                     ": the folder exists, is not empty and holds no " + kInputsFileName +
                     " (not a case); choose a new or empty folder");
  fs::create_directories(folder, ec);
  if (ec) throw InputError("cannot create case folder " + folder.string() + ": " + ec.message());
  const fs::path target = folder / kInputsFileName;
  const std::string hash = input_hash(inputs);
  AtomicOutput out(target);
  {
    detail::Hdf5Scope hdf5;
    detail::H5Id f = detail::create_file(out.temp_path().string(), target.string());
    detail::write_inputs(f.get(), target.string(), inputs, hash, false);
    if (f.close() < 0)
      throw InputError("cannot write " + target.string() + ": " + detail::hdf5_error_text());
  }
  out.commit();
}

std::string record_write_blocker(const CaseManifest& m, const std::string& file_name) {
  if (m.format != CaseFormat::folder)
    return m.path.string() + " is a single-file bundle, which attn-harness does not modify";
  const fs::path target = m.path / file_name;
  const fs::path folder = target.parent_path();
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    const std::string parent = folder_write_blocker(folder.parent_path());
    if (!parent.empty()) return parent;
    return "";
  }
  const std::string blocker = folder_write_blocker(folder);
  if (!blocker.empty()) return blocker;
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0 && (st.st_mode & 0222) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    return target.string() + " is marked read-only (mode " + mode + ")";
  }
  return "";
}

void write_producer(const CaseManifest& m, const ProducerOutputs& producer) {
  require_folder(m, "record producer '" + producer.name + "'");
  check_producer_name(producer.name);
  const std::string file_name = std::string(kOutputsFolderName) + "/" + producer.name + ".h5";
  const fs::path target = m.path / file_name;
  check_record_tensors(producer, m.config, target.string());
  if (const std::string why = record_write_blocker(m, file_name); !why.empty())
    throw InputError("cannot record producer '" + producer.name + "': " + why);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) throw InputError("cannot create " + target.parent_path().string() + ": " + ec.message());
  write_record_file(target, producer);
}

void write_reference(const CaseManifest& m, const ProducerOutputs& reference) {
  require_folder(m, "cache the reference");
  const fs::path target = m.path / kReferenceFileName;
  check_record_tensors(reference, m.config, target.string());
  if (const std::string why = record_write_blocker(m, kReferenceFileName); !why.empty())
    throw InputError("cannot cache the reference: " + why);
  write_record_file(target, reference);
}

void write_bundle(const fs::path& file, const CaseInputs& inputs,
                  const std::vector<ProducerOutputs>& producers, const ProducerOutputs* reference) {
  validate_case(inputs, "the case to write to " + file.string());
  for (const ProducerOutputs& p : producers) {
    check_producer_name(p.name);
    check_record_tensors(p, inputs.config, file.string() + " /outputs/" + p.name);
  }
  if (reference) check_record_tensors(*reference, inputs.config, file.string() + " /reference");
  const std::string hash = input_hash(inputs);
  AtomicOutput out(file);
  {
    detail::Hdf5Scope hdf5;
    const std::string target = file.string();
    detail::H5Id f = detail::create_file(out.temp_path().string(), target);
    detail::write_inputs(f.get(), target, inputs, hash, true);
    auto group = [&](hid_t loc, const char* name, const std::string& path) {
      return detail::H5Id(detail::checked(
          H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
          detail::Where{target, path}, "cannot create the group"));
    };
    if (reference) {
      detail::H5Id g = group(f.get(), "reference", "/reference");
      detail::write_record(g.get(), target, "/reference", *reference, true);
    }
    if (!producers.empty()) {
      detail::H5Id outputs = group(f.get(), "outputs", "/outputs");
      for (const ProducerOutputs& p : producers) {
        detail::H5Id g = group(outputs.get(), p.name.c_str(), "/outputs/" + p.name);
        detail::write_record(g.get(), target, "/outputs/" + p.name, p, true);
      }
    }
    if (f.close() < 0) throw InputError("cannot write " + target + ": " + detail::hdf5_error_text());
  }
  out.commit();
}

}  // namespace attn::data
