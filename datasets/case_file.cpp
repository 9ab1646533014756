#include "datasets/case_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <system_error>

#include "datasets/detail/hdf5_handles.hpp"
#include "datasets/detail/tensor_io.hpp"
#include "datasets/errors.hpp"

namespace attn::data {
namespace fs = std::filesystem;
using detail::H5Id;
using detail::Where;

namespace {

constexpr const char* kQLegend = "B, H, L, D";
constexpr const char* kKvLegend = "B, Hkv, L, D";
constexpr const char* kLseLegend = "B, H, L";

std::vector<int64_t> q_shape(const CaseConfig& c) { return {c.B, c.H, c.L, c.D}; }
std::vector<int64_t> kv_shape(const CaseConfig& c) { return {c.B, c.Hkv, c.L, c.D}; }
std::vector<int64_t> lse_shape(const CaseConfig& c) { return {c.B, c.H, c.L}; }

/// The scale a case means: 0 stands for the default 1/sqrt(D) (what the writer stores).
double effective_scale(const CaseConfig& c) {
  return c.scale == 0.0 ? 1.0 / std::sqrt(double(c.D)) : c.scale;
}

std::string number_text(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

/// Row-major coordinates of flat index i in `shape`: "[0, 3, 17, 5]".
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

// ---- validation (in memory) ----------------------------------------------------------------

void check_config(const CaseConfig& c, const std::string& where) {
  const Where root{where, "/"};
  auto attr = [&](const std::string& name) { return root.at("attribute '" + name + "' of /"); };
  const std::pair<const char*, int64_t> sizes[] = {
      {"B", c.B}, {"H", c.H}, {"Hkv", c.Hkv}, {"L", c.L}, {"D", c.D}};
  for (const auto& [name, value] : sizes)
    if (value <= 0)
      detail::fail(attr(name), std::string("expected a positive integer (") + name +
                                   " > 0), found " + std::to_string(value));
  if (c.t < 0) detail::fail(attr("t"), "expected a TTT step t >= 0, found " + std::to_string(c.t));
  if (c.H % c.Hkv != 0)
    detail::fail(root.at("attributes 'H' and 'Hkv' of /"),
                 "expected H to be a multiple of Hkv, found H = " + std::to_string(c.H) +
                     ", Hkv = " + std::to_string(c.Hkv));
  if (!std::isfinite(c.scale) || c.scale < 0)
    detail::fail(attr("scale"), "expected a finite positive softmax scale (0 = 1/sqrt(D)), found " +
                                    number_text(c.scale));
}

/// True when every x[i] is finite and representable in D. Branch-free over a block; only a
/// block that holds a bad value is scanned again (first_bad_value) to locate it.
template <DType D>
bool all_finite_and_representable(const double* x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t b;
    std::memcpy(&b, &x[i], sizeof b);
    bad |= uint32_t((b & 0x7FF0000000000000ULL) == 0x7FF0000000000000ULL);  // NaN or +-inf
    if constexpr (D != DType::f64) {
      const float f = static_cast<float>(x[i]);
      bad |= uint32_t(static_cast<double>(f) != x[i]);
      if constexpr (D == DType::bf16) {
        uint32_t u;
        std::memcpy(&u, &f, sizeof u);
        bad |= uint32_t((u & 0xFFFFu) != 0);
      }
    }
  }
  return bad == 0;
}

/// Index of the first value that is NaN, +-inf or not representable in `d`; -1 if none.
/// `*nonfinite` tells which kind it is.
int64_t first_bad_value(const std::vector<double>& values, DType d, bool* nonfinite) {
  const size_t n = values.size();
  const double* x = values.data();
  constexpr size_t kBlock = 4096;
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t len = std::min(kBlock, n - start);
    const bool ok = d == DType::bf16  ? all_finite_and_representable<DType::bf16>(x + start, len)
                    : d == DType::f32 ? all_finite_and_representable<DType::f32>(x + start, len)
                                      : all_finite_and_representable<DType::f64>(x + start, len);
    if (ok) continue;
    for (size_t i = start; i < start + len; ++i) {  // locate it
      if (!std::isfinite(x[i])) {
        *nonfinite = true;
        return int64_t(i);
      }
      if (round_to(d, x[i]) != x[i]) {
        *nonfinite = false;
        return int64_t(i);
      }
    }
  }
  return -1;
}

void check_input_tensor(const Tensor& t, const std::string& dataset,
                        const std::vector<int64_t>& shape, const std::string& legend, DType dtype,
                        const std::string& where, bool check_values) {
  const Where w{where, dataset};
  if (t.shape != shape)
    detail::fail(w, "expected shape " + shape_string(shape) + " (" + legend + "), found " +
                        shape_string(t.shape));
  if (int64_t(t.values.size()) != t.numel())
    detail::fail(w, "holds " + std::to_string(t.values.size()) + " values, but shape " +
                        shape_string(shape) + " needs " + std::to_string(t.numel()));
  if (t.dtype != dtype)
    detail::fail(w, "expected element type " + to_string(dtype) + " (the case dtype), found " +
                        to_string(t.dtype));
  if (!check_values) return;
  bool nonfinite = false;
  const int64_t i = first_bad_value(t.values, dtype, &nonfinite);
  if (i < 0) return;
  const double x = t.values[size_t(i)];
  const std::string at = "at flat index " + std::to_string(i) + " (coordinates " +
                         shape_string(coordinates(i, shape)) + ")";
  if (nonfinite)
    detail::fail(w, std::string(std::isnan(x) ? "NaN"
                                : x > 0       ? "+Inf"
                                              : "-Inf") +
                        " " + at + ": inputs must be finite");
  detail::fail(w, "value " + number_text(x) + " " + at + " is not a " + to_string(dtype) +
                      " value (inputs must be rounded into the case dtype, see round_to)");
}

void check_block_list(const std::vector<Tensor>& blocks, const std::string& prefix,
                      const std::string& noun, const CaseConfig& c, const std::string& where) {
  if (int64_t(blocks.size()) != c.t + 1)
    detail::fail(Where{where, "/inputs/" + prefix + "0.." + prefix + std::to_string(c.t)},
                 "t = " + std::to_string(c.t) + " needs t + 1 = " + std::to_string(c.t + 1) + " " +
                     noun + " blocks, found " + std::to_string(blocks.size()));
}

// ---- files ---------------------------------------------------------------------------------

[[noreturn]] void fail_file(const std::string& file, const std::string& what) {
  throw InputError("case file " + file + ": " + what);
}

/// Opens an existing case file after the checks that give the clearest message: exists, is a
/// file, is HDF5, opens (a truncated file fails here, with HDF5's reason), schema version.
H5Id open_case(const fs::path& path, unsigned flags, hid_t fapl = H5P_DEFAULT) {
  const std::string file = path.string();
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) fail_file(file, "no such file");
  if (fs::is_directory(st)) fail_file(file, "is a directory, expected an HDF5 file");
  const htri_t is_hdf5 = H5Fis_hdf5(file.c_str());
  if (is_hdf5 == 0) fail_file(file, "not an HDF5 file (no HDF5 signature)");
  if (is_hdf5 < 0)
    fail_file(file, "not an HDF5 file or unreadable (HDF5: " + detail::hdf5_error_text() + ")");
  H5Id f(H5Fopen(file.c_str(), flags, fapl));
  if (!f)
    fail_file(file, "HDF5 cannot open it (truncated or damaged?): " + detail::hdf5_error_text());

  const Where root{file, "/"};
  if (!detail::has_attribute(f.get(), "schema_version"))
    detail::fail(root.at("attribute 'schema_version' of /"),
                 "missing (expected an integer; is this an attn-harness case file?)");
  const int64_t version = detail::read_int64_attribute(f.get(), "schema_version", root);
  if (version > kSchemaVersion)
    fail_file(file, "written by a newer attn-harness: schema_version " + std::to_string(version) +
                        ", this build reads up to " + std::to_string(kSchemaVersion));
  if (version < 1)
    detail::fail(
        root.at("attribute 'schema_version' of /"),
        "expected 1.." + std::to_string(kSchemaVersion) + ", found " + std::to_string(version));
  return f;
}

CaseConfig read_config(hid_t f, const std::string& file) {
  const Where root{file, "/"};
  CaseConfig c;
  c.B = detail::read_int64_attribute(f, "B", root);
  c.H = detail::read_int64_attribute(f, "H", root);
  c.Hkv = detail::read_int64_attribute(f, "Hkv", root);
  c.L = detail::read_int64_attribute(f, "L", root);
  c.D = detail::read_int64_attribute(f, "D", root);
  c.t = detail::read_int64_attribute(f, "t", root);
  const std::string dtype = detail::read_string_attribute(f, "dtype", root);
  try {
    c.dtype = parse_dtype(dtype);
  } catch (const InputError& e) {
    detail::fail(root.at("attribute 'dtype' of /"), e.what());
  }
  c.scale = detail::read_double_attribute(f, "scale", root);
  check_config(c, file);
  if (c.scale == 0.0)
    detail::fail(root.at("attribute 'scale' of /"), "expected a positive softmax scale, found 0");
  return c;
}

H5Id open_group(hid_t loc, const std::string& path, const Where& w, const std::string& expected) {
  if (!detail::path_exists(loc, path) || detail::object_kind(loc, path) != H5I_GROUP)
    detail::fail(w, "missing group (expected " + expected + ")");
  return H5Id(
      detail::checked(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), w, "cannot open the group"));
}

/// The indices m of the datasets named <prefix><m> directly under `group`, sorted.
std::vector<int64_t> block_indices(hid_t group, const std::string& prefix) {
  std::vector<int64_t> found;
  for (const std::string& name : detail::link_names(group)) {
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      continue;
    if (digits.size() > 1 && digits[0] == '0') continue;
    if (digits.size() > 9) continue;
    found.push_back(std::stoll(digits));
  }
  std::sort(found.begin(), found.end());
  return found;
}

/// Fails unless `group` holds exactly <prefix>0..<prefix>t.
void check_block_datasets(hid_t group, const std::string& group_path, const std::string& prefix,
                          const std::string& noun, int64_t t, const std::string& file) {
  const std::vector<int64_t> found = block_indices(group, prefix);
  std::string found_list;
  for (int64_t m : found)
    found_list += (found_list.empty() ? "" : ", ") + prefix + std::to_string(m);
  const std::string need = "t = " + std::to_string(t) + " needs t + 1 = " + std::to_string(t + 1) +
                           " " + noun + " blocks " + prefix + "0.." + prefix + std::to_string(t) +
                           ", found " + std::to_string(found.size()) +
                           (found.empty() ? "" : " (" + found_list + ")");
  for (int64_t m = 0; m <= t; ++m)
    if (!std::binary_search(found.begin(), found.end(), m))
      detail::fail(Where{file, group_path + "/" + prefix + std::to_string(m)},
                   "missing dataset: " + need);
  for (int64_t m : found)
    if (m > t)
      detail::fail(Where{file, group_path + "/" + prefix + std::to_string(m)},
                   "unexpected dataset: " + need);
}

std::optional<GeneratorParams> read_generator(hid_t f, const std::string& file) {
  if (!detail::path_exists(f, "generator")) return std::nullopt;
  const Where w{file, "/generator"};
  H5Id g = open_group(f, "generator", w, "generator attributes");
  GeneratorParams p;  // every attribute is optional; absent ones keep their defaults
  auto has = [&](const char* name) { return detail::has_attribute(g.get(), name); };
  if (has("preset")) p.preset = detail::read_string_attribute(g.get(), "preset", w);
  if (has("seed")) p.seed = detail::read_uint64_attribute(g.get(), "seed", w);
  if (has("pad")) p.pad = detail::read_int64_array_attribute(g.get(), "pad", w);
  if (has("rope_theta")) p.rope_theta = detail::read_double_attribute(g.get(), "rope_theta", w);
  if (has("logit_std")) p.logit_std = detail::read_double_attribute(g.get(), "logit_std", w);
  if (has("outlier_channels"))
    p.outlier_channels = detail::read_int64_attribute(g.get(), "outlier_channels", w);
  if (has("outlier_gain"))
    p.outlier_gain = detail::read_double_attribute(g.get(), "outlier_gain", w);
  if (has("grad_scale")) p.grad_scale = detail::read_double_attribute(g.get(), "grad_scale", w);
  return p;
}

std::map<std::string, std::string> read_provenance(hid_t group, const Where& w,
                                                   const std::string& skip = "") {
  std::map<std::string, std::string> prov;
  for (const std::string& name : detail::attribute_names(group))
    if (name != skip) prov[name] = detail::read_attribute_as_text(group, name, w);
  return prov;
}

AttentionOutputs read_outputs(hid_t group, const std::string& group_path, const CaseConfig& c,
                              const std::string& file) {
  check_block_datasets(group, group_path, "dk", "key-gradient", c.t, file);
  check_block_datasets(group, group_path, "dv", "value-gradient", c.t, file);
  auto where = [&](const std::string& name) { return Where{file, group_path + "/" + name}; };
  AttentionOutputs o;
  o.out = detail::read_tensor(group, "out", q_shape(c), kQLegend, where("out"));
  o.lse = detail::read_tensor(group, "lse", lse_shape(c), kLseLegend, where("lse"));
  o.dq = detail::read_tensor(group, "dq", q_shape(c), kQLegend, where("dq"));
  for (int64_t m = 0; m <= c.t; ++m) {
    const std::string dk = "dk" + std::to_string(m), dv = "dv" + std::to_string(m);
    o.dk.push_back(detail::read_tensor(group, dk, kv_shape(c), kKvLegend, where(dk)));
    o.dv.push_back(detail::read_tensor(group, dv, kv_shape(c), kKvLegend, where(dv)));
  }
  return o;
}

/// In-memory shape check of outputs before they are written (errors name the dataset).
void check_outputs(const AttentionOutputs& o, const CaseConfig& c, const std::string& group_path,
                   const std::string& file) {
  auto check = [&](const Tensor& t, const std::string& name, const std::vector<int64_t>& shape,
                   const char* legend) {
    const Where w{file, group_path + "/" + name};
    if (t.shape != shape)
      detail::fail(w, "expected shape " + shape_string(shape) + " (" + legend + "), found " +
                          shape_string(t.shape));
  };
  check(o.out, "out", q_shape(c), kQLegend);
  check(o.lse, "lse", lse_shape(c), kLseLegend);
  check(o.dq, "dq", q_shape(c), kQLegend);
  for (const auto& [blocks, prefix] : {std::pair{&o.dk, "dk"}, std::pair{&o.dv, "dv"}}) {
    if (int64_t(blocks->size()) != c.t + 1)
      detail::fail(Where{file, group_path + "/" + prefix + "0.." + prefix + std::to_string(c.t)},
                   "t = " + std::to_string(c.t) + " needs t + 1 = " + std::to_string(c.t + 1) +
                       " blocks, found " + std::to_string(blocks->size()));
    for (size_t m = 0; m < blocks->size(); ++m)
      check((*blocks)[m], prefix + std::to_string(m), kv_shape(c), kKvLegend);
  }
}

void write_outputs(hid_t group, const AttentionOutputs& o, const std::string& group_path,
                   const std::string& file) {
  auto where = [&](const std::string& name) { return Where{file, group_path + "/" + name}; };
  detail::write_tensor(group, "out", o.out, where("out"));
  detail::write_tensor(group, "lse", o.lse, where("lse"));
  detail::write_tensor(group, "dq", o.dq, where("dq"));
  for (size_t m = 0; m < o.dk.size(); ++m) {
    const std::string dk = "dk" + std::to_string(m), dv = "dv" + std::to_string(m);
    detail::write_tensor(group, dk, o.dk[m], where(dk));
    detail::write_tensor(group, dv, o.dv[m], where(dv));
  }
}

void check_group_name(const std::string& name, const std::string& file) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    detail::fail(Where{file, "/outputs/" + name},
                 "invalid producer name '" + name +
                     "': expected a non-empty name without '/' (not '.' or '..')");
}

/// A write that becomes visible all at once: the new content goes to "<target>.tmp<pid>" in
/// the same folder and is renamed over the target (rename(2) replaces atomically on POSIX).
/// Unless finish() succeeds, the destructor removes the temporary file and the target is
/// untouched.
class AtomicReplace {
 public:
  explicit AtomicReplace(const fs::path& target)
      : target_(target),
        temp_(target.string() + ".tmp" + std::to_string(::getpid())),
        file_(target.string()) {}
  ~AtomicReplace() {
    if (done_) return;
    std::error_code ec;
    if (fs::is_regular_file(fs::symlink_status(temp_, ec)))
      fs::remove(temp_, ec);  // never a folder in our way
  }
  AtomicReplace(const AtomicReplace&) = delete;
  AtomicReplace& operator=(const AtomicReplace&) = delete;

  /// A new, empty HDF5 file at the temporary path.
  H5Id create() {
    check_temp_path();
    H5Id fapl = strong_close_fapl();
    H5Id f(H5Fcreate(temp_.string().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
    if (!f)
      fail_file(file_, "cannot create the temporary file " + temp_.string() + ": " +
                           detail::hdf5_error_text());
    return f;
  }

  /// The target copied to the temporary path and opened read-write.
  H5Id copy_and_open() {
    check_temp_path();
    std::error_code ec;
    fs::copy_file(target_, temp_, fs::copy_options::overwrite_existing, ec);
    if (ec)
      fail_file(file_,
                "cannot copy it to the temporary file " + temp_.string() + ": " + ec.message());
    H5Id fapl = strong_close_fapl();
    return open_case(temp_, H5F_ACC_RDWR, fapl.get());
  }

  /// Closes `f` (flushing; a failure here is an error too) and renames the result over the target.
  void finish(H5Id& f) {
    if (f.close() < 0)
      fail_file(file_, "cannot complete " + temp_.string() + ": " + detail::hdf5_error_text());
    std::error_code ec;
    fs::rename(temp_, target_, ec);
    if (ec) fail_file(file_, "cannot rename " + temp_.string() + " over it: " + ec.message());
    done_ = true;
  }

 private:
  /// Clear messages for the common reasons the temporary file cannot be made.
  void check_temp_path() const {
    std::error_code ec;
    const fs::path folder = temp_.has_parent_path() ? temp_.parent_path() : fs::path(".");
    if (!fs::is_directory(folder, ec))
      fail_file(file_, "cannot create the temporary file " + temp_.string() + ": folder " +
                           folder.string() + " does not exist");
    const fs::file_status st = fs::symlink_status(temp_, ec);
    if (fs::exists(st) && !fs::is_regular_file(st))
      fail_file(file_, "cannot create the temporary file " + temp_.string() +
                           ": something other than a file is in the way there");
  }

  static H5Id strong_close_fapl() {
    // Closing the file closes every object still open in it, so nothing can write to the
    // temporary file after it has been renamed.
    H5Id fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
    return fapl;
  }

  fs::path target_, temp_;
  std::string file_;
  bool done_ = false;
};

H5Id open_or_create_group(hid_t loc, const std::string& name, const Where& w) {
  if (detail::path_exists(loc, name)) return open_group(loc, name, w, "a group");
  return H5Id(detail::checked(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                              w, "cannot create the group"));
}

/// Replaces group `path` of the copied file with `outputs` and the given string attributes.
void replace_output_group(const fs::path& path, const std::string& parent, const std::string& name,
                          const AttentionOutputs& outputs,
                          const std::map<std::string, std::string>& attrs) {
  const std::string file = path.string();
  const std::string group_path = (parent.empty() ? "" : "/" + parent) + "/" + name;
  CaseConfig c;
  {
    H5Id f = open_case(path, H5F_ACC_RDONLY);
    c = read_config(f.get(), file);
  }
  check_outputs(outputs, c, group_path, file);

  AtomicReplace tmp(path);
  H5Id f = tmp.copy_and_open();
  {
    H5Id parent_group;
    hid_t loc = f.get();
    if (!parent.empty()) {
      parent_group = open_or_create_group(f.get(), parent, Where{file, "/" + parent});
      loc = parent_group.get();
    }
    const Where w{file, group_path};
    // The old group's space is not reclaimed by HDF5 beyond this session's free-space
    // manager; the new datasets reuse it where they fit.
    if (detail::path_exists(loc, name))
      detail::checked(H5Ldelete(loc, name.c_str(), H5P_DEFAULT), w,
                      "cannot remove the previous group");
    H5Id g(detail::checked(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), w,
                           "cannot create the group"));
    for (const auto& [key, value] : attrs) detail::write_string_attribute(g.get(), key, value, w);
    write_outputs(g.get(), outputs, group_path, file);
  }
  tmp.finish(f);
}

// ---- input hash ----------------------------------------------------------------------------

/// 64-bit FNV-1a (Fowler, Noll, Vo; offset basis 14695981039346656037, prime 1099511628211),
/// one byte at a time.
class Fnv1a64 {
 public:
  void byte(uint8_t b) {
    h_ ^= b;
    h_ *= 0x100000001b3ULL;
  }
  void u64(uint64_t v) {
    for (int k = 0; k < 8; ++k) byte(uint8_t(v >> (8 * k)));  // little-endian
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double x) {
    uint64_t bits = 0;
    std::memcpy(&bits, &x, sizeof bits);
    u64(bits);
  }
  void values(const std::vector<double>& xs) {
    for (double x : xs) f64(x);
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace

namespace {

/// validate_case; `check_values` false skips the scan for NaN, Inf and values outside the
/// dtype (for values just read from the file, whose conversion already looked for NaN and Inf
/// and which are representable by construction).
void validate_inputs(const CaseInputs& in, const std::string& where, bool check_values) {
  const CaseConfig& c = in.config;
  check_config(c, where);
  check_input_tensor(in.q, "/inputs/q", q_shape(c), kQLegend, c.dtype, where, check_values);
  check_block_list(in.k, "k", "key", c, where);
  check_block_list(in.v, "v", "value", c, where);
  for (int64_t m = 0; m <= c.t; ++m) {
    check_input_tensor(in.k[size_t(m)], "/inputs/k" + std::to_string(m), kv_shape(c), kKvLegend,
                       c.dtype, where, check_values);
    check_input_tensor(in.v[size_t(m)], "/inputs/v" + std::to_string(m), kv_shape(c), kKvLegend,
                       c.dtype, where, check_values);
  }
  const Where vl{where, "/inputs/valid_len"};
  if (int64_t(in.valid_len.size()) != c.B)
    detail::fail(vl, "expected shape " + shape_string({c.B}) + " (B), found " +
                         shape_string({int64_t(in.valid_len.size())}));
  for (size_t b = 0; b < in.valid_len.size(); ++b)
    if (in.valid_len[b] < 0 || in.valid_len[b] > c.L)
      detail::fail(vl, "valid_len[" + std::to_string(b) + "] = " + std::to_string(in.valid_len[b]) +
                           " is outside [0, L] = [0, " + std::to_string(c.L) + "]");
  check_input_tensor(in.grad_out, "/inputs/grad_out", q_shape(c), kQLegend, c.dtype, where,
                     check_values);
}

}  // namespace

void validate_case(const CaseInputs& in, const std::string& where) {
  validate_inputs(in, where, true);
}

void write_case(const fs::path& path, const CaseInputs& inputs) {
  detail::Hdf5Scope hdf5;
  const std::string file = path.string();
  validate_case(inputs, "the case to write to " + file);
  const CaseConfig& c = inputs.config;

  AtomicReplace tmp(path);
  H5Id f = tmp.create();
  {
    const Where root{file, "/"};
    detail::write_int32_attribute(f.get(), "schema_version", kSchemaVersion, root);
    const std::pair<const char*, int64_t> ints[] = {{"B", c.B}, {"H", c.H}, {"Hkv", c.Hkv},
                                                    {"L", c.L}, {"D", c.D}, {"t", c.t}};
    for (const auto& [name, value] : ints)
      detail::write_int64_attribute(f.get(), name, value, root);
    detail::write_string_attribute(f.get(), "dtype", to_string(c.dtype), root);
    detail::write_double_attribute(f.get(), "scale", effective_scale(c), root);

    const Where iw{file, "/inputs"};
    H5Id g(detail::checked(H5Gcreate2(f.get(), "inputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), iw,
                           "cannot create the group"));
    detail::write_tensor(g.get(), "q", inputs.q, iw.at("/inputs/q"));
    for (int64_t m = 0; m <= c.t; ++m) {
      const std::string k = "k" + std::to_string(m), v = "v" + std::to_string(m);
      detail::write_tensor(g.get(), k, inputs.k[size_t(m)], iw.at("/inputs/" + k));
      detail::write_tensor(g.get(), v, inputs.v[size_t(m)], iw.at("/inputs/" + v));
    }
    detail::write_int64_vector(g.get(), "valid_len", inputs.valid_len, iw.at("/inputs/valid_len"));
    detail::write_tensor(g.get(), "grad_out", inputs.grad_out, iw.at("/inputs/grad_out"));

    if (inputs.generator) {
      const GeneratorParams& p = *inputs.generator;
      const Where gw{file, "/generator"};
      H5Id gen(
          detail::checked(H5Gcreate2(f.get(), "generator", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                          gw, "cannot create the group"));
      detail::write_string_attribute(gen.get(), "preset", p.preset, gw);
      detail::write_uint64_attribute(gen.get(), "seed", p.seed, gw);
      detail::write_int64_array_attribute(gen.get(), "pad", p.pad, gw);
      detail::write_double_attribute(gen.get(), "rope_theta", p.rope_theta, gw);
      detail::write_double_attribute(gen.get(), "logit_std", p.logit_std, gw);
      detail::write_int64_attribute(gen.get(), "outlier_channels", p.outlier_channels, gw);
      detail::write_double_attribute(gen.get(), "outlier_gain", p.outlier_gain, gw);
      detail::write_double_attribute(gen.get(), "grad_scale", p.grad_scale, gw);
    }
  }
  tmp.finish(f);
}

CaseInputs read_case_inputs(const fs::path& path) {
  detail::Hdf5Scope hdf5;
  const std::string file = path.string();
  H5Id f = open_case(path, H5F_ACC_RDONLY);
  CaseInputs in;
  in.config = read_config(f.get(), file);
  const CaseConfig& c = in.config;

  const Where iw{file, "/inputs"};
  H5Id g = open_group(f.get(), "inputs", iw, "q, k0..k<t>, v0..v<t>, valid_len, grad_out");
  check_block_datasets(g.get(), "/inputs", "k", "key", c.t, file);
  check_block_datasets(g.get(), "/inputs", "v", "value", c.t, file);
  const std::string why = "the case dtype, root attribute 'dtype'";
  bool all_finite = true;
  auto read = [&](const std::string& name, const std::vector<int64_t>& shape, const char* legend) {
    bool finite = true;
    Tensor t = detail::read_tensor(g.get(), name, shape, legend, iw.at("/inputs/" + name), c.dtype,
                                   why, &finite);
    all_finite = all_finite && finite;
    return t;
  };
  in.q = read("q", q_shape(c), kQLegend);
  for (int64_t m = 0; m <= c.t; ++m) {
    in.k.push_back(read("k" + std::to_string(m), kv_shape(c), kKvLegend));
    in.v.push_back(read("v" + std::to_string(m), kv_shape(c), kKvLegend));
  }
  in.valid_len =
      detail::read_int64_vector(g.get(), "valid_len", c.B, "B", iw.at("/inputs/valid_len"));
  in.grad_out = read("grad_out", q_shape(c), kQLegend);
  in.generator = read_generator(f.get(), file);
  // Values read from a bf16/f32/f64 dataset are representable in it; only a NaN or Inf needs
  // the full scan, which then names the first one.
  validate_inputs(in, file, /*check_values=*/!all_finite);
  return in;
}

std::vector<std::string> list_producers(const fs::path& path) {
  detail::Hdf5Scope hdf5;
  H5Id f = open_case(path, H5F_ACC_RDONLY);
  std::vector<std::string> names;
  if (!detail::path_exists(f.get(), "outputs")) return names;
  H5Id g = open_group(f.get(), "outputs", Where{path.string(), "/outputs"}, "a group of producers");
  for (const std::string& name : detail::link_names(g.get()))
    if (detail::object_kind(g.get(), name) == H5I_GROUP) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

H5Id open_producer(hid_t f, const std::string& name, const std::string& file) {
  const Where w{file, "/outputs/" + name};
  if (name.empty() || name.find('/') != std::string::npos ||
      !detail::path_exists(f, "outputs/" + name) ||
      detail::object_kind(f, "outputs/" + name) != H5I_GROUP) {
    std::string known;
    if (detail::path_exists(f, "outputs")) {
      H5Id g(H5Gopen2(f, "outputs", H5P_DEFAULT));
      for (const std::string& n : detail::link_names(g.get()))
        known += (known.empty() ? "" : ", ") + n;
    }
    detail::fail(
        w, "no such producer (" + (known.empty() ? "the file has none" : "found: " + known) + ")");
  }
  return H5Id(detail::checked(H5Gopen2(f, ("outputs/" + name).c_str(), H5P_DEFAULT), w,
                              "cannot open the group"));
}

}  // namespace

ProducerOutputs read_producer(const fs::path& path, const std::string& name,
                              const CaseInputs& inputs) {
  detail::Hdf5Scope hdf5;
  const std::string file = path.string();
  H5Id f = open_case(path, H5F_ACC_RDONLY);
  H5Id g = open_producer(f.get(), name, file);
  check_config(inputs.config, "the case given for " + file);
  ProducerOutputs p;
  p.name = name;
  p.provenance = read_provenance(g.get(), Where{file, "/outputs/" + name});
  p.outputs = read_outputs(g.get(), "/outputs/" + name, inputs.config, file);
  return p;
}

std::map<std::string, std::string> read_producer_provenance(const fs::path& path,
                                                            const std::string& name) {
  detail::Hdf5Scope hdf5;
  const std::string file = path.string();
  H5Id f = open_case(path, H5F_ACC_RDONLY);
  H5Id g = open_producer(f.get(), name, file);
  return read_provenance(g.get(), Where{file, "/outputs/" + name});
}

void write_producer(const fs::path& path, const ProducerOutputs& producer) {
  detail::Hdf5Scope hdf5;
  check_group_name(producer.name, path.string());
  replace_output_group(path, "outputs", producer.name, producer.outputs, producer.provenance);
}

std::string input_hash(const CaseInputs& in) {
  // Canonical serialization, hashed with 64-bit FNV-1a (see Fnv1a64):
  //   B, H, Hkv, L, D, t          each as int64, little-endian (8 bytes)
  //   to_string(dtype)            "bf16" | "f32" | "f64", its bytes, then one 0 byte
  //   scale                       the IEEE binary64 bits as uint64 LE; a scale of 0 counts as
  //                               1/sqrt(D), the value the writer stores
  //   q, k0..kt, v0..vt           every value's binary64 bit pattern as uint64 LE, row-major
  //   valid_len                   each entry converted to double, bit pattern as above
  //   grad_out                    as q
  // Printed as 16 lowercase hex digits. Equal inputs give equal hashes on every machine.
  const CaseConfig& c = in.config;
  Fnv1a64 h;
  for (int64_t v : {c.B, c.H, c.Hkv, c.L, c.D, c.t}) h.i64(v);
  for (char ch : to_string(c.dtype)) h.byte(uint8_t(ch));
  h.byte(0);
  h.f64(effective_scale(c));
  h.values(in.q.values);
  for (const Tensor& k : in.k) h.values(k.values);
  for (const Tensor& v : in.v) h.values(v.values);
  for (int64_t n : in.valid_len) h.f64(double(n));
  h.values(in.grad_out.values);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h.value()));
  return buf;
}

std::optional<ProducerOutputs> read_cached_reference(const fs::path& path, const std::string& hash,
                                                     const CaseInputs& inputs) {
  detail::Hdf5Scope hdf5;
  const std::string file = path.string();
  H5Id f = open_case(path, H5F_ACC_RDONLY);
  if (!detail::path_exists(f.get(), "reference")) return std::nullopt;
  const Where w{file, "/reference"};
  H5Id g = open_group(f.get(), "reference", w, "the cached reference");
  if (!detail::has_attribute(g.get(), "input_hash") ||
      detail::read_string_attribute(g.get(), "input_hash", w) != hash)
    return std::nullopt;
  check_config(inputs.config, "the case given for " + file);
  ProducerOutputs p;
  p.name = "reference";
  p.provenance = read_provenance(g.get(), w, "input_hash");
  p.outputs = read_outputs(g.get(), "/reference", inputs.config, file);
  return p;
}

void write_cached_reference(const fs::path& path, const ProducerOutputs& reference,
                            const std::string& hash) {
  detail::Hdf5Scope hdf5;
  if (hash.empty())
    detail::fail(Where{path.string(), "/reference"}, "expected a non-empty input_hash");
  std::map<std::string, std::string> attrs = reference.provenance;
  attrs["input_hash"] = hash;  // the key wins over a provenance entry of the same name
  replace_output_group(path, "", "reference", reference.outputs, attrs);
}

std::optional<CachedReferenceInfo> read_cached_reference_info(const fs::path& path) {
  detail::Hdf5Scope hdf5;
  const std::string file = path.string();
  H5Id f = open_case(path, H5F_ACC_RDONLY);
  if (!detail::path_exists(f.get(), "reference")) return std::nullopt;
  const Where w{file, "/reference"};
  H5Id g = open_group(f.get(), "reference", w, "the cached reference");
  CachedReferenceInfo info;
  if (detail::has_attribute(g.get(), "input_hash"))
    info.input_hash = detail::read_string_attribute(g.get(), "input_hash", w);
  info.provenance = read_provenance(g.get(), w, "input_hash");
  return info;
}

}  // namespace attn::data
