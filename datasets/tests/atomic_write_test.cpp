// Writes are all-or-nothing: a write that fails, is interrupted by a signal, or races another
// writer leaves every file of the case byte-identical or replaced whole, and no temporary file
// behind. "Cannot write here" is found whatever its reason.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>

#include "datasets/atomic_output.hpp"
#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"
#include "datasets/tests/case_test_util.hpp"

namespace attn::data {
namespace {

using namespace attn::data::testing;
namespace fs = std::filesystem;

std::vector<std::string> entries_of(const fs::path& p) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(p)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class AtomicWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = random_case(DType::bf16, 1, 4, 2, 32, 16, 1);
    write_case(case_, c_);
    write_producer(read_manifest(case_),
                   record_for("sdpa", c_, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16),
                              {{"backend", "sdpa"}}));
    inputs_ = file_bytes(case_ / "inputs.h5");
    sdpa_ = file_bytes(case_ / "outputs" / "sdpa.h5");
  }
  void expect_untouched() {
    EXPECT_TRUE(file_bytes(case_ / "inputs.h5") == inputs_) << "inputs.h5 changed";
    EXPECT_TRUE(file_bytes(case_ / "outputs" / "sdpa.h5") == sdpa_) << "sdpa.h5 changed";
    EXPECT_EQ(entries_of(case_), (std::vector<std::string>{"inputs.h5", "outputs"}))
        << "a temporary file was left behind";
    EXPECT_EQ(entries_of(case_ / "outputs"), std::vector<std::string>{"sdpa.h5"});
  }
  ProducerOutputs some_record(const std::string& name, uint64_t seed = 5) const {
    return record_for(name, c_, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16, seed));
  }

  TempDir dir_;
  fs::path case_ = dir_ / "case";
  CaseInputs c_;
  std::string inputs_, sdpa_;
};

TEST_F(AtomicWrite, RejectedInputsLeaveTheFileAlone) {
  CaseInputs bad = c_;
  bad.q = c_.q.clone();
  bad.q.set(10, INFINITY);
  EXPECT_THROW(write_case(case_, bad), InputError);
  expect_untouched();
  bad = c_;
  bad.valid_len = {33};
  EXPECT_THROW(write_case(case_, bad), InputError);
  expect_untouched();
}

// A failure after the temporary file exists (here: HDF5 refuses an attribute name) removes it.
TEST_F(AtomicWrite, FailureWhileWritingRemovesTheTemporaryFile) {
  ProducerOutputs p = some_record("flash");
  p.provenance[""] = "an empty attribute name";
  EXPECT_THROW(write_producer(read_manifest(case_), p), InputError);
  expect_untouched();
}

// Something in the way of the target (a folder of its name) fails the write cleanly; the
// folder is not ours and stays.
TEST_F(AtomicWrite, BlockedTargetFailsCleanly) {
  fs::create_directories(case_ / "outputs" / "x.h5" / "inside");
  try {
    write_producer(read_manifest(case_), some_record("x"));
    ADD_FAILURE() << "no throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("x.h5"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(case_ / "outputs" / "x.h5" / "inside"));
  fs::remove_all(case_ / "outputs" / "x.h5");
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

// "Cannot write here" is found by trying, whatever the reason, and said truthfully.
TEST_F(AtomicWrite, UnwritableFolderIsReportedWithItsReason) {
  ::chmod(dir_.path().c_str(), 0755);
  ::chmod(case_.c_str(), 0777);
  ::chmod((case_ / "outputs").c_str(), 0555);
  {
    const ActAsNobody nobody;
    const CaseManifest m = read_manifest(case_);
    const std::string why = record_write_blocker(m, "outputs/x.h5");
    EXPECT_NE(why.find("cannot write in " + (case_ / "outputs").string()), std::string::npos) << why;
    EXPECT_NE(why.find("Permission denied"), std::string::npos) << why;
    EXPECT_EQ(record_write_blocker(m, "reference.h5"), "");  // the case folder itself is writable
    expect_input_error([&] { write_producer(m, some_record("x")); },
                       {"cannot record producer 'x'", "Permission denied"});
  }
  ::chmod((case_ / "outputs").c_str(), 0755);
  expect_untouched();
}

// A record file without any write permission bit is read-only even for root, who could
// replace it.
TEST_F(AtomicWrite, ReadOnlyRecordIsRespectedEvenByRoot) {
  ::chmod((case_ / "outputs" / "sdpa.h5").c_str(), 0444);
  const CaseManifest m = read_manifest(case_);
  const std::string why = record_write_blocker(m, "outputs/sdpa.h5");
  EXPECT_NE(why.find("marked read-only (mode 0444)"), std::string::npos) << why;
  EXPECT_THROW(write_producer(m, some_record("sdpa")), InputError);
  ::chmod((case_ / "outputs" / "sdpa.h5").c_str(), 0644);
  expect_untouched();
}

TEST_F(AtomicWrite, MissingFolder) {
  expect_input_error([&] { write_file_atomically(dir_ / "no" / "such" / "x.json", "{}"); },
                     {"x.json", "does not exist"});
  EXPECT_FALSE(fs::exists(dir_ / "no"));
  // write_case creates a new case folder (and its parents).
  write_case(dir_ / "new" / "case", c_);
  EXPECT_TRUE(fs::exists(dir_ / "new" / "case" / "inputs.h5"));
  // ... but never writes into a folder that holds something else.
  fs::create_directories(dir_ / "busy");
  write_bytes(dir_ / "busy" / "notes.txt", "mine");
  expect_input_error([&] { write_case(dir_ / "busy", c_); }, {"not empty", "holds no inputs.h5"});
}

// A successful write really replaces the file (a new inode from the rename), so readers that
// opened the old file keep a consistent view.
TEST_F(AtomicWrite, SuccessfulWriteRenamesANewFileIntoPlace) {
  struct stat before {}, after{};
  ASSERT_EQ(::stat((case_ / "outputs" / "sdpa.h5").c_str(), &before), 0);
  write_producer(read_manifest(case_), some_record("sdpa", 9));
  ASSERT_EQ(::stat((case_ / "outputs" / "sdpa.h5").c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(entries_of(case_ / "outputs"), std::vector<std::string>{"sdpa.h5"});
}

// SIGTERM or SIGINT while a temporary file exists removes it, and the process still dies of
// the signal.
TEST_F(AtomicWrite, ASignalRemovesTheTemporaryFile) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      AtomicOutput out(case_ / "outputs" / "big.h5");
      const std::string temp = out.temp_path().string();
      (void)!::write(fds[1], temp.data(), temp.size());
      ::close(fds[1]);
      ::pause();  // until the signal
      ::_exit(0);
    }
    ::close(fds[1]);
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    ::close(fds[0]);
    ASSERT_GT(n, 0);
    const std::string temp(buf, size_t(n));
    EXPECT_TRUE(fs::exists(temp)) << temp;
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
    EXPECT_FALSE(fs::exists(temp)) << temp << " survived signal " << sig;
  }
  expect_untouched();
}

// A writer killed with SIGKILL leaves its temporary file; the manifest lists it and the next
// write in that folder removes it (its process is gone). Another process's live temporary
// file is left alone.
TEST_F(AtomicWrite, OrphanedTemporaryFilesOfDeadWritersAreRemoved) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string orphan = ".flash.h5.tmp." + std::to_string(dead) + ".0";
  const std::string alive = ".flash.h5.tmp." + std::to_string(::getppid()) + ".0";
  write_bytes(case_ / "outputs" / orphan, "half a file");
  write_bytes(case_ / "outputs" / alive, "another writer's file");
  EXPECT_EQ(read_manifest(case_).leftover_temporaries.size(), 2u);
  write_producer(read_manifest(case_), some_record("flash"));
  EXPECT_FALSE(fs::exists(case_ / "outputs" / orphan));
  EXPECT_TRUE(fs::exists(case_ / "outputs" / alive));
  fs::remove(case_ / "outputs" / alive);
}

// Writers of different producers in different processes never lose each other's work.
TEST_F(AtomicWrite, ConcurrentWritersOfDifferentProducersAllLand) {
  constexpr int kWriters = 6;
  // Records are made before the fork: a forked child of a process that has used OpenMP must
  // not use it again (GNU libgomp), and input_hash does.
  std::vector<ProducerOutputs> records;
  for (int w = 0; w < kWriters; ++w) records.push_back(some_record("p" + std::to_string(w), uint64_t(100 + w)));
  std::vector<pid_t> pids;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        for (int round = 0; round < 4; ++round) write_producer(read_manifest(case_), records[size_t(w)]);
      } catch (...) {
        ::_exit(1);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const CaseManifest m = read_manifest(case_);
  ASSERT_EQ(m.producers.size(), size_t(kWriters + 1));
  for (int w = 0; w < kWriters; ++w) {
    const RecordInfo* r = m.find_producer("p" + std::to_string(w));
    ASSERT_TRUE(r) << w;
    EXPECT_EQ(r->damage, "");
    EXPECT_TRUE(same_tensor(read_record(m, *r, {"dq"}).dq, records[size_t(w)].outputs.dq));
  }
  EXPECT_TRUE(m.leftover_temporaries.empty());
}

}  // namespace
}  // namespace attn::data
