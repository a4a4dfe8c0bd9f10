// Runs blocking work (synchronous Redis calls) on threads of its own, so no
// gRPC callback thread waits on Redis: a handler or a client callback
// submits the blocking part and returns at once.
//
//   BlockingExecutor redis_work(/*threads=*/4, /*max_queued=*/1024);
//   if (!redis_work.Submit([=] { Decide(call); })) {
//     ... refuse: more work queued than max_queued ...
//   }
//
// Tasks run in submission order on any of the threads. The destructor runs
// every task already submitted, then joins the threads.
#ifndef OMNICX_LIBS_SERVER_BLOCKING_EXECUTOR_H_
#define OMNICX_LIBS_SERVER_BLOCKING_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace omnicx::server {

class BlockingExecutor {
 public:
  BlockingExecutor(int threads, size_t max_queued);
  ~BlockingExecutor();
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // False, without running `task`, when max_queued tasks are waiting.
  bool Submit(std::function<void()> task);

 private:
  void Work();

  const size_t max_queued_;
  absl::Mutex mu_;
  // Signalled once per task submitted (one waiting thread wakes), and for
  // all at stop.
  absl::CondVar work_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_BLOCKING_EXECUTOR_H_
