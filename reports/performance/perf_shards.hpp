// The shards of a sharded run (attn-bench / flex_adapter.py bench --shard i/n, one file each)
// merged into one report: what is missing or doubled among them.
#pragma once

#include <string>
#include <vector>

#include "reports/performance/perf_results.hpp"

namespace attn::report {

/// Notes for the report (empty when the shards are complete and consistent, or none is
/// sharded). Sources are grouped by program (the file name of the context's executable:
/// attn-bench, flex_adapter.py) and shard count n; for each group the notes name
///   - the shards i/n of which no file was given (their benchmarks are absent from the report),
///   - a shard given by more than one file (the later file's benchmarks replace the earlier's),
/// and, over all sharded sources, more than one commit (the shards of one night should come
/// from one build). A context "shard" that is not i/n with 1 <= i <= n is noted too.
std::vector<std::string> shard_notes(const std::vector<PerfSource>& sources);

}  // namespace attn::report
