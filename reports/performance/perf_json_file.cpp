#include "reports/performance/perf_json_file.hpp"

#if ATTN_HAVE_ZLIB
#include <zlib.h>
#else
#include <fstream>
#include <iterator>
#endif

#include "datasets/errors.hpp"

namespace attn::report {

namespace {

/// The file's bytes, decompressed when it is gzipped; the file is opened once.
std::string read_bytes(const std::string& path, const std::string& where) {
#if ATTN_HAVE_ZLIB
  // gzread returns a plain file's bytes as they are and a gzipped file's decompressed.
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw data::InputError(where + ": cannot open (missing or unreadable)");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b)
    throw data::InputError(where + ": gzipped, and this build has no zlib: gunzip it first");
  return bytes;
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
