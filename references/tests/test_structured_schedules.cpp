// The structured reference's work decomposition: the fused schedule (units (b, kv head)) and
// the split schedule (phase A units (b, h, query tile), phase B units (b, kv head, key tile))
// give the same bits as each other for every thread count and buffer placement, agree with the
// dense form, keep the progress contract, and the automatic choice takes the split schedule when
// there are fewer (b, kv head) units than threads.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <thread>

#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"
#include "references/tests/ttt_case.hpp"

namespace attn::ref {
namespace {

using testing::expect_identical;
using testing::rel_err;
using testing::ShiftedInputs;
using testing::TttCase;

TttShape shape(int64_t B, int64_t H, int64_t Hkv, int64_t L, int64_t D, int64_t t) {
  TttShape s;
  s.B = B, s.H = H, s.Hkv = Hkv, s.L = L, s.D = D, s.t = t;
  return s;
}

StructuredOptions options(int64_t tile, int threads, StructuredSchedule schedule) {
  StructuredOptions o;
  o.tile = tile;
  o.threads = threads;
  o.schedule = schedule;
  return o;
}

const char* name(StructuredSchedule s) {
  switch (s) {
    case StructuredSchedule::automatic:
      return "automatic";
    case StructuredSchedule::fused:
      return "fused";
    case StructuredSchedule::split:
      return "split";
  }
  return "?";
}

constexpr StructuredSchedule kSchedules[] = {StructuredSchedule::automatic,
                                             StructuredSchedule::fused, StructuredSchedule::split};

struct ScheduleParam {
  const char* name;
  TttShape shape;
  std::vector<int64_t> valid_len;
  int64_t tile;
};

std::ostream& operator<<(std::ostream& os, const ScheduleParam& p) { return os << p.name; }

class Schedules : public ::testing::TestWithParam<ScheduleParam> {};

/// Units of each schedule for a case: fused (b, kv head); split (b, h, query tile) plus
/// (b, kv head, key tile); batch elements without valid rows have none.
int64_t fused_units(const TttInputs& in) {
  int64_t u = 0;
  for (int64_t b = 0; b < in.shape.B; ++b) u += valid_rows(in, b) > 0 ? in.shape.Hkv : 0;
  return u;
}
int64_t split_units(const TttInputs& in, int64_t tile) {
  int64_t u = 0;
  for (int64_t b = 0; b < in.shape.B; ++b) {
    const int64_t tiles = (valid_rows(in, b) + tile - 1) / tile;
    u += tiles * (in.shape.H + in.shape.Hkv);
  }
  return u;
}

TEST_P(Schedules, EveryScheduleThreadCountAndPlacementGivesTheSameBits) {
  const ScheduleParam& p = GetParam();
  const TttCase c = TttCase::random(p.shape, p.valid_len, 0xabc0u + p.shape.L);
  const TttInputs in = c.inputs();
  // The case exercises what it claims: several tiles per head.
  int64_t most_tiles = 0;
  for (int64_t b = 0; b < p.shape.B; ++b)
    most_tiles = std::max(most_tiles, (valid_rows(in, b) + p.tile - 1) / p.tile);
  ASSERT_GE(most_tiles, 3);

  const TttResult one = structured_reference(in, options(p.tile, 1, StructuredSchedule::fused));
  // Not vacuous: every tensor that receives contributions is non-zero.
  EXPECT_GT(testing::max_abs(one.out), 0.0);
  EXPECT_GT(testing::max_abs(one.dq), 0.0);
  for (int64_t m = 0; m < p.shape.blocks(); ++m) {
    EXPECT_GT(testing::max_abs(one.dk[m]), 0.0) << "dk[" << m << "]";
    EXPECT_GT(testing::max_abs(one.dv[m]), 0.0) << "dv[" << m << "]";
  }

  for (StructuredSchedule sched : kSchedules)
    for (int threads : {1, 2, 3}) {
      SCOPED_TRACE(std::string(name(sched)) + ", " + std::to_string(threads) + " threads");
      expect_identical(structured_reference(in, options(p.tile, threads, sched)), one);
    }
  for (size_t shift : {1, 3, 5}) {
    SCOPED_TRACE("inputs shifted by " + std::to_string(shift) + " elements");
    const ShiftedInputs moved(c, shift);
    expect_identical(structured_reference(moved.in, options(p.tile, 3, StructuredSchedule::split)),
                     one);
    expect_identical(structured_reference(moved.in, options(p.tile, 2, StructuredSchedule::fused)),
                     one);
  }

  const TttResult dense = dense_reference(in);
  EXPECT_LE(rel_err(one.out, dense.out), 1e-12);
  EXPECT_LE(rel_err(one.lse, dense.lse), 1e-12);
  EXPECT_LE(rel_err(one.dq, dense.dq), 1e-12);
  for (int64_t m = 0; m < p.shape.blocks(); ++m) {
    EXPECT_LE(rel_err(one.dk[m], dense.dk[m]), 1e-12) << "dk[" << m << "]";
    EXPECT_LE(rel_err(one.dv[m], dense.dv[m]), 1e-12) << "dv[" << m << "]";
  }
}

TEST_P(Schedules, ForwardOnlyGivesTheSameBitsAndZeroGradients) {
  const ScheduleParam& p = GetParam();
  const TttCase c = TttCase::random(p.shape, p.valid_len, 99);
  const TttResult full =
      structured_reference(c.inputs(true), options(p.tile, 1, StructuredSchedule::fused));
  for (int threads : {1, 3}) {
    const TttResult fwd =
        structured_reference(c.inputs(false), options(p.tile, threads, StructuredSchedule::split));
    // The forward of a row does not depend on whether a backward follows.
    EXPECT_TRUE(testing::same_bits(fwd.out, full.out));
    EXPECT_TRUE(testing::same_bits(fwd.lse, full.lse));
    EXPECT_EQ(testing::max_abs(fwd.dq), 0.0);
    for (int64_t m = 0; m < p.shape.blocks(); ++m) {
      EXPECT_EQ(testing::max_abs(fwd.dk[m]), 0.0);
      EXPECT_EQ(testing::max_abs(fwd.dv[m]), 0.0);
    }
  }
}

TEST_P(Schedules, IntoOverwritesAStaleResultUnderEverySchedule) {
  const ScheduleParam& p = GetParam();
  const TttCase c = TttCase::random(p.shape, p.valid_len, 7);
  const TttInputs in = c.inputs();
  const TttResult fresh = structured_reference(in, options(p.tile, 1, StructuredSchedule::fused));
  for (StructuredSchedule sched : {StructuredSchedule::fused, StructuredSchedule::split}) {
    SCOPED_TRACE(name(sched));
    TttResult stale = TttResult::zeros(in.shape);
    for (auto* x : {&stale.out, &stale.lse, &stale.dq}) std::fill(x->begin(), x->end(), NAN);
    for (auto& x : stale.dk) std::fill(x.begin(), x.end(), -1.0);
    for (auto& x : stale.dv) std::fill(x.begin(), x.end(), 2.0);
    structured_reference_into(in, stale, options(p.tile, 2, sched));
    expect_identical(stale, fresh);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Schedules,
    ::testing::Values(
        // GQA 8:2 (four heads per group), t = 3, tiles of 16 (n = 67: 5 tiles, the last
        // partial; n = 38: 3), and a padded sequence with no valid row at all.
        ScheduleParam{"gqa8x2_pad_and_empty", shape(3, 8, 2, 70, 64, 3), {70, 41, 2}, 16},
        // MQA with B = 1: B * Hkv = 1, n = 84 in six tiles of 16 (the last of 4 rows), t = 6.
        ScheduleParam{"mqa3x1_B1_t6_D128", shape(1, 3, 1, 90, 128, 6), {90}, 16},
        // D = 5 with tiles of 4 and one-row last tiles (n = 9, 5), t = 3.
        ScheduleParam{"gqa2x1_D5_tile4_one_row_tiles", shape(2, 2, 1, 12, 5, 3), {12, 8}, 4},
        // t = 0 (pure causal), GQA 6:3, odd D, tiles of 8 (n = 50, 33).
        ScheduleParam{"gqa6x3_t0_D33", shape(2, 6, 3, 50, 33, 0), {50, 33}, 8},
        // Tile 1: every pair is its own 1 x 1 block (products of one row or column).
        ScheduleParam{"mha2_tile1", shape(1, 2, 2, 9, 8, 2), {9}, 1}),
    [](const ::testing::TestParamInfo<ScheduleParam>& info) { return info.param.name; });

TEST(Schedules, TheBitwiseComparisonSeesTheLastBitAndTheTileSize) {
  // The equalities above could not hide a difference: one ulp is seen, and the tile size (which
  // changes the order of the reductions) changes bits, as the schedules would if they summed in
  // different orders.
  const TttCase c = TttCase::random(shape(1, 2, 1, 40, 16, 2), {40}, 3);
  const TttResult a = structured_reference(c.inputs(), options(8, 1, StructuredSchedule::fused));
  TttResult nudged = a;
  nudged.dk[0][17] = std::nextafter(nudged.dk[0][17], INFINITY);
  EXPECT_FALSE(testing::same_bits(nudged.dk[0], a.dk[0]));
  const TttResult other_tile =
      structured_reference(c.inputs(), options(16, 1, StructuredSchedule::fused));
  EXPECT_FALSE(testing::same_bits(other_tile.dk[0], a.dk[0]));
  EXPECT_LE(rel_err(other_tile.dk[0], a.dk[0]), 1e-13);
}

/// The total of the last progress call, i.e. the units of the schedule that ran.
int64_t units_run(const TttInputs& in, StructuredOptions opt) {
  int64_t total = -1;
  opt.progress = [&total](int64_t, int64_t t) { total = t; };
  structured_reference(in, opt);
  return total;
}

TEST(Schedules, AutomaticSplitsWhenThereAreFewerKvUnitsThanThreads) {
  const TttCase mqa = TttCase::random(shape(1, 4, 1, 40, 8, 1), {40}, 4);  // B * Hkv = 1
  const TttInputs in = mqa.inputs();
  ASSERT_EQ(fused_units(in), 1);
  ASSERT_EQ(split_units(in, 8), 5 * (4 + 1));
  EXPECT_EQ(units_run(in, options(8, 1, StructuredSchedule::automatic)), 1);
  EXPECT_EQ(units_run(in, options(8, 2, StructuredSchedule::automatic)), 25);
  EXPECT_EQ(units_run(in, options(8, 3, StructuredSchedule::automatic)), 25);
  EXPECT_EQ(units_run(in, options(8, 3, StructuredSchedule::fused)), 1);
  EXPECT_EQ(units_run(in, options(8, 1, StructuredSchedule::split)), 25);

  // Eight equal (b, kv head) units on two threads: fused (6 products per pair against 8).
  const TttCase many = TttCase::random(shape(2, 4, 4, 40, 8, 1), {40, 40}, 4);
  EXPECT_EQ(units_run(many.inputs(), options(8, 2, StructuredSchedule::automatic)), 8);
  // The OpenMP default (threads = 0) is cut to one thread for a problem this small, whatever
  // the machine: then the fused schedule is faster.
  EXPECT_EQ(units_run(in, options(8, 0, StructuredSchedule::automatic)), 1);
  // Forward only: always phase A's units (b, h, query tile).
  EXPECT_EQ(units_run(mqa.inputs(false), options(8, 1, StructuredSchedule::fused)), 5 * 4);
}

TEST(Schedules, SplitProgressComesFromTheCallingThreadInOrderAndEndsAtTotal) {
  // n = 20, 12, 0 with tiles of 4: 5 and 3 tiles; (4 + 2) units per tile.
  const TttCase c = TttCase::random(shape(3, 4, 2, 21, 8, 1), {21, 13, 0}, 9);
  const TttInputs in = c.inputs();
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::pair<int64_t, int64_t>> calls;
  std::set<std::thread::id> ids;
  StructuredOptions opt = options(4, 3, StructuredSchedule::split);
  opt.progress = [&](int64_t done, int64_t total) {
    ids.insert(std::this_thread::get_id());  // not synchronised: a second thread would be a bug
    calls.emplace_back(done, total);
  };
  structured_reference(in, opt);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(ids, std::set<std::thread::id>{caller});
  const int64_t total = (5 + 3) * (4 + 2);
  ASSERT_EQ(split_units(in, 4), total);
  EXPECT_EQ(calls.back(), (std::pair<int64_t, int64_t>(total, total)));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LT(calls[i - 1].first, calls[i].first);
  for (const auto& call : calls) EXPECT_EQ(call.second, total);
}

TEST(Schedules, AnExceptionFromProgressInEitherPhasePropagates) {
  const TttCase c = TttCase::random(shape(1, 2, 1, 40, 8, 2), {40}, 9);
  const int64_t total = split_units(c.inputs(), 8);  // 5 tiles: 10 phase A + 5 phase B units
  ASSERT_EQ(total, 15);
  // On one thread every unit reports: throw in phase A (first call), in phase B (call 12),
  // and from the final (total, total) call.
  for (int64_t at : {int64_t{1}, int64_t{12}, total}) {
    SCOPED_TRACE("throw at call " + std::to_string(at));
    StructuredOptions opt = options(8, 1, StructuredSchedule::split);
    int64_t calls = 0;
    opt.progress = [&](int64_t done, int64_t) {
      ++calls;
      if (done == at) throw std::runtime_error("cancelled");
    };
    EXPECT_THROW(structured_reference(c.inputs(), opt), std::runtime_error);
    EXPECT_EQ(calls, at) << "units kept reporting after the exception";
  }
}

}  // namespace
}  // namespace attn::ref
