// Cases on disk (docs/case-format.md is the user-facing description).
//
// A case is a folder (schema 2):
//
//   CASE/inputs.h5            the inputs: root attrs schema_version, B H Hkv L D t, dtype, scale,
//                             input_hash; /inputs/q, k0..k<t>, v0..v<t>, valid_len, grad_out;
//                             /generator attrs (generated cases). On its own it is a bundle.
//   CASE/reference.h5         the cached fp64 reference: root attrs input_hash and provenance,
//                             root datasets out, lse, dq, dk0.., dv0..
//   CASE/outputs/<name>.h5    one file per producer, laid out as reference.h5
//
// Every file is written whole under a temporary name in its folder and renamed into place, so
// no write copies or rewrites data that is already there, a reader never sees a half-written
// file, and writers of different producers never touch the same file.
//
// A bundle is one HDF5 file holding a whole case, for sharing and for fixtures: the inputs as
// above, /reference and /outputs/<name> groups laid out like the record files. Schema 1 (the
// single-file format of earlier versions) is a bundle whose records carry no input_hash.
// attn-harness reads bundles and never modifies them (`pack` and `unpack` convert).
//
// Every read of an existing file runs in a child process (detail/isolated_call.hpp): a damaged
// file that crashes or hangs the HDF5 library becomes an InputError naming the file. Every
// failure throws InputError naming the file, the object, what was expected and what was found.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/case.hpp"

namespace attn::data {

inline constexpr int kSchemaVersion = 2;
inline constexpr const char* kInputsFileName = "inputs.h5";
inline constexpr const char* kReferenceFileName = "reference.h5";
inline constexpr const char* kOutputsFolderName = "outputs";

enum class CaseFormat { folder, bundle };
std::string to_string(CaseFormat f);

/// A recorded producer or the cached reference, as its attributes and dataset headers
/// describe it (no tensor values).
struct RecordInfo {
  std::string name;        ///< producer name; "reference" for the cached reference
  std::string file;        ///< the HDF5 file holding it
  std::string group;       ///< its group there: "/" in a folder, "/outputs/<name>" or "/reference"
  std::string input_hash;  ///< of the inputs it was computed from; "" when absent (schema 1)
  std::map<std::string, std::string> provenance;  ///< every other attribute, as text
  std::vector<std::string> tensors;               ///< recorded tensors, output_tensor_names order
  std::map<std::string, DType> tensor_dtypes;
  uint64_t bytes = 0;      ///< size of its file (folder cases); 0 in a bundle
  std::string damage;      ///< why it cannot be used ("" when it can); then the rest may be empty
};

/// A record against the inputs it is judged with.
enum class RecordState {
  current,     ///< its input_hash equals the inputs' hash
  stale,       ///< computed from other inputs: reported, never judged
  unverified,  ///< no input_hash (schema 1): judged with a note; `migrate` ties it to the inputs
  damaged,     ///< cannot be read (RecordInfo::damage says why)
};
std::string to_string(RecordState s);
RecordState record_state(const RecordInfo& r, const std::string& input_hash);

/// What a case holds, from attributes and small datasets only (no tensor is read).
struct CaseManifest {
  std::filesystem::path path;
  CaseFormat format = CaseFormat::folder;
  int schema_version = kSchemaVersion;
  CaseConfig config;
  std::vector<int64_t> valid_len;
  std::optional<GeneratorParams> generator;
  std::string recorded_input_hash;  ///< the inputs' hash as written with them; "" in schema 1
  std::vector<RecordInfo> producers;  ///< sorted by name
  std::optional<RecordInfo> reference;
  uint64_t bytes = 0;               ///< every file of the case together
  /// Temporary files of writers that were killed (".<file>.tmp.<pid>..."); the next write in
  /// the same folder removes those of processes that are gone.
  std::vector<std::string> leftover_temporaries;

  const RecordInfo* find_producer(const std::string& name) const;
  std::vector<std::string> producer_names() const;
};

/// Reads the manifest of a case folder or bundle. Throws InputError when the case or its
/// inputs' attributes cannot be read; a damaged producer or reference file is described in its
/// RecordInfo::damage instead, so the rest of the case stays usable.
CaseManifest read_manifest(const std::filesystem::path& case_path);

/// Reads every input, checks them (types, shapes, valid_len, NaN and Inf) and returns them.
CaseInputs read_case_inputs(const CaseManifest& m);
CaseInputs read_case_inputs(const std::filesystem::path& case_path);

/// Reads the tensors `names` of a record (all it holds when empty). The record must not be
/// damaged; a name it does not hold is an InputError listing what it holds.
AttentionOutputs read_record(const CaseManifest& m, const RecordInfo& r,
                             const std::vector<std::string>& names = {});

/// Rows [row0, row0 + rows) of tensor `name` at batch element b and head (or kv head) x:
/// shape [rows, D], or [rows] for lse. Reads those rows only.
Tensor read_record_rows(const CaseManifest& m, const RecordInfo& r, const std::string& name,
                        int64_t b, int64_t x, int64_t row0, int64_t rows);

/// Throws InputError unless `inputs` is self-consistent: sizes within limits.hpp, shapes,
/// dtypes, valid_len in [0, L], every value finite. Used by the writer and the generator.
void validate_case(const CaseInputs& inputs, const std::string& where);

// ---- writing (case folders) ------------------------------------------------------------------

/// Writes `folder`/inputs.h5 (creating the folder when needed), with the inputs' hash. Records
/// already in the folder stay; they become stale unless the inputs are the same.
void write_case(const std::filesystem::path& folder, const CaseInputs& inputs);

/// Writes `folder`/outputs/<name>.h5 (replacing an earlier one of the same name). The record's
/// input_hash must be set; the tensors it holds are checked against the case's shapes.
void write_producer(const CaseManifest& m, const ProducerOutputs& producer);

/// Writes `folder`/reference.h5.
void write_reference(const CaseManifest& m, const ProducerOutputs& reference);

/// "" when a record file `file_name` ("reference.h5", "outputs/flash.h5") can be written into
/// the case; otherwise why not, in a sentence: the case is a bundle, the folder cannot be
/// written by this process (whatever the reason: permissions, a read-only mount, ...), or the
/// file exists and has no write permission for anyone.
std::string record_write_blocker(const CaseManifest& m, const std::string& file_name);

// ---- bundles ----------------------------------------------------------------------------------

/// Writes a single-file bundle (schema 2) holding the inputs, the given producers and the
/// reference (when not null).
void write_bundle(const std::filesystem::path& file, const CaseInputs& inputs,
                  const std::vector<ProducerOutputs>& producers, const ProducerOutputs* reference);

}  // namespace attn::data
