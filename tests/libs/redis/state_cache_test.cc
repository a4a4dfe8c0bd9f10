#include "libs/redis/state_cache.h"

#include "gtest/gtest.h"

namespace omnicx::redis {
namespace {

TEST(StateCacheTest, TakePutDropAndACapacity) {
  StateCache<int> cache(2);
  EXPECT_FALSE(cache.Take("a").has_value());
  cache.Put("a", 1);
  cache.Put("a", 2);  // replaces, no eviction
  cache.Put("b", 3);
  EXPECT_EQ(cache.Take("a"), 2);
  EXPECT_FALSE(cache.Take("a").has_value());  // taken
  cache.Put("a", 2);
  cache.Put("c", 4);  // full: one of a, b goes
  EXPECT_EQ(cache.Take("c"), 4);
  EXPECT_EQ(cache.Take("a").has_value() + cache.Take("b").has_value(), 1);
  cache.Put("d", 5);
  cache.Drop("d");
  EXPECT_FALSE(cache.Take("d").has_value());

  cache.Put("x", 7);
  cache.Put("y", 8);
  EXPECT_EQ(cache.Get("x"), 7);
  EXPECT_EQ(cache.Get("x"), 7);  // still there
  cache.DropWhere([](int v) { return v == 7; });
  EXPECT_FALSE(cache.Get("x").has_value());
  EXPECT_EQ(cache.Get("y"), 8);

  StateCache<int> none(0);
  none.Put("a", 1);
  EXPECT_FALSE(none.Take("a").has_value());
}

}  // namespace
}  // namespace omnicx::redis
