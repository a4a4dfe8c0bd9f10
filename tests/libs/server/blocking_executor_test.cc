// BlockingExecutor: tasks run off the submitting thread, in order on one
// thread; a full queue refuses; the destructor runs what was submitted.
#include "libs/server/blocking_executor.h"

#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace omnicx::server {
namespace {

TEST(BlockingExecutorTest, RunsTasksOffTheCallersThreadInOrder) {
  std::vector<int> ran;
  std::thread::id worker;
  {
    BlockingExecutor executor(1, 100);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(executor.Submit([&ran, &worker, i] {
        ran.push_back(i);
        worker = std::this_thread::get_id();
      }));
    }
  }  // runs everything submitted, then joins
  EXPECT_THAT(ran, ::testing::ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
  EXPECT_NE(worker, std::this_thread::get_id());
}

TEST(BlockingExecutorTest, AFullQueueRefusesWithoutRunning) {
  absl::Notification started, release;
  BlockingExecutor executor(1, 2);
  ASSERT_TRUE(executor.Submit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // the one thread is busy
  int ran = 0;
  EXPECT_TRUE(executor.Submit([&] { ++ran; }));
  EXPECT_TRUE(executor.Submit([&] { ++ran; }));
  EXPECT_FALSE(executor.Submit([&] { ran += 100; }));
  release.Notify();
  absl::Notification last;
  while (!executor.Submit([&] { last.Notify(); })) {
    std::this_thread::yield();
  }
  last.WaitForNotification();
  EXPECT_EQ(ran, 2);
}

}  // namespace
}  // namespace omnicx::server
