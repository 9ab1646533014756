// The report's colours, one meaning each (docs/benchmarks.md, "Performance reports"):
//
//  - a backend has one colour in every chart and every preset (a fixed table for the known
//    backends, a colour chosen from the backend's name for others); floors are also dashed;
//  - the TTT-overhead charts do not show backends: their lines are TTT lengths T (shades of
//    orange, squares) or sequence lengths L (shades of purple, triangles), darker for larger
//    values, none of them a backend colour.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attn::report {

/// Known backends in the order the report shows them: sdpa, flex, flash, flash-fa2, floor,
/// floor-fa2, floor-cudnn, floor-sdpa.
const std::vector<std::string>& known_backends();
/// The floor backends (plain attention on block 0: docs/flash-path.md, "The benchmark's floors").
bool is_floor_backend(const std::string& backend);

/// "#rrggbb" of a backend: the same for a name wherever it is drawn.
std::string backend_color(const std::string& backend);
/// gnuplot dashtype of a backend: 2 (dashed) for floors, 1 otherwise.
int backend_dash(const std::string& backend);

/// Colours of a sequential scheme for `value` among `all_values` (sorted, distinct): evenly
/// spread over the scheme's shades, darkest for the largest. Oranges for T, purples for L.
std::string t_color(std::int64_t T, const std::vector<std::int64_t>& all_T);
std::string l_color(std::int64_t L, const std::vector<std::int64_t>& all_L);

/// Every colour the backend table and both schemes use (for tests: the three are disjoint).
std::vector<std::string> backend_palette();
std::vector<std::string> t_palette();
std::vector<std::string> l_palette();

}  // namespace attn::report
