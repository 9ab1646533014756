// Writes are all-or-nothing: a write that fails, before or after it has started on the
// temporary file, leaves the original byte-identical and no temporary file behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>

#include "datasets/case_file.hpp"
#include "datasets/errors.hpp"
#include "datasets/tests/case_test_util.hpp"

namespace attn::data {
namespace {

using namespace attn::data::testing;

class AtomicWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = random_case(DType::bf16, 1, 4, 2, 32, 16, 1);
    write_case(file_, c_);
    write_producer(
        file_, ProducerOutputs{"sdpa",
                               {{"backend", "sdpa"}},
                               random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16)});
    original_ = file_bytes(file_);
  }
  void expect_untouched() {
    EXPECT_TRUE(file_bytes(file_) == original_) << "the original file changed";
    EXPECT_EQ(dir_.entries(), std::vector<std::string>{"case.h5"})
        << "a temporary file was left behind";
    expect_same_tensor_after_read();
  }
  void expect_same_tensor_after_read() {
    const CaseInputs r = read_case_inputs(file_);
    EXPECT_TRUE(same_tensor(r.q, c_.q));
    EXPECT_EQ(list_producers(file_), std::vector<std::string>{"sdpa"});
  }
  std::filesystem::path temp_path() const {
    return file_.string() + ".tmp" + std::to_string(::getpid());
  }

  TempDir dir_;
  std::filesystem::path file_ = dir_ / "case.h5";
  CaseInputs c_;
  std::string original_;
};

TEST_F(AtomicWrite, RejectedInputsLeaveTheFileAlone) {
  CaseInputs bad = c_;
  bad.q.values[10] = INFINITY;
  EXPECT_THROW(write_case(file_, bad), InputError);
  expect_untouched();
  bad = c_;
  bad.valid_len = {33};
  EXPECT_THROW(write_case(file_, bad), InputError);
  expect_untouched();
}

// The output check runs while the copy is being modified (a bf16 output holding a value that
// is not bf16 is found while converting): the half-modified copy is removed.
TEST_F(AtomicWrite, FailureInsideTheTemporaryCopyRemovesIt) {
  ProducerOutputs p{"flash",
                    {{"backend", "flash"}},
                    random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16)};
  p.outputs.dv[1].values[7] = 1.0 + std::ldexp(1.0, -20);
  try {
    write_producer(file_, p);
    ADD_FAILURE() << "no throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/outputs/flash/dv1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("element 7"), std::string::npos) << e.what();
  }
  expect_untouched();
  ProducerOutputs ref{
      "reference", {}, random_outputs(c_.config, DType::f64, DType::f64, DType::f64)};
  ref.outputs.lse.dtype = DType::f32;  // f64 values labelled f32
  EXPECT_THROW(write_cached_reference(file_, ref, input_hash(c_)), InputError);
  expect_untouched();
}

// Something in the way of the temporary file (here a folder of that name) makes the write
// fail before anything is written; the folder is not ours and stays.
TEST_F(AtomicWrite, BlockedTemporaryPathFailsCleanly) {
  std::filesystem::create_directory(temp_path());
  std::filesystem::create_directory(temp_path() / "inside");
  expect_input_error([&] { write_case(file_, c_); }, {file_.string(), "temporary file"});
  expect_input_error(
      [&] {
        write_producer(file_,
                       ProducerOutputs{
                           "x", {}, random_outputs(c_.config, DType::f32, DType::f32, DType::f32)});
      },
      {file_.string(), "temporary file"});
  EXPECT_TRUE(std::filesystem::is_directory(temp_path() / "inside"));
  std::filesystem::remove_all(temp_path());
  expect_untouched();
}

/// Root ignores directory permissions: while it lives, this acts as user "nobody" (the real
/// user id stays root, so the effective one can be restored).
class ActAsNobody {
 public:
  ActAsNobody() : was_(::geteuid()) {
    if (was_ == 0) EXPECT_EQ(::seteuid(65534), 0) << "seteuid(nobody)";
  }
  ~ActAsNobody() {
    if (was_ == 0) EXPECT_EQ(::seteuid(0), 0) << "seteuid(root)";
  }
  ActAsNobody(const ActAsNobody&) = delete;
  ActAsNobody& operator=(const ActAsNobody&) = delete;

 private:
  uid_t was_;
};

TEST_F(AtomicWrite, UnwritableDirectory) {
  ::chmod(dir_.path().c_str(), 0555);
  {
    const ActAsNobody nobody;
    EXPECT_THROW(
        write_producer(
            file_,
            ProducerOutputs{"x", {}, random_outputs(c_.config, DType::f32, DType::f32, DType::f32)}),
        InputError);
    EXPECT_THROW(write_case(file_, c_), InputError);
  }
  ::chmod(dir_.path().c_str(), 0755);
  expect_untouched();
}

TEST_F(AtomicWrite, MissingDirectory) {
  expect_input_error([&] { write_case(dir_ / "no" / "such" / "dir.h5", c_); },
                     {"dir.h5", "temporary file"});
  EXPECT_FALSE(std::filesystem::exists(dir_ / "no"));
  expect_untouched();
}

// A successful update really replaces the file (a new inode from the rename), so readers that
// opened the old file keep a consistent view.
TEST_F(AtomicWrite, SuccessfulUpdateRenamesANewFileIntoPlace) {
  struct stat before {
  }, after{};
  ASSERT_EQ(::stat(file_.c_str(), &before), 0);
  write_producer(file_,
                 ProducerOutputs{
                     "flash", {}, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16)});
  ASSERT_EQ(::stat(file_.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(list_producers(file_), (std::vector<std::string>{"flash", "sdpa"}));
  EXPECT_EQ(dir_.entries(), std::vector<std::string>{"case.h5"});
}

}  // namespace
}  // namespace attn::data
