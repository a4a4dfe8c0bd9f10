// Standard process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_threads), read from
// /proc/self at scrape time.
#ifndef OMNICX_LIBS_METRICS_PROCESS_METRICS_H_
#define OMNICX_LIBS_METRICS_PROCESS_METRICS_H_

#include "libs/metrics/registry.h"

namespace omnicx::metrics {

void RegisterProcessMetrics(Registry& registry);

}  // namespace omnicx::metrics

#endif  // OMNICX_LIBS_METRICS_PROCESS_METRICS_H_
