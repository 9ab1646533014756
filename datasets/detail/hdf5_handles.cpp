#include "datasets/detail/hdf5_handles.hpp"

#include <cstdio>
#include <cstring>

#include "datasets/errors.hpp"

namespace attn::data::detail {

// ---- H5Id ----------------------------------------------------------------------------------

H5Id& H5Id::operator=(H5Id&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

herr_t H5Id::close() {
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  if (id < 0 || H5Iis_valid(id) <= 0) return 0;
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      return H5Fclose(id);
    case H5I_GROUP:
      return H5Gclose(id);
    case H5I_DATATYPE:
      return H5Tclose(id);
    case H5I_DATASPACE:
      return H5Sclose(id);
    case H5I_DATASET:
      return H5Dclose(id);
    case H5I_ATTR:
      return H5Aclose(id);
    case H5I_GENPROP_LST:
      return H5Pclose(id);
    case H5I_ERROR_STACK:
      return H5Eclose_stack(id);
    default:
      return H5Idec_ref(id) < 0 ? -1 : 0;
  }
}

// ---- errors --------------------------------------------------------------------------------

namespace {
std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}
}  // namespace

Hdf5Scope::Hdf5Scope() : lock_(hdf5_mutex()) {
  H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Hdf5Scope::~Hdf5Scope() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

namespace {

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  if (err && err->desc && *err->desc) {
    std::string d;
    for (const char* c = err->desc; *c; ++c) {  // some descriptions span lines: make them one
      const char ch = (*c == '\n' || *c == '\t') ? ' ' : *c;
      if (!(ch == ' ' && !d.empty() && d.back() == ' ')) d += ch;
    }
    while (!d.empty() && d.back() == ' ') d.pop_back();
    for (size_t at; (at = d.find(" ,")) != std::string::npos;) d.erase(at, 1);
    if (out->empty() || out->back() != d) out->push_back(std::move(d));
  }
  return 0;
}

}  // namespace

std::string hdf5_error_text() {
  // Take the stack first (H5Eget_current_stack copies and clears it), then walk the copy:
  // walking the live stack while calling other API functions could clear it under us.
  H5Id stack(H5Eget_current_stack());
  if (!stack) return "";
  std::vector<std::string> lines;
  H5Ewalk2(stack.get(), H5E_WALK_DOWNWARD, collect_error, &lines);
  std::string text;
  for (const std::string& l : lines) text += (text.empty() ? "" : "; ") + l;
  return text;
}

void fail(const Where& where, const std::string& what) {
  throw InputError(where.text() + ": " + what);
}

void fail_hdf5(const Where& where, const std::string& what) {
  const std::string stack = hdf5_error_text();
  fail(where, stack.empty() ? what : what + " (HDF5: " + stack + ")");
}

hid_t checked(hid_t id, const Where& where, const std::string& what) {
  if (id < 0) fail_hdf5(where, what);
  return id;
}

void checked(herr_t status, const Where& where, const std::string& what) {
  if (status < 0) fail_hdf5(where, what);
}

// ---- element types -------------------------------------------------------------------------

namespace {

struct FloatLayout {
  size_t size, spos, epos, esize, mpos, msize, ebias;
};

// Field layouts: IEEE 754 binary16/32/64, and bfloat16 (binary32's top 16 bits).
constexpr FloatLayout kBf16{2, 15, 7, 8, 0, 7, 127};
constexpr FloatLayout kHalf{2, 15, 10, 5, 0, 10, 15};
constexpr FloatLayout kF32{4, 31, 23, 8, 0, 23, 127};
constexpr FloatLayout kF64{8, 63, 52, 11, 0, 52, 1023};

std::optional<FloatLayout> layout_of(hid_t type) {
  if (H5Tget_class(type) != H5T_FLOAT) return std::nullopt;
  FloatLayout l{};
  l.size = H5Tget_size(type);
  if (H5Tget_fields(type, &l.spos, &l.epos, &l.esize, &l.mpos, &l.msize) < 0) return std::nullopt;
  l.ebias = H5Tget_ebias(type);
  if (H5Tget_offset(type) != 0 || H5Tget_precision(type) != 8 * l.size)
    l.size = 0;  // padded: no match
  if (H5Tget_norm(type) != H5T_NORM_IMPLIED) l.size = 0;
  return l;
}

bool same(const FloatLayout& a, const FloatLayout& b) {
  return a.size == b.size && a.spos == b.spos && a.epos == b.epos && a.esize == b.esize &&
         a.mpos == b.mpos && a.msize == b.msize && a.ebias == b.ebias;
}

}  // namespace

H5Id make_bf16_type() {
  // Start from binary32 and narrow it. HDF5 checks each call against the current size and
  // precision, so the fields go first (they fit in 32 bits and in the later 16), then the
  // precision, then the size (H5Tset_size needs offset + precision <= 8 * size).
  H5Id t(H5Tcopy(H5T_IEEE_F32LE));
  const Where w{"(memory)", "bf16 type"};
  checked(t.get(), w, "H5Tcopy failed");
  checked(H5Tset_fields(t.get(), kBf16.spos, kBf16.epos, kBf16.esize, kBf16.mpos, kBf16.msize), w,
          "H5Tset_fields failed");
  checked(H5Tset_offset(t.get(), 0), w, "H5Tset_offset failed");
  checked(H5Tset_precision(t.get(), 16), w, "H5Tset_precision failed");
  checked(H5Tset_size(t.get(), 2), w, "H5Tset_size failed");
  checked(H5Tset_ebias(t.get(), kBf16.ebias), w, "H5Tset_ebias failed");
  return t;
}

std::optional<DType> float_dtype_of(hid_t type) {
  const auto l = layout_of(type);
  if (!l) return std::nullopt;
  if (same(*l, kBf16)) return DType::bf16;
  if (same(*l, kF32)) return DType::f32;
  if (same(*l, kF64)) return DType::f64;
  return std::nullopt;
}

H5Id file_type_for(DType d) {
  switch (d) {
    case DType::bf16:
      return make_bf16_type();
    case DType::f32:
      return H5Id(H5Tcopy(H5T_IEEE_F32LE));
    case DType::f64:
      return H5Id(H5Tcopy(H5T_IEEE_F64LE));
  }
  return H5Id();
}

H5Id memory_type_for(DType d) {
  switch (d) {
    case DType::bf16:
      return make_bf16_type();  // raw bits; x86-64 and aarch64 are little-endian
    case DType::f32:
      return H5Id(H5Tcopy(H5T_NATIVE_FLOAT));
    case DType::f64:
      return H5Id(H5Tcopy(H5T_NATIVE_DOUBLE));
  }
  return H5Id();
}

std::string describe_type(hid_t type) {
  const size_t bits = 8 * H5Tget_size(type);
  const std::string nbit = std::to_string(bits) + "-bit ";
  const bool big = H5Tget_order(type) == H5T_ORDER_BE;
  const std::string order = big ? " big-endian" : "";
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return nbit + (H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned " : "") + "integer" +
             (big ? " (big-endian)" : "");
    case H5T_FLOAT: {
      const auto l = layout_of(type);
      const std::string suffix = big ? ", big-endian" : "";
      if (l && same(*l, kBf16)) return "bfloat16" + suffix;
      if (l && same(*l, kHalf)) return "16-bit IEEE half (float16" + suffix + ")";
      if (l && same(*l, kF32)) return "32-bit IEEE float (float32" + suffix + ")";
      if (l && same(*l, kF64)) return "64-bit IEEE float (float64" + suffix + ")";
      size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
      H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
      return nbit + "float with sign bit " + std::to_string(spos) + ", " + std::to_string(esize) +
             " exponent bits at " + std::to_string(epos) + ", " + std::to_string(msize) +
             " mantissa bits at " + std::to_string(mpos) + ", bias " +
             std::to_string(H5Tget_ebias(type)) + ", precision " +
             std::to_string(H5Tget_precision(type)) + order;
    }
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0 ? "variable-length string" : nbit + "fixed-length string";
    case H5T_TIME:
      return nbit + "time";
    case H5T_BITFIELD:
      return nbit + "bitfield";
    case H5T_OPAQUE:
      return nbit + "opaque type";
    case H5T_COMPOUND:
      return "compound type";
    case H5T_REFERENCE:
      return "reference";
    case H5T_ENUM:
      return "enum type";
    case H5T_VLEN:
      return "variable-length sequence";
    case H5T_ARRAY:
      return "array type";
    default:
      return "unknown type";
  }
}

// ---- links ---------------------------------------------------------------------------------

bool path_exists(hid_t loc, const std::string& path) {
  // H5Lexists fails (rather than answering false) when an intermediate group is missing, so
  // walk the path one component at a time.
  std::string prefix;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string part =
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash != std::string::npos && H5Oexists_by_name(loc, prefix.c_str(), H5P_DEFAULT) <= 0)
        return false;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return !prefix.empty();
}

namespace {

herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

}  // namespace

std::vector<std::string> link_names(hid_t group) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &names);
  return names;
}

H5I_type_t object_kind(hid_t loc, const std::string& path) {
  H5Id obj(H5Oopen(loc, path.c_str(), H5P_DEFAULT));
  if (!obj) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  return H5Iget_type(obj.get());
}

// ---- attributes ----------------------------------------------------------------------------

bool has_attribute(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::vector<std::string> attribute_names(hid_t obj) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attribute, &names);
  return names;
}

namespace {

Where attr_where(const Where& w, const std::string& name) {
  return w.at("attribute '" + name + "' of " + w.object);
}

void write_attribute(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type,
                     hid_t space, const void* data, const Where& w) {
  const Where aw = attr_where(w, name);
  if (H5Aexists(obj, name.c_str()) > 0)
    checked(H5Adelete(obj, name.c_str()), aw, "cannot replace it");
  H5Id a(checked(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT), aw,
                 "cannot create it"));
  checked(H5Awrite(a.get(), mem_type, data), aw, "cannot write it");
}

void write_scalar(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type,
                  const void* data, const Where& w) {
  H5Id space(H5Screate(H5S_SCALAR));
  write_attribute(obj, name, file_type, mem_type, space.get(), data, w);
}

/// An open attribute plus its type and element count, after the existence check.
struct OpenAttribute {
  H5Id attr, type, space;
  hssize_t count = 0;
  Where where;
};

OpenAttribute open_attribute(hid_t obj, const std::string& name, const Where& w,
                             const std::string& expected) {
  OpenAttribute a;
  a.where = attr_where(w, name);
  if (H5Aexists(obj, name.c_str()) <= 0) fail(a.where, "missing (expected " + expected + ")");
  a.attr = H5Id(checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), a.where, "cannot open it"));
  a.type = H5Id(checked(H5Aget_type(a.attr.get()), a.where, "cannot read its type"));
  a.space = H5Id(checked(H5Aget_space(a.attr.get()), a.where, "cannot read its dataspace"));
  a.count = H5Sget_simple_extent_npoints(a.space.get());
  if (H5Sget_simple_extent_type(a.space.get()) == H5S_NULL) a.count = 0;
  return a;
}

void require_class(const OpenAttribute& a, bool ok, const std::string& expected) {
  if (!ok) fail(a.where, "expected " + expected + ", found " + describe_type(a.type.get()));
}

void require_single(const OpenAttribute& a, const std::string& expected) {
  if (a.count != 1)
    fail(a.where,
         "expected a single " + expected + ", found " + std::to_string(a.count) + " values");
}

template <typename T>
T read_single(hid_t obj, const std::string& name, const Where& w, hid_t mem_type, bool allow_float,
              const std::string& expected) {
  OpenAttribute a = open_attribute(obj, name, w, expected);
  const H5T_class_t c = H5Tget_class(a.type.get());
  require_class(a, c == H5T_INTEGER || (allow_float && c == H5T_FLOAT), expected);
  require_single(a, expected);
  T value{};
  checked(H5Aread(a.attr.get(), mem_type, &value), a.where, "cannot read it");
  return value;
}

std::string read_string(const OpenAttribute& a) {
  const H5T_cset_t cset = H5Tget_cset(a.type.get());
  if (H5Tis_variable_str(a.type.get()) > 0) {
    H5Id mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), cset);
    char* p = nullptr;
    checked(H5Aread(a.attr.get(), mem.get(), &p), a.where, "cannot read it");
    std::string s = p ? p : "";
    if (p) H5free_memory(p);
    return s;
  }
  const size_t n = H5Tget_size(a.type.get());
  H5Id mem(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem.get(), n);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  H5Tset_cset(mem.get(), cset);
  std::vector<char> buf(n + 1, '\0');
  checked(H5Aread(a.attr.get(), mem.get(), buf.data()), a.where, "cannot read it");
  return std::string(buf.data(), strnlen(buf.data(), n));
}

std::string format_double(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

}  // namespace

void write_string_attribute(hid_t obj, const std::string& name, const std::string& value,
                            const Where& w) {
  H5Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  const char* p = value.c_str();
  write_scalar(obj, name, type.get(), type.get(), &p, w);
}

void write_int32_attribute(hid_t obj, const std::string& name, int32_t value, const Where& w) {
  write_scalar(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &value, w);
}

void write_int64_attribute(hid_t obj, const std::string& name, int64_t value, const Where& w) {
  write_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, w);
}

void write_uint64_attribute(hid_t obj, const std::string& name, uint64_t value, const Where& w) {
  write_scalar(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value, w);
}

void write_double_attribute(hid_t obj, const std::string& name, double value, const Where& w) {
  write_scalar(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, w);
}

void write_int64_array_attribute(hid_t obj, const std::string& name,
                                 const std::vector<int64_t>& values, const Where& w) {
  const hsize_t n = values.size();
  H5Id space(values.empty() ? H5Screate(H5S_NULL) : H5Screate_simple(1, &n, nullptr));
  write_attribute(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.get(), values.data(), w);
}

int64_t read_int64_attribute(hid_t obj, const std::string& name, const Where& w) {
  return read_single<int64_t>(obj, name, w, H5T_NATIVE_INT64, false, "an integer");
}

uint64_t read_uint64_attribute(hid_t obj, const std::string& name, const Where& w) {
  return read_single<uint64_t>(obj, name, w, H5T_NATIVE_UINT64, false, "an unsigned integer");
}

double read_double_attribute(hid_t obj, const std::string& name, const Where& w) {
  return read_single<double>(obj, name, w, H5T_NATIVE_DOUBLE, true, "a number");
}

std::string read_string_attribute(hid_t obj, const std::string& name, const Where& w) {
  OpenAttribute a = open_attribute(obj, name, w, "a string");
  require_class(a, H5Tget_class(a.type.get()) == H5T_STRING, "a string");
  require_single(a, "string");
  return read_string(a);
}

std::vector<int64_t> read_int64_array_attribute(hid_t obj, const std::string& name,
                                                const Where& w) {
  OpenAttribute a = open_attribute(obj, name, w, "an integer array");
  require_class(a, H5Tget_class(a.type.get()) == H5T_INTEGER, "an integer array");
  std::vector<int64_t> values(static_cast<size_t>(a.count));
  if (!values.empty())
    checked(H5Aread(a.attr.get(), H5T_NATIVE_INT64, values.data()), a.where, "cannot read it");
  return values;
}

std::string read_attribute_as_text(hid_t obj, const std::string& name, const Where& w) {
  OpenAttribute a = open_attribute(obj, name, w, "a value");
  const H5T_class_t c = H5Tget_class(a.type.get());
  if (c == H5T_STRING && a.count == 1) return read_string(a);
  if ((c == H5T_INTEGER || c == H5T_FLOAT) && a.count >= 1) {
    std::vector<std::string> parts;
    if (c == H5T_FLOAT) {
      std::vector<double> v(static_cast<size_t>(a.count));
      checked(H5Aread(a.attr.get(), H5T_NATIVE_DOUBLE, v.data()), a.where, "cannot read it");
      for (double x : v) parts.push_back(format_double(x));
    } else if (H5Tget_sign(a.type.get()) == H5T_SGN_NONE) {
      std::vector<uint64_t> v(static_cast<size_t>(a.count));
      checked(H5Aread(a.attr.get(), H5T_NATIVE_UINT64, v.data()), a.where, "cannot read it");
      for (uint64_t x : v) parts.push_back(std::to_string(x));
    } else {
      std::vector<int64_t> v(static_cast<size_t>(a.count));
      checked(H5Aread(a.attr.get(), H5T_NATIVE_INT64, v.data()), a.where, "cannot read it");
      for (int64_t x : v) parts.push_back(std::to_string(x));
    }
    if (parts.size() == 1 && H5Sget_simple_extent_ndims(a.space.get()) == 0) return parts[0];
    std::string s = "[";
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
    return s + "]";
  }
  return "<" + describe_type(a.type.get()) + ">";
}

}  // namespace attn::data::detail
