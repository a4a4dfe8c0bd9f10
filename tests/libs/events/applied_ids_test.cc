#include "libs/events/applied_ids.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace omnicx::events {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
const absl::Duration kWindow = absl::Hours(24 * 7);

TEST(AppliedIdsTest, RecordsAndRecognisesIds) {
  AppliedIds ids;
  const uint64_t a = EventFingerprint("evt-a");
  EXPECT_FALSE(WasApplied(ids, a));
  RecordApplied(a, kT0, kWindow, &ids);
  EXPECT_TRUE(WasApplied(ids, a));
  EXPECT_FALSE(WasApplied(ids, EventFingerprint("evt-b")));
  // Stable: the same id always gives the same fingerprint.
  EXPECT_EQ(EventFingerprint("evt-a"), a);
  EXPECT_NE(EventFingerprint("evt-b"), a);
}

TEST(AppliedIdsTest, ForgetsIdsOlderThanTheWindow) {
  AppliedIds ids;
  RecordApplied(EventFingerprint("old"), kT0, kWindow, &ids);
  RecordApplied(EventFingerprint("mid"), kT0 + absl::Hours(24), kWindow, &ids);
  RecordApplied(EventFingerprint("new"), kT0 + kWindow + absl::Hours(1),
                kWindow, &ids);
  EXPECT_FALSE(WasApplied(ids, EventFingerprint("old")));
  EXPECT_TRUE(WasApplied(ids, EventFingerprint("mid")));
  EXPECT_TRUE(WasApplied(ids, EventFingerprint("new")));
  EXPECT_EQ(ids.fingerprints_size(), 2);
  EXPECT_EQ(ids.applied_s_size(), 2);
}

TEST(AppliedIdsTest, KeepsAtMostTheCapNewestFirst) {
  AppliedIds ids;
  for (int i = 0; i < kMaxAppliedIds + 5; ++i) {
    RecordApplied(EventFingerprint(absl::StrCat("e", i)),
                  kT0 + absl::Seconds(i), kWindow, &ids);
  }
  EXPECT_EQ(ids.fingerprints_size(), kMaxAppliedIds);
  EXPECT_FALSE(WasApplied(ids, EventFingerprint("e4")));
  EXPECT_TRUE(WasApplied(ids, EventFingerprint("e5")));
  EXPECT_TRUE(
      WasApplied(ids, EventFingerprint(absl::StrCat("e", kMaxAppliedIds + 4))));
}

TEST(AppliedIdsTest, MergeIsTheUnionOldestFirst) {
  AppliedIds a, b;
  RecordApplied(EventFingerprint("x"), kT0 + absl::Seconds(2), kWindow, &a);
  RecordApplied(EventFingerprint("shared"), kT0 + absl::Seconds(3), kWindow,
                &a);
  RecordApplied(EventFingerprint("y"), kT0 + absl::Seconds(1), kWindow, &b);
  RecordApplied(EventFingerprint("shared"), kT0 + absl::Seconds(4), kWindow,
                &b);
  MergeAppliedIds(b, &a);
  ASSERT_EQ(a.fingerprints_size(), 3);
  EXPECT_EQ(a.fingerprints(0), EventFingerprint("y"));
  EXPECT_EQ(a.fingerprints(1), EventFingerprint("x"));
  EXPECT_EQ(a.fingerprints(2), EventFingerprint("shared"));
  EXPECT_EQ(a.applied_s(0), absl::ToUnixSeconds(kT0) + 1);
  for (const char* id : {"x", "y", "shared"}) {
    EXPECT_TRUE(WasApplied(a, EventFingerprint(id))) << id;
  }
}

}  // namespace
}  // namespace omnicx::events
