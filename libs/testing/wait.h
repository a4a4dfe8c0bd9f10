// Waiting on a condition in tests, instead of sleeping for a guessed time:
// polls `condition` (every millisecond or so) until it holds or `timeout`
// passes; true when it held.
//
//   ASSERT_TRUE(WaitUntil([&] { return Backlog() == 0; }));
#ifndef OMNICX_LIBS_TESTING_WAIT_H_
#define OMNICX_LIBS_TESTING_WAIT_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace omnicx::testing {

inline bool WaitUntil(const std::function<bool()>& condition,
                      absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_WAIT_H_
