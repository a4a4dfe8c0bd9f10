// CPU time of other processes read from /proc, so a benchmark can charge the
// machine CPU a call costs to the processes that served it (services, Redis)
// and leave its own load generator out.
//
//   absl::StatusOr<double> before = ProcessCpuSeconds(redis_pid);
//   ... run the load ...
//   absl::StatusOr<double> after = ProcessCpuSeconds(redis_pid);
//   double us_per_call = (*after - *before) * 1e6 / calls;
//
// The figure is user + system time of all the process's threads, in
// clock ticks (10 ms on Linux), so measure windows of seconds, not
// milliseconds.
#ifndef OMNICX_BENCH_LIB_PROC_CPU_H_
#define OMNICX_BENCH_LIB_PROC_CPU_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace omnicx::bench {

// utime + stime of `pid` (all its threads, live and exited), in seconds.
absl::StatusOr<double> ProcessCpuSeconds(int pid);

// The same from the text of /proc/<pid>/stat, with `ticks_per_second` clock
// ticks per second (sysconf(_SC_CLK_TCK)).
absl::StatusOr<double> ParseProcStatCpuSeconds(absl::string_view stat,
                                               long ticks_per_second);

}  // namespace omnicx::bench

#endif  // OMNICX_BENCH_LIB_PROC_CPU_H_
