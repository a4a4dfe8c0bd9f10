#include "bench/lib/proc_cpu.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace omnicx::bench {
namespace {

TEST(ProcCpuTest, ParsesUserAndSystemTicks) {
  // A comm with spaces and a ')' of its own; utime 250, stime 50.
  const char kStat[] =
      "4242 (omnicx-x (a) b) S 1 4242 4242 0 -1 4194560 1523 0 0 0 250 50 "
      "0 0 20 0 9 0 12345 100000000 2000 18446744073709551615\n";
  absl::StatusOr<double> seconds = ParseProcStatCpuSeconds(kStat, 100);
  ASSERT_TRUE(seconds.ok()) << seconds.status();
  EXPECT_DOUBLE_EQ(*seconds, 3.0);
}

TEST(ProcCpuTest, RejectsOtherText) {
  EXPECT_FALSE(ParseProcStatCpuSeconds("", 100).ok());
  EXPECT_FALSE(ParseProcStatCpuSeconds("1 (x) S 1 2", 100).ok());
  EXPECT_FALSE(
      ParseProcStatCpuSeconds("1 (x) S 1 2 3 4 5 6 7 8 9 a b", 100).ok());
}

TEST(ProcCpuTest, ReadsItsOwnProcess) {
  absl::StatusOr<double> seconds = ProcessCpuSeconds(getpid());
  ASSERT_TRUE(seconds.ok()) << seconds.status();
  EXPECT_GE(*seconds, 0);
}

TEST(ProcCpuTest, MissingProcessIsNotFound) {
  // Above the kernel's pid_max limit (4194304), so never a live process.
  EXPECT_EQ(ProcessCpuSeconds(999999999).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace omnicx::bench
