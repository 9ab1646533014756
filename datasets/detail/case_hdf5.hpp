// Private: the HDF5 side of case_store.cpp. The read_* functions open existing files and so run
// inside isolated_call children; they return what they found as JSON (the parent's copy of a
// case's metadata) or read straight into the parent's shared buffers. The write_* functions
// write new files (in the parent).
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/case.hpp"
#include "datasets/detail/hdf5_handles.hpp"

namespace attn::data::detail {

/// Opens an existing HDF5 file read-only after the checks that give the clearest message:
/// exists, is a file, has the HDF5 signature, opens.
H5Id open_existing(const std::string& file);

/// The inputs of the case stored at `file` (a folder's inputs.h5 or a bundle), checked: schema
/// version, config (sizes within limits), generator attributes, valid_len (read: B values),
/// every input dataset's header (type = the case dtype, shape, storage). JSON keys:
/// schema_version, config{B,H,Hkv,L,D,t,dtype,scale}, generator{...} (optional), valid_len,
/// input_hash ("" when absent).
nlohmann::json read_inputs_header(const std::string& file);

/// The names of the producer groups under /outputs of a bundle, sorted.
std::vector<std::string> bundle_producer_names(const std::string& file);
/// Whether a bundle has a /reference group.
bool bundle_has_reference(const std::string& file);

/// A record (a producer's outputs or the reference) at group `group` of `file`, checked
/// against `c`: attributes (input_hash, provenance as text), the tensors it holds with their
/// dtype (shapes checked; dk/dv complete or absent; out recorded). JSON keys: input_hash,
/// provenance{}, tensors[], dtypes{}.
nlohmann::json read_record_header(const std::string& file, const std::string& group,
                                  const CaseConfig& c);

/// One dataset (or a box of it) to read into the parent's memory.
struct ReadItem {
  std::string group;  ///< "/inputs", "/", "/outputs/flash", ...
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;         ///< the dataset's full shape
  std::vector<int64_t> start, count;  ///< a box; empty: the whole dataset
  void* dest = nullptr;
};
void read_items(const std::string& file, const std::vector<ReadItem>& items);

/// Root attributes and /inputs, /generator of a case into the open file `f`.
void write_inputs(hid_t f, const std::string& file, const CaseInputs& in, const std::string& hash,
                  bool compress);
/// A record's attributes (input_hash, schema_version in record files, provenance) and tensors
/// into group `g` (the root of a record file, or a bundle's group).
void write_record(hid_t g, const std::string& file, const std::string& group_path,
                  const ProducerOutputs& record, bool compress);

/// A new HDF5 file at `path` (an AtomicOutput's temporary file), truncated, closing every
/// object with it.
H5Id create_file(const std::string& path, const std::string& target);

nlohmann::json config_to_json(const CaseConfig& c);
CaseConfig config_from_json(const nlohmann::json& j);

}  // namespace attn::data::detail
