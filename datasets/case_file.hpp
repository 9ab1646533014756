// HDF5 case files (../shared/DESIGN.md section 4; README.md "Case files" documents the layout).
//
//   /                      attrs: schema_version (int), B H Hkv L D t (int64), dtype (string),
//                                 scale (double)
//   /inputs/q              [B,H,L,D]      in the case dtype
//   /inputs/k0 .. k<t>     [B,Hkv,L,D]
//   /inputs/v0 .. v<t>     [B,Hkv,L,D]
//   /inputs/valid_len      [B]            int64
//   /inputs/grad_out       [B,H,L,D]
//   /generator             attrs: preset, seed, pad, rope_theta, logit_std, ... (optional)
//   /outputs/<producer>/   out, lse [B,H,L], dq, dk0..dk<t>, dv0..dv<t>; attrs: provenance
//   /reference/            the cached fp64 reference, same datasets as a producer;
//                          attrs: input_hash (the key), plus provenance
//
// bf16 is an HDF5 16-bit float type with bf16's field layout (sign bit 15, 8 exponent bits at
// 7, 7 mantissa bits at 0, bias 127), so HDF5's own conversion reads it as float32 exactly.
// Every write goes to "<file>.tmp<pid>" in the same folder and is renamed over the target.
// Every read failure throws InputError naming the file, the dataset, what was expected and
// what was found.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/case.hpp"

namespace attn::data {

inline constexpr int kSchemaVersion = 1;

/// Creates (or replaces) `path` holding only the inputs. Validates shapes first.
void write_case(const std::filesystem::path& path, const CaseInputs& inputs);

/// Reads and validates the inputs. Throws InputError for: missing file, not HDF5 or truncated,
/// newer schema_version, missing attribute or dataset, inconsistent shape, unsupported element
/// type, valid_len outside [0, L], NaN or Inf in an input.
CaseInputs read_case_inputs(const std::filesystem::path& path);

/// Names of the groups under /outputs, sorted.
std::vector<std::string> list_producers(const std::filesystem::path& path);

/// Reads /outputs/<name>; `inputs` gives the expected shapes (checked, errors name the dataset).
ProducerOutputs read_producer(const std::filesystem::path& path, const std::string& name,
                              const CaseInputs& inputs);

/// Adds or replaces /outputs/<name> (copy to temp, modify, rename: the original stays intact
/// until the new file is complete). Outputs are stored in each tensor's own dtype.
void write_producer(const std::filesystem::path& path, const ProducerOutputs& producer);

/// A stable 64-bit FNV-1a hash, as 16 hex digits, of the config and the exact input values
/// (q, k, v, valid_len, grad_out). Keys the cached reference.
std::string input_hash(const CaseInputs& inputs);

/// The cached reference if present and its input_hash equals `hash`.
std::optional<ProducerOutputs> read_cached_reference(const std::filesystem::path& path,
                                                     const std::string& hash,
                                                     const CaseInputs& inputs);

/// Stores the fp64 reference under /reference with attrs input_hash = hash and `provenance`.
void write_cached_reference(const std::filesystem::path& path, const ProducerOutputs& reference,
                            const std::string& hash);

/// Throws InputError unless `inputs` is self-consistent (the checks read_case_inputs applies
/// after reading); used by the writer and the generator.
void validate_case(const CaseInputs& inputs, const std::string& where);

/// Provenance attributes of /outputs/<name>, without reading its tensors.
std::map<std::string, std::string> read_producer_provenance(const std::filesystem::path& path,
                                                            const std::string& name);

/// The key and provenance of /reference, whatever its key; nullopt when the file has none.
struct CachedReferenceInfo {
  std::string input_hash;
  std::map<std::string, std::string> provenance;
};
std::optional<CachedReferenceInfo> read_cached_reference_info(const std::filesystem::path& path);

}  // namespace attn::data
