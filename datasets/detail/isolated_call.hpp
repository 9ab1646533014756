// Runs work that reads existing HDF5 files in a forked child process. The HDF5 library trusts
// the metadata it reads: a damaged file can make it read out of bounds and crash, or loop.
// In a child, a crash or a hang becomes an InputError naming what was being read, and the
// parent (with its other cases, its summary and its JUnit file) carries on.
//
// Data travels back through memory the parent maps as shared before the fork
// (shared_memory()), so large tensors are read once, straight into the parent's buffers.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace attn::data::detail {

/// `bytes` of zero-filled memory shared with child processes forked after this call
/// (mmap MAP_SHARED | MAP_ANONYMOUS, 64-byte aligned); unmapped when the last owner goes.
/// Throws InputError when the mapping fails.
std::shared_ptr<void> shared_memory(size_t bytes);

/// Runs work() in a forked child and returns the text it returned. An InputError thrown by
/// work() is rethrown here with its message; any other exception, a crash (a signal), or
/// running past timeout_s (the child is then killed) throws InputError("<what>: <why>").
/// Calls are serialized within the process; call it from one thread (not from inside a
/// parallel region).
std::string isolated_call(const std::string& what, double timeout_s,
                          const std::function<std::string()>& work);

/// Seconds a read may take before it is called hung: ATTN_READ_TIMEOUT_S when set to a
/// positive number, else `default_s`.
double read_timeout(double default_s);

/// True in a child started by isolated_call (for code that must not act there, such as the
/// signal handlers that remove the parent's temporary files).
bool in_isolated_child();

}  // namespace attn::data::detail
