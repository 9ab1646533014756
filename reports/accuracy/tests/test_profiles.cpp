// Gate profiles: the shipped files, lookup by name and path, and every parse error.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "datasets/errors.hpp"
#include "reports/accuracy/gate_profile.hpp"

namespace attn::report {
namespace {

namespace fs = std::filesystem;

fs::path write_temp(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("attn-profiles-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const std::string& json) {
  try {
    parse_profile(json, "test");
  } catch (const data::InputError& e) {
    return e.what();
  }
  return "";
}

const std::string kHead = R"("schema": "attn-harness.profile/1", )";

TEST(Profiles, ShippedBf16MatchesTheDesign) {
  const GateProfile p = find_profile("bf16");
  EXPECT_EQ(p.name, "bf16");
  EXPECT_EQ(p.mode, GateProfile::Mode::relative);
  EXPECT_EQ(p.floor_factor, 2);
  EXPECT_EQ(p.floor_offset, 0.3);
  EXPECT_EQ(p.rule_for({TensorKind::out, -1})->ratio, 2);
  EXPECT_EQ(p.rule_for({TensorKind::lse, -1})->ratio, 2);
  EXPECT_EQ(p.rule_for({TensorKind::dq, -1})->ratio, 3);
  EXPECT_EQ(p.rule_for({TensorKind::dk, 5})->ratio, 3);
  EXPECT_EQ(p.rule_for({TensorKind::dv, 0})->ratio, 3);
  const GateProfile d = default_bf16_profile();
  for (const auto& [k, r] : d.rules) EXPECT_EQ(p.rules.at(k).ratio, r.ratio) << k;
  EXPECT_EQ(p.rules.size(), d.rules.size());
  EXPECT_NE(p.source.find("bf16.json"), std::string::npos);
}

TEST(Profiles, ShippedAbsoluteProfileLoads) {
  const GateProfile p = find_profile("abs-bf16");
  EXPECT_EQ(p.mode, GateProfile::Mode::absolute);
  EXPECT_FALSE(p.needs_baseline());
  for (const char* k : {"out", "lse", "dq", "dk", "dv"}) {
    ASSERT_TRUE(p.rules.count(k)) << k;
    EXPECT_GT(p.rules.at(k).atol + p.rules.at(k).atol_scaled, 0) << k;
  }
}

TEST(Profiles, FoundByPath) {
  const fs::path f = write_temp("mine.json", "{" + kHead + R"("mode": "relative", "tensors": {"dq": {"ratio": 4}}})");
  const GateProfile p = find_profile(f.string());
  EXPECT_EQ(p.name, "mine");  // the file's stem when "name" is absent
  EXPECT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rule_for({TensorKind::dq, -1})->ratio, 4);
  EXPECT_FALSE(p.rule_for({TensorKind::out, -1}).has_value());
}

TEST(Profiles, BlockRuleOverridesKindRule) {
  const GateProfile p = parse_profile(
      "{" + kHead + R"("mode": "relative", "tensors": {"dk": {"ratio": 3}, "dk0": {"ratio": 5}}})", "t");
  EXPECT_EQ(p.rule_for({TensorKind::dk, 0})->ratio, 5);
  EXPECT_EQ(p.rule_for({TensorKind::dk, 1})->ratio, 3);
  EXPECT_FALSE(p.rule_for({TensorKind::dv, 0}).has_value());
}

TEST(Profiles, FloorSettings) {
  const GateProfile off = parse_profile("{" + kHead + R"("mode": "relative", "floor": false, "tensors": {"out": {"ratio": 2}}})", "t");
  EXPECT_EQ(off.floor_factor, 0);
  const GateProfile custom = parse_profile(
      "{" + kHead + R"("mode": "absolute", "floor": {"factor": 1, "offset": 1.5}, "tensors": {"out": {"atol": 0.5}}})", "t");
  EXPECT_EQ(custom.floor_factor, 1);
  EXPECT_EQ(custom.floor_offset, 1.5);
  EXPECT_EQ(custom.rules.at("out").atol, 0.5);
  EXPECT_FALSE(custom.floor_offset_scaled);
  const GateProfile scaled = find_profile("bf16-scaled-floor");
  EXPECT_TRUE(scaled.floor_offset_scaled);
  EXPECT_EQ(scaled.rule_for({TensorKind::dq, -1})->ratio, 3);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "floor": {"offset_scale": "rows"}, "tensors": {"dq": {"ratio": 3}}})").find("offset_scale"), std::string::npos);
}

TEST(Profiles, MissingFileIsAnInputError) {
  EXPECT_THROW(find_profile("/nonexistent/dir/p.json"), data::InputError);
  EXPECT_THROW(load_profile_file("/nonexistent/p.json"), data::InputError);
}

TEST(Profiles, UnknownNameListsWhatExists) {
  try {
    find_profile("no-such-profile");
    FAIL() << "expected an InputError";
  } catch (const data::InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no-such-profile"), std::string::npos) << m;
    EXPECT_NE(m.find("bf16"), std::string::npos) << m;  // the shipped names are listed
  }
}

TEST(Profiles, ParseErrorsAreInputErrors) {
  EXPECT_NE(error_of("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("object"), std::string::npos);
  EXPECT_NE(error_of(R"({"mode": "relative", "tensors": {"out": {"ratio": 2}}})").find("schema"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "tensors": {"dx": {"ratio": 2}}})").find("unknown tensor name 'dx'"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "tensors": {"dk": {}}})").find("ratio"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "tensors": {"dq": {"ratio": -1}}})").find(">= 0"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "tensors": {"dq": {"ratio": "3"}}})").find("number"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "tensors": {"dq": {"ratio": 3, "atol": 1}}})").find("unknown key 'atol'"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "tensors": {}})").find("non-empty"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "lenient", "tensors": {"dq": {"ratio": 3}}})").find("mode"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "absolute", "tensors": {"dq": {"ratio": 3}}})").find("unknown key 'ratio'"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "ratios": {}, "tensors": {"dq": {"ratio": 3}}})").find("unknown key 'ratios'"), std::string::npos);
  EXPECT_NE(error_of("{" + kHead + R"("mode": "relative", "floor": 2, "tensors": {"dq": {"ratio": 3}}})").find("floor"), std::string::npos);
  const fs::path bad = write_temp("bad.json", "{ oops");
  EXPECT_THROW(find_profile(bad.string()), data::InputError);
}

}  // namespace
}  // namespace attn::report
