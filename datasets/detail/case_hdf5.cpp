#include "datasets/detail/case_hdf5.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "datasets/case_store.hpp"
#include "datasets/detail/tensor_io.hpp"
#include "datasets/errors.hpp"
#include "datasets/limits.hpp"

namespace attn::data::detail {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kQLegend = "B, H, L, D";
constexpr const char* kKvLegend = "B, Hkv, L, D";

std::string number_text(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

[[noreturn]] void fail_file(const std::string& file, const std::string& what) {
  throw InputError("case file " + file + ": " + what);
}

/// Config attributes and their limits (limits.hpp), naming the attribute at fault.
void check_config(const CaseConfig& c, const std::string& file) {
  const Where root{file, "/"};
  auto attr = [&](const std::string& name) { return root.at("attribute '" + name + "' of /"); };
  const std::tuple<const char*, int64_t, int64_t> sizes[] = {{"B", c.B, kMaxBatch},
                                                             {"H", c.H, kMaxHeads},
                                                             {"Hkv", c.Hkv, kMaxHeads},
                                                             {"L", c.L, kMaxSeq},
                                                             {"D", c.D, kMaxHeadDim}};
  for (const auto& [name, value, limit] : sizes) {
    if (value <= 0)
      fail(attr(name), std::string("expected a positive integer (") + name + " > 0), found " +
                           std::to_string(value));
    if (value > limit)
      fail(attr(name), std::string("found ") + std::to_string(value) + ", above the limit " +
                           name + " <= " + std::to_string(limit));
  }
  if (c.t < 0) fail(attr("t"), "expected a TTT step t >= 0, found " + std::to_string(c.t));
  if (c.t > kMaxTttStep)
    fail(attr("t"), "found " + std::to_string(c.t) + ", above the limit t <= " +
                        std::to_string(kMaxTttStep));
  if (c.H % c.Hkv != 0)
    fail(root.at("attributes 'H' and 'Hkv' of /"),
         "expected H to be a multiple of Hkv, found H = " + std::to_string(c.H) +
             ", Hkv = " + std::to_string(c.Hkv));
  if (!std::isfinite(c.scale) || c.scale <= 0)
    fail(attr("scale"), "expected a finite positive softmax scale, found " + number_text(c.scale));
  checked_numel({c.B, c.H, c.L, c.D}, "the case's q shape");
}

int64_t read_schema_version(hid_t f, const std::string& file, bool required) {
  const Where root{file, "/"};
  if (!has_attribute(f, "schema_version")) {
    if (!required) return kSchemaVersion;
    fail(root.at("attribute 'schema_version' of /"),
         "missing (expected an integer; is this an attn-harness case file?)");
  }
  const int64_t version = read_int64_attribute(f, "schema_version", root);
  if (version > kSchemaVersion)
    fail_file(file, "written by a newer attn-harness: schema_version " + std::to_string(version) +
                        ", this build reads up to " + std::to_string(kSchemaVersion));
  if (version < 1)
    fail(root.at("attribute 'schema_version' of /"),
         "expected 1.." + std::to_string(kSchemaVersion) + ", found " + std::to_string(version));
  return version;
}

CaseConfig read_config(hid_t f, const std::string& file) {
  const Where root{file, "/"};
  CaseConfig c;
  c.B = read_int64_attribute(f, "B", root);
  c.H = read_int64_attribute(f, "H", root);
  c.Hkv = read_int64_attribute(f, "Hkv", root);
  c.L = read_int64_attribute(f, "L", root);
  c.D = read_int64_attribute(f, "D", root);
  c.t = read_int64_attribute(f, "t", root);
  const std::string dtype = read_string_attribute(f, "dtype", root);
  try {
    c.dtype = parse_dtype(dtype);
  } catch (const InputError& e) {
    fail(root.at("attribute 'dtype' of /"), e.what());
  }
  c.scale = read_double_attribute(f, "scale", root);
  check_config(c, file);
  return c;
}

H5Id open_group(hid_t loc, const std::string& path, const Where& w, const std::string& expected) {
  if (!path_exists(loc, path) || object_kind(loc, path) != H5I_GROUP)
    fail(w, "missing group (expected " + expected + ")");
  return H5Id(checked(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), w, "cannot open the group"));
}

/// The indices m of the links named <prefix><m> directly under `group`, sorted.
std::vector<int64_t> block_indices(hid_t group, const std::string& prefix) {
  std::vector<int64_t> found;
  for (const std::string& name : link_names(group)) {
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    if ((digits.size() > 1 && digits[0] == '0') || digits.size() > 9) continue;
    found.push_back(std::stoll(digits));
  }
  std::sort(found.begin(), found.end());
  return found;
}

/// "" when `group` holds exactly <prefix>0..<prefix>t, or none of them when `allow_none`;
/// otherwise the message (for the dataset named in `*where`).
std::string block_problem(hid_t group, const std::string& group_path, const std::string& prefix,
                          const std::string& noun, int64_t t, bool allow_none, std::string* where) {
  const std::vector<int64_t> found = block_indices(group, prefix);
  if (found.empty() && allow_none) return "";
  std::string found_list;
  for (int64_t m : found) found_list += (found_list.empty() ? "" : ", ") + prefix + std::to_string(m);
  const std::string need = "t = " + std::to_string(t) + " needs t + 1 = " + std::to_string(t + 1) +
                           " " + noun + " blocks " + prefix + "0.." + prefix + std::to_string(t) +
                           ", found " + std::to_string(found.size()) +
                           (found.empty() ? "" : " (" + found_list + ")");
  const std::string base = group_path == "/" ? "/" : group_path + "/";
  for (int64_t m = 0; m <= t; ++m)
    if (!std::binary_search(found.begin(), found.end(), m)) {
      *where = base + prefix + std::to_string(m);
      return "missing dataset: " + need;
    }
  for (int64_t m : found)
    if (m > t) {
      *where = base + prefix + std::to_string(m);
      return "unexpected dataset: " + need;
    }
  return "";
}

void check_blocks(hid_t group, const std::string& group_path, const std::string& prefix,
                  const std::string& noun, int64_t t, const std::string& file, bool allow_none) {
  std::string where;
  const std::string problem = block_problem(group, group_path, prefix, noun, t, allow_none, &where);
  if (!problem.empty()) fail(Where{file, where}, problem);
}

json generator_json(hid_t f, const std::string& file) {
  const Where w{file, "/generator"};
  H5Id g = open_group(f, "generator", w, "generator attributes");
  json j = json::object();  // every attribute is optional
  auto has = [&](const char* name) { return has_attribute(g.get(), name); };
  if (has("preset")) j["preset"] = read_string_attribute(g.get(), "preset", w);
  if (has("seed")) j["seed"] = read_uint64_attribute(g.get(), "seed", w);
  if (has("pad")) j["pad"] = read_int64_array_attribute(g.get(), "pad", w);
  for (const char* name : {"rope_theta", "logit_std", "outlier_gain", "grad_scale"})
    if (has(name)) j[name] = read_double_attribute(g.get(), name, w);
  if (has("outlier_channels"))
    j["outlier_channels"] = read_int64_attribute(g.get(), "outlier_channels", w);
  if (has("rng")) j["rng"] = read_string_attribute(g.get(), "rng", w);
  return j;
}

std::string record_legend(const std::string& name) {
  if (name == "lse") return "B, H, L";
  if (name == "out" || name == "dq") return kQLegend;
  return kKvLegend;
}

}  // namespace

json config_to_json(const CaseConfig& c) {
  return json{{"B", c.B},   {"H", c.H},         {"Hkv", c.Hkv},           {"L", c.L},
              {"D", c.D},   {"t", c.t},         {"dtype", to_string(c.dtype)}, {"scale", c.scale}};
}

CaseConfig config_from_json(const json& j) {
  CaseConfig c;
  c.B = j.at("B");
  c.H = j.at("H");
  c.Hkv = j.at("Hkv");
  c.L = j.at("L");
  c.D = j.at("D");
  c.t = j.at("t");
  c.dtype = parse_dtype(j.at("dtype").get<std::string>());
  c.scale = j.at("scale");
  return c;
}

H5Id open_existing(const std::string& file) {
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  if (!fs::exists(st)) fail_file(file, "no such file");
  if (fs::is_directory(st)) fail_file(file, "is a directory, expected an HDF5 file");
  const htri_t is_hdf5 = H5Fis_hdf5(file.c_str());
  if (is_hdf5 == 0) fail_file(file, "not an HDF5 file (no HDF5 signature)");
  if (is_hdf5 < 0)
    fail_file(file, "not an HDF5 file or unreadable (HDF5: " + hdf5_error_text() + ")");
  H5Id f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f) fail_file(file, "HDF5 cannot open it (truncated or damaged?): " + hdf5_error_text());
  return f;
}

json read_inputs_header(const std::string& file) {
  Hdf5Scope hdf5;
  H5Id f = open_existing(file);
  json j;
  j["schema_version"] = read_schema_version(f.get(), file, /*required=*/true);
  const CaseConfig c = read_config(f.get(), file);
  j["config"] = config_to_json(c);
  const Where root{file, "/"};
  j["input_hash"] =
      has_attribute(f.get(), "input_hash") ? read_string_attribute(f.get(), "input_hash", root) : "";
  if (path_exists(f.get(), "generator")) j["generator"] = generator_json(f.get(), file);

  const Where iw{file, "/inputs"};
  H5Id g = open_group(f.get(), "inputs", iw, "q, k0..k<t>, v0..v<t>, valid_len, grad_out");
  check_blocks(g.get(), "/inputs", "k", "key", c.t, file, false);
  check_blocks(g.get(), "/inputs", "v", "value", c.t, file, false);
  const std::string why = "the case dtype, root attribute 'dtype'";
  auto check = [&](const std::string& name, const std::vector<int64_t>& shape, const char* legend) {
    const Where w = iw.at("/inputs/" + name);
    const DatasetHeader h = read_dataset_header(g.get(), name, "shape " + shape_string(shape) +
                                                                   " (" + legend + ")", w);
    check_dataset_header(h, shape, legend, w, c.dtype, why);
  };
  const std::vector<int64_t> qs{c.B, c.H, c.L, c.D}, kvs{c.B, c.Hkv, c.L, c.D};
  check("q", qs, kQLegend);
  for (int64_t m = 0; m <= c.t; ++m) {
    check("k" + std::to_string(m), kvs, kKvLegend);
    check("v" + std::to_string(m), kvs, kKvLegend);
  }
  check("grad_out", qs, kQLegend);
  const std::vector<int64_t> valid_len =
      read_int64_vector(g.get(), "valid_len", c.B, "B", iw.at("/inputs/valid_len"));
  for (size_t b = 0; b < valid_len.size(); ++b)
    if (valid_len[b] < 0 || valid_len[b] > c.L)
      fail(iw.at("/inputs/valid_len"), "valid_len[" + std::to_string(b) + "] = " +
                                           std::to_string(valid_len[b]) + " is outside [0, L] = [0, " +
                                           std::to_string(c.L) + "]");
  j["valid_len"] = valid_len;
  return j;
}

std::vector<std::string> bundle_producer_names(const std::string& file) {
  Hdf5Scope hdf5;
  H5Id f = open_existing(file);
  std::vector<std::string> names;
  if (!path_exists(f.get(), "outputs")) return names;
  H5Id g = open_group(f.get(), "outputs", Where{file, "/outputs"}, "a group of producers");
  for (const std::string& name : link_names(g.get()))
    if (object_kind(g.get(), name) == H5I_GROUP) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

bool bundle_has_reference(const std::string& file) {
  Hdf5Scope hdf5;
  H5Id f = open_existing(file);
  return path_exists(f.get(), "reference");
}

json read_record_header(const std::string& file, const std::string& group, const CaseConfig& c) {
  Hdf5Scope hdf5;
  H5Id f = open_existing(file);
  H5Id g;
  if (group == "/") {
    read_schema_version(f.get(), file, /*required=*/false);
    g = H5Id(checked(H5Gopen2(f.get(), "/", H5P_DEFAULT), Where{file, "/"}, "cannot open the root group"));
  } else {
    g = open_group(f.get(), group.substr(1), Where{file, group}, "a record");
  }
  const Where gw{file, group};
  json j;
  j["input_hash"] = has_attribute(g.get(), "input_hash")
                        ? read_string_attribute(g.get(), "input_hash", gw)
                        : std::string();
  json prov = json::object();
  for (const std::string& name : attribute_names(g.get()))
    if (name != "input_hash" && name != "schema_version")
      prov[name] = read_attribute_as_text(g.get(), name, gw);
  j["provenance"] = prov;

  const std::string base = group == "/" ? "/" : group + "/";
  check_blocks(g.get(), group, "dk", "key-gradient", c.t, file, true);
  check_blocks(g.get(), group, "dv", "value-gradient", c.t, file, true);
  json tensors = json::array(), dtypes = json::object();
  for (const std::string& name : output_tensor_names(c.t)) {
    if (!path_exists(g.get(), name)) continue;
    const std::vector<int64_t> shape = output_shape(name, c);
    const std::string legend = record_legend(name);
    const Where w{file, base + name};
    const DatasetHeader h =
        read_dataset_header(g.get(), name, "shape " + shape_string(shape) + " (" + legend + ")", w);
    dtypes[name] = to_string(check_dataset_header(h, shape, legend, w));
    tensors.push_back(name);
  }
  if (tensors.empty() || tensors[0] != "out")
    fail(Where{file, base + "out"},
         "missing dataset: a record holds at least out (and lse, dq, dk0..dk<t>, dv0..dv<t> when "
         "recorded)");
  j["tensors"] = tensors;
  j["dtypes"] = dtypes;
  return j;
}

void read_items(const std::string& file, const std::vector<ReadItem>& items) {
  Hdf5Scope hdf5;
  H5Id f = open_existing(file);
  for (const ReadItem& it : items) {
    H5Id g(checked(H5Gopen2(f.get(), it.group.c_str(), H5P_DEFAULT), Where{file, it.group},
                   "cannot open the group"));
    const Where w{file, (it.group == "/" ? "/" : it.group + "/") + it.name};
    read_dataset(g.get(), it.name, it.dtype, it.shape, it.dest, w, it.start, it.count);
  }
}

H5Id create_file(const std::string& path, const std::string& target) {
  H5Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  // Closing the file closes every object still open in it, so nothing can write to the
  // temporary file after it has been renamed.
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  H5Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!f) fail_file(target, "cannot create " + path + ": " + hdf5_error_text());
  return f;
}

void write_inputs(hid_t f, const std::string& file, const CaseInputs& in, const std::string& hash,
                  bool compress) {
  const CaseConfig& c = in.config;
  const Where root{file, "/"};
  write_int32_attribute(f, "schema_version", kSchemaVersion, root);
  const std::pair<const char*, int64_t> ints[] = {{"B", c.B}, {"H", c.H}, {"Hkv", c.Hkv},
                                                  {"L", c.L}, {"D", c.D}, {"t", c.t}};
  for (const auto& [name, value] : ints) write_int64_attribute(f, name, value, root);
  write_string_attribute(f, "dtype", to_string(c.dtype), root);
  write_double_attribute(f, "scale", effective_scale(c), root);
  write_string_attribute(f, "input_hash", hash, root);

  const Where iw{file, "/inputs"};
  H5Id g(checked(H5Gcreate2(f, "inputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), iw,
                 "cannot create the group"));
  write_tensor(g.get(), "q", in.q, iw.at("/inputs/q"), compress);
  for (int64_t m = 0; m <= c.t; ++m) {
    const std::string k = "k" + std::to_string(m), v = "v" + std::to_string(m);
    write_tensor(g.get(), k, in.k[size_t(m)], iw.at("/inputs/" + k), compress);
    write_tensor(g.get(), v, in.v[size_t(m)], iw.at("/inputs/" + v), compress);
  }
  write_int64_vector(g.get(), "valid_len", in.valid_len, iw.at("/inputs/valid_len"));
  write_tensor(g.get(), "grad_out", in.grad_out, iw.at("/inputs/grad_out"), compress);

  if (in.generator) {
    const GeneratorParams& p = *in.generator;
    const Where gw{file, "/generator"};
    H5Id gen(checked(H5Gcreate2(f, "generator", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), gw,
                     "cannot create the group"));
    write_string_attribute(gen.get(), "preset", p.preset, gw);
    write_uint64_attribute(gen.get(), "seed", p.seed, gw);
    write_int64_array_attribute(gen.get(), "pad", p.pad, gw);
    write_double_attribute(gen.get(), "rope_theta", p.rope_theta, gw);
    write_double_attribute(gen.get(), "logit_std", p.logit_std, gw);
    write_int64_attribute(gen.get(), "outlier_channels", p.outlier_channels, gw);
    write_double_attribute(gen.get(), "outlier_gain", p.outlier_gain, gw);
    write_double_attribute(gen.get(), "grad_scale", p.grad_scale, gw);
    if (!p.rng.empty()) write_string_attribute(gen.get(), "rng", p.rng, gw);
  }
}

void write_record(hid_t g, const std::string& file, const std::string& group_path,
                  const ProducerOutputs& record, bool compress) {
  const Where gw{file, group_path};
  if (group_path == "/") write_int32_attribute(g, "schema_version", kSchemaVersion, gw);
  for (const auto& [key, value] : record.provenance)
    if (key != "input_hash" && key != "schema_version") write_string_attribute(g, key, value, gw);
  write_string_attribute(g, "input_hash", record.input_hash, gw);
  const std::string base = group_path == "/" ? "/" : group_path + "/";
  for (const std::string& name : recorded_tensors(record.outputs))
    write_tensor(g, name, *find_output(record.outputs, name), Where{file, base + name}, compress);
}

}  // namespace attn::data::detail
