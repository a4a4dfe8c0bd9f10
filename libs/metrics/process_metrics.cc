#include "libs/metrics/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace omnicx::metrics {
namespace {

// Fields of /proc/self/stat after the command name (field 3 onwards).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  return absl::StrSplit(line.substr(close + 2), ' ');
}

double StatField(int field_number) {  // as numbered in proc(5)
  std::vector<std::string> f = StatFields();
  const size_t index = static_cast<size_t>(field_number - 3);
  double v = 0;
  if (index < f.size()) (void)absl::SimpleAtod(f[index], &v);
  return v;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  registry.Callback(
      {"process_cpu_seconds_total",
       "Total user and system CPU time spent in seconds.", Type::kCounter,
       [ticks] { return (StatField(14) + StatField(15)) / ticks; }});
  registry.Callback({"process_resident_memory_bytes",
                     "Resident memory size in bytes.", Type::kGauge,
                     [page] { return StatField(24) * page; }});
  registry.Callback({"process_virtual_memory_bytes",
                     "Virtual memory size in bytes.", Type::kGauge,
                     [] { return StatField(23); }});
  const double start = BootTimeSeconds() + StatField(22) / ticks;
  registry.Callback({"process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.",
                     Type::kGauge, [start] { return start; }});
  registry.Callback({"process_open_fds", "Number of open file descriptors.",
                     Type::kGauge, [] { return OpenFds(); }});
  registry.Callback({"process_threads", "Number of OS threads.", Type::kGauge,
                     [] { return StatField(20); }});
}

}  // namespace omnicx::metrics
