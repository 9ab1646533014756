#include "reports/performance/perf_json_file.hpp"

#include <fstream>
#include <iterator>

#if ATTN_HAVE_ZLIB
#include <zlib.h>
#endif

#include "datasets/errors.hpp"

namespace attn::report {

namespace {

bool starts_like_gzip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  return in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

/// The file's bytes, decompressed when it is gzipped.
std::string read_bytes(const std::string& path, const std::string& where) {
  if (!std::ifstream(path, std::ios::binary)) throw data::InputError(where + ": cannot open (missing or unreadable)");
  if (!starts_like_gzip(path)) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
#if ATTN_HAVE_ZLIB
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw data::InputError(where + ": cannot open (missing or unreadable)");
  std::string bytes;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) bytes.append(buf, size_t(n));
  // A cut file ends without an error from gzread; zlib reports it as Z_BUF_ERROR afterwards.
  int code = Z_OK;
  const std::string message = gzerror(f, &code);
  gzclose(f);
  if (n < 0 || (code != Z_OK && code != Z_STREAM_END))
    throw data::InputError(where + ": a damaged gzip file (" + message + ")");
  return bytes;
#else
  throw data::InputError(where + ": gzipped, and this build has no zlib: gunzip it first");
#endif
}

}  // namespace

nlohmann::json read_json_file(const std::string& path, const std::string& label) {
  const std::string where = label.empty() ? path : label;
  const std::string bytes = read_bytes(path, where);
  try {
    return nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& e) {
    throw data::InputError(where + ": not JSON: " + e.what());
  }
}

}  // namespace attn::report
