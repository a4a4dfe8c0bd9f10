#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/streams/consumer.h"

namespace omnicx::streams {
namespace {

using ::testing::ElementsAre;

TEST(ShardsOfConsumerTest, EveryShardHasExactlyOneConsumer) {
  EXPECT_THAT(ShardsOfConsumer(0, 4, 16), ElementsAre(0, 4, 8, 12));
  EXPECT_THAT(ShardsOfConsumer(3, 4, 16), ElementsAre(3, 7, 11, 15));
  for (int consumers : {1, 3, 4, 16}) {
    std::multiset<int> all;
    for (int i = 0; i < consumers; ++i) {
      for (int s : ShardsOfConsumer(i, consumers, 16)) all.insert(s);
    }
    EXPECT_EQ(all.size(), 16u) << consumers;
    EXPECT_EQ(std::set<int>(all.begin(), all.end()).size(), 16u) << consumers;
  }
}

TEST(ShardsOfConsumerTest, MoreConsumersThanShardsShareThem) {
  EXPECT_THAT(ShardsOfConsumer(5, 6, 4), ElementsAre(1));
  EXPECT_THAT(ShardsOfConsumer(0, 0, 4), ElementsAre());
}

}  // namespace
}  // namespace omnicx::streams
