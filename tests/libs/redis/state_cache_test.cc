#include "libs/redis/state_cache.h"

#include "gtest/gtest.h"

namespace omnicx::redis {
namespace {

TEST(StateCacheTest, GetPutDropAndACapacity) {
  StateCache<int> cache(2);
  EXPECT_FALSE(cache.Get("a").has_value());
  cache.Put("a", 1);
  cache.Put("a", 2);  // replaces, no eviction
  cache.Put("b", 3);
  EXPECT_EQ(cache.Get("a"), 2);
  EXPECT_EQ(cache.Get("b"), 3);
  cache.Put("c", 4);  // full: one of a, b goes
  EXPECT_EQ(cache.Get("c"), 4);
  EXPECT_EQ(cache.Get("a").has_value() + cache.Get("b").has_value(), 1);
  cache.Drop("c");
  EXPECT_FALSE(cache.Get("c").has_value());

  StateCache<int> none(0);
  none.Put("a", 1);
  EXPECT_FALSE(none.Get("a").has_value());
}

}  // namespace
}  // namespace omnicx::redis
