// One thread that runs callbacks at given times: Recommend's budget
// watchdog (a decision still running when its budget ends is answered with
// the fallback, so no call hangs on a slow peer or Redis).
//
//   DeadlineTimer timer;
//   timer.Schedule(absl::Now() + absl::Milliseconds(100), [call] {
//     call->AnswerWithFallback();   // a no-op if the call already finished
//   });
//
// Callbacks run on the timer thread, in time order, at most about 1 ms
// late, and must be short. The
// destructor drops callbacks not yet due. Times are on `clock` (tests pass a
// time::SimulatedClock and Advance it past a deadline).
#ifndef OMNICX_SERVICES_RECOMMENDATION_DEADLINE_TIMER_H_
#define OMNICX_SERVICES_RECOMMENDATION_DEADLINE_TIMER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/time/clock.h"

namespace omnicx::recommendation {

class DeadlineTimer {
 public:
  explicit DeadlineTimer(time::Clock& clock = time::RealClock());
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  void Schedule(absl::Time when, std::function<void()> callback);

 private:
  void Run();

  time::Clock& clock_;
  absl::Mutex mu_;
  std::multimap<absl::Time, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_DEADLINE_TIMER_H_
