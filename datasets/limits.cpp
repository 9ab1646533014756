#include "datasets/limits.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "datasets/errors.hpp"

namespace attn::data {
namespace {

uint64_t meminfo_total() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (f >> key >> kib >> unit)
    if (key == "MemTotal:") return kib * 1024;
  return 0;
}

uint64_t cgroup_limit() {
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream f(path);
    std::string text;
    if (!(f >> text) || text == "max") continue;
    try {
      const uint64_t v = std::stoull(text);
      if (v > 0 && v < (uint64_t(1) << 60)) return v;  // cgroup v1 reports "no limit" as ~2^63
    } catch (...) {
    }
  }
  return 0;
}

}  // namespace

uint64_t physical_memory_bytes() {
  const uint64_t total = meminfo_total(), limit = cgroup_limit();
  if (total == 0) return limit;
  return limit > 0 && limit < total ? limit : total;
}

void require_memory(uint64_t bytes, const std::string& what) {
  const uint64_t have = physical_memory_bytes();
  if (have > 0 && bytes > have)
    throw InputError(what + " needs " + byte_size_text(bytes) + " of memory; this machine has " +
                     byte_size_text(have));
}

std::string byte_size_text(uint64_t bytes) {
  char buf[48];
  const double b = double(bytes);
  if (bytes >= (uint64_t(1) << 30))
    std::snprintf(buf, sizeof buf, "%.1f GiB", b / double(uint64_t(1) << 30));
  else if (bytes >= (uint64_t(1) << 20))
    std::snprintf(buf, sizeof buf, "%.0f MiB", b / double(uint64_t(1) << 20));
  else if (bytes >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  return buf;
}

}  // namespace attn::data
