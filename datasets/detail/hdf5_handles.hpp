// Private HDF5 helpers of the case-file layer (HDF5 1.10 C API only): an owning hid_t, capture
// of HDF5's error stack for messages, element-type classification, attribute and link helpers.
// Every failure throws InputError with "<object> in <file>: <what>".
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "datasets/dtype.hpp"

namespace attn::data::detail {

/// Owns one HDF5 identifier and closes it with the H5*close its kind needs (by H5Iget_type).
/// Non-copyable, movable. Negative ids are "empty". Ids already invalidated by HDF5 (a file
/// closed with H5F_CLOSE_STRONG closes its objects) are skipped.
class H5Id {
 public:
  H5Id() = default;
  explicit H5Id(hid_t id) : id_(id) {}
  ~H5Id() { reset(); }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  H5Id(H5Id&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  H5Id& operator=(H5Id&& other) noexcept;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  explicit operator bool() const { return valid(); }

  /// Closes now and returns HDF5's status (negative on failure, e.g. a failed flush); the
  /// handle is empty afterwards. The destructor closes silently.
  herr_t close();
  void reset() noexcept { (void)close(); }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// Held by every public entry point of the case-file layer for its duration:
///  - serializes HDF5 use within the process (the Debian and Ubuntu HDF5 builds are not
///    thread-safe; a recursive mutex, so nested entry points are fine);
///  - turns HDF5's automatic error printing off and restores the previous handler after, so a
///    failure is reported once, through the InputError message (see hdf5_error_text()).
class Hdf5Scope {
 public:
  Hdf5Scope();
  ~Hdf5Scope();
  Hdf5Scope(const Hdf5Scope&) = delete;
  Hdf5Scope& operator=(const Hdf5Scope&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

/// The descriptions on HDF5's current error stack, outermost (the API call) first and the
/// innermost cause last, joined by "; ". Clears the stack. "" when it is empty.
std::string hdf5_error_text();

/// What a message points at: "<object> in <file>".
struct Where {
  std::string file;
  std::string object;  ///< "/inputs/q", "attribute 'B' of /", ...
  std::string text() const { return object + " in " + file; }
  Where at(const std::string& other_object) const { return Where{file, other_object}; }
};

/// Throws InputError("<object> in <file>: what").
[[noreturn]] void fail(const Where& where, const std::string& what);
/// As fail(), with HDF5's error stack appended ("what (HDF5: ...)").
[[noreturn]] void fail_hdf5(const Where& where, const std::string& what);
/// `id` if valid, else fail_hdf5(where, what).
hid_t checked(hid_t id, const Where& where, const std::string& what);
void checked(herr_t status, const Where& where, const std::string& what);

// ---- element types -------------------------------------------------------------------------

/// A new little-endian 16-bit float type with bfloat16's layout: IEEE binary32's fields cut to
/// the top half (sign bit 15, exponent bits 7..14, mantissa bits 0..6, bias 127).
H5Id make_bf16_type();

/// bf16, f32 or f64 when `type` is a float type with exactly that layout (either byte order;
/// HDF5 converts), else nullopt.
std::optional<DType> float_dtype_of(hid_t type);

/// The file type a tensor of `d` is stored as (bf16: a new type; others: predefined IEEE LE).
H5Id file_type_for(DType d);
/// The in-memory type to read or write a buffer of `d` (uint16 bits / float / double).
H5Id memory_type_for(DType d);

/// Human words for a type: "bfloat16", "32-bit IEEE float (float32)", "16-bit IEEE half
/// (float16)", "32-bit integer", "8-bit unsigned integer", "string", ...
std::string describe_type(hid_t type);

// ---- links ---------------------------------------------------------------------------------

/// True when every component of the relative `path` ("outputs/torch") exists as a link.
bool path_exists(hid_t loc, const std::string& path);
/// Names of the links directly under `group`, in name order.
std::vector<std::string> link_names(hid_t group);
/// H5I_GROUP, H5I_DATASET, ... of the object at `path` (which must exist).
H5I_type_t object_kind(hid_t loc, const std::string& path);

// ---- attributes ----------------------------------------------------------------------------

bool has_attribute(hid_t obj, const std::string& name);
std::vector<std::string> attribute_names(hid_t obj);

/// Writers replace an existing attribute of the same name. Strings are variable-length UTF-8
/// (what h5py writes for a Python str); numbers use little-endian standard types.
void write_string_attribute(hid_t obj, const std::string& name, const std::string& value,
                            const Where& w);
void write_int32_attribute(hid_t obj, const std::string& name, int32_t value, const Where& w);
void write_int64_attribute(hid_t obj, const std::string& name, int64_t value, const Where& w);
void write_uint64_attribute(hid_t obj, const std::string& name, uint64_t value, const Where& w);
void write_double_attribute(hid_t obj, const std::string& name, double value, const Where& w);
void write_int64_array_attribute(hid_t obj, const std::string& name,
                                 const std::vector<int64_t>& values, const Where& w);

/// Readers fail naming the attribute (as w.at("attribute 'NAME' of " + w.object)) when it is
/// missing, of another class, or not a single value. Integers of any width and signedness and
/// fixed- or variable-length strings are accepted; HDF5 converts.
int64_t read_int64_attribute(hid_t obj, const std::string& name, const Where& w);
uint64_t read_uint64_attribute(hid_t obj, const std::string& name, const Where& w);
double read_double_attribute(hid_t obj, const std::string& name,
                             const Where& w);  ///< float or integer
std::string read_string_attribute(hid_t obj, const std::string& name, const Where& w);
std::vector<int64_t> read_int64_array_attribute(hid_t obj, const std::string& name, const Where& w);
/// Any string or numeric attribute as text (numbers: "%.17g"; arrays: "[a, b]"); other types
/// as "<description>". For free-form provenance.
std::string read_attribute_as_text(hid_t obj, const std::string& name, const Where& w);

}  // namespace attn::data::detail
