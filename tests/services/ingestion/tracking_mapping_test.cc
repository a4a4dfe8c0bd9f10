// The tracking API's mapping, tested directly (no HTTP, no Redis).
#include "services/ingestion/tracking_mapping.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/http_client.h"
#include "libs/time/proto_time.h"

namespace omnicx::ingestion {
namespace {

using ::omnicx::v1::Interaction;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kReceived = absl::FromUnixSeconds(1767225600);  // 2026-01-01

WriteKeyGrant Grant() {
  WriteKeyGrant g;
  g.name = "web";
  g.tenant = "default";
  g.source = "dev";
  g.default_channel = omnicx::v1::CHANNEL_WEB;
  g.allowed_origins = {"*"};
  return g;
}

WriteKeyResolver AnyKey() {
  return [](absl::string_view) -> absl::StatusOr<WriteKeyGrant> {
    return Grant();
  };
}

absl::StatusOr<TrackingRequest> Map(CallType type, const std::string& json,
                                    TrackingLimits limits = {}) {
  int n = 0;
  return MapTrackingRequest(type, json, AnyKey(), kReceived, limits,
                            [&n] { return absl::StrCat("gen-", ++n); });
}

Interaction One(CallType type, const std::string& json) {
  absl::StatusOr<TrackingRequest> r = Map(type, json);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->events.size(), 1u) << json;
  EXPECT_TRUE(r->rejected.empty())
      << (r->rejected.empty() ? "" : r->rejected[0].reason);
  return r->events.empty() ? Interaction() : r->events[0];
}

std::string Rejection(CallType type, const std::string& json) {
  absl::StatusOr<TrackingRequest> r = Map(type, json);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->events.empty()) << json;
  return r->rejected.empty() ? "" : r->rejected[0].reason;
}

absl::Time At(const Interaction& e) { return time::FromProto(e.occurred_at()); }

TEST(TrackingMappingTest, TrackMapsIdsTypePropertiesAndValue) {
  Interaction e = One(CallType::kTrack, R"({
    "userId": "u-1", "anonymousId": "a-1", "messageId": "m-1",
    "event": "Order Completed",
    "properties": {"revenue": 42.5, "items": [1, "two", null, true],
                   "nested": {"k": "v"}}})");
  EXPECT_EQ(e.event_id(), "dev:m-1");
  EXPECT_EQ(e.customer().customer_id(), "u-1");
  ASSERT_EQ(e.identities_size(), 1);
  EXPECT_EQ(e.identities(0).type(), "anonymous_id");
  EXPECT_EQ(e.identities(0).value(), "a-1");
  EXPECT_EQ(e.type(), "purchase");
  EXPECT_EQ(e.touchpoint(), "Order Completed");
  EXPECT_EQ(e.value(), 42.5);
  EXPECT_EQ(e.channel(), omnicx::v1::CHANNEL_WEB);
  const auto& p = e.properties().fields();
  EXPECT_EQ(p.at("nested").struct_value().fields().at("k").string_value(), "v");
  ASSERT_EQ(p.at("items").list_value().values_size(), 4);
  EXPECT_EQ(p.at("items").list_value().values(1).string_value(), "two");
  EXPECT_TRUE(p.at("items").list_value().values(3).bool_value());
  EXPECT_EQ(At(e), kReceived);  // no timestamps: receivedAt
}

TEST(TrackingMappingTest, EventNamesMapThroughTheTableElseXSlug) {
  EXPECT_EQ(TrackEventToType("Order Completed"), "purchase");
  EXPECT_EQ(TrackEventToType("Product Added"), "add_to_cart");
  EXPECT_EQ(TrackEventToType("Signed In"), "login");
  EXPECT_EQ(TrackEventToType("purchase"), "purchase");
  EXPECT_EQ(TrackEventToType("Video Played!"), "x-video_played");
  EXPECT_EQ(TrackEventToType("  "), "x-event");
  EXPECT_EQ(TrackEventToType(std::string(200, 'a')).size(), 66u);
  for (size_t i = 0; i < kTrackEventTypesSize; ++i) {
    EXPECT_EQ(TrackEventToType(kTrackEventTypes[i].event),
              kTrackEventTypes[i].type);
  }
}

TEST(TrackingMappingTest, CallTypesFromPathAndBatch) {
  EXPECT_EQ(ParseCallType("import"), CallType::kBatch);
  EXPECT_EQ(ParseCallType("screen"), CallType::kScreen);
  EXPECT_FALSE(ParseCallType("delete").has_value());
  Interaction page = One(
      CallType::kPage, R"({"anonymousId":"a","name":"Home","messageId":"p"})");
  EXPECT_EQ(page.type(), "page_view");
  EXPECT_EQ(page.touchpoint(), "Home");
  EXPECT_EQ(page.customer().anonymous_id(), "a");
  EXPECT_EQ(One(CallType::kScreen, R"({"anonymousId":"a"})").type(),
            "page_view");
  Interaction identify = One(CallType::kIdentify, R"({"userId":"u",
      "traits":{"email":"Jane@Example.com","phone":"+15551234567","plan":"pro"}})");
  EXPECT_EQ(identify.type(), "x-identify");
  ASSERT_EQ(identify.identities_size(), 2);
  EXPECT_EQ(identify.identities(0).type(), "email");
  EXPECT_EQ(identify.identities(1).type(), "phone");
  EXPECT_EQ(identify.properties().fields().at("plan").string_value(), "pro");
  Interaction group =
      One(CallType::kGroup, R"({"userId":"u","groupId":"g-1","traits":{}})");
  EXPECT_EQ(group.type(), "x-group");
  EXPECT_EQ(group.properties().fields().at("groupId").string_value(), "g-1");
  Interaction alias =
      One(CallType::kAlias, R"({"userId":"u","previousId":"anon-9"})");
  EXPECT_EQ(alias.type(), "x-alias");
  ASSERT_EQ(alias.identities_size(), 1);
  EXPECT_EQ(alias.identities(0).value(), "anon-9");
  // A numeric userId is taken as its decimal text.
  EXPECT_EQ(One(CallType::kTrack, R"({"userId":123,"event":"e"})")
                .customer()
                .customer_id(),
            "123");
}

TEST(TrackingMappingTest, MissingMessageIdGetsOne) {
  Interaction e = One(CallType::kTrack, R"({"anonymousId":"a","event":"e"})");
  EXPECT_EQ(e.event_id(), "dev:gen-1");
}

TEST(TrackingMappingTest, ChannelFromEventContextOrKeyDefault) {
  EXPECT_EQ(One(CallType::kTrack,
                R"({"anonymousId":"a","event":"e","channel":"mobile"})")
                .channel(),
            omnicx::v1::CHANNEL_MOBILE_APP);
  EXPECT_EQ(One(CallType::kTrack, R"({"anonymousId":"a","event":"e",
                  "context":{"device":{"type":"ios"}}})")
                .channel(),
            omnicx::v1::CHANNEL_MOBILE_APP);
  EXPECT_EQ(One(CallType::kTrack,
                R"({"anonymousId":"a","event":"e","channel":"server"})")
                .channel(),
            omnicx::v1::CHANNEL_WEB);  // the key's default
  // Batch context applies to events without their own.
  absl::StatusOr<TrackingRequest> r = Map(CallType::kBatch, R"({
    "context": {"channel": "mobile"},
    "batch": [{"type":"track","anonymousId":"a","event":"e"},
              {"type":"track","anonymousId":"a","event":"e",
               "context":{"channel":"web"}}]})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[0].channel(), omnicx::v1::CHANNEL_MOBILE_APP);
  EXPECT_EQ(r->events[1].channel(), omnicx::v1::CHANNEL_WEB);
}

TEST(TrackingMappingTest, TimestampsAreSkewCorrectedBySentAt) {
  // The client's clock is 1 h fast: it says it sent at 11:00:10 an event of
  // 11:00:00; received at 00:00:00 (server): occurred 10 s before that.
  Interaction skewed = One(CallType::kTrack, R"({"anonymousId":"a","event":"e",
      "originalTimestamp":"2026-01-01T01:00:00Z",
      "sentAt":"2026-01-01T01:00:10.000Z"})");
  EXPECT_EQ(At(skewed), kReceived - absl::Seconds(10));
  // `timestamp` is the client's time too (what analytics.js sends).
  Interaction ts = One(CallType::kTrack, R"({"anonymousId":"a","event":"e",
      "timestamp":"2026-01-01T01:00:00.500+01:00",
      "sentAt":"2026-01-01T00:00:01Z"})");
  EXPECT_EQ(At(ts), kReceived - absl::Milliseconds(500));
  // originalTimestamp wins over timestamp.
  Interaction both = One(CallType::kTrack, R"({"anonymousId":"a","event":"e",
      "originalTimestamp":"2026-01-01T00:00:00Z",
      "timestamp":"2020-01-01T00:00:00Z", "sentAt":"2026-01-01T00:00:03Z"})");
  EXPECT_EQ(At(both), kReceived - absl::Seconds(3));
  // An explicit timestamp without sentAt is taken as is (imports).
  Interaction import = One(CallType::kTrack, R"({"anonymousId":"a",
      "event":"e","timestamp":"2025-06-01T12:00:00Z"})");
  EXPECT_EQ(At(import), absl::FromUnixSeconds(1748779200));
  // Sent "before" it happened: never after receivedAt.
  Interaction future = One(CallType::kTrack, R"({"anonymousId":"a","event":"e",
      "originalTimestamp":"2026-01-01T00:00:10Z",
      "sentAt":"2026-01-01T00:00:00Z"})");
  EXPECT_EQ(At(future), kReceived);
  // The batch's sentAt applies to each event.
  absl::StatusOr<TrackingRequest> r = Map(CallType::kBatch, R"({
    "sentAt": "2026-01-01T05:00:05Z",
    "batch": [{"type":"track","anonymousId":"a","event":"e",
               "timestamp":"2026-01-01T05:00:00Z"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(At(r->events[0]), kReceived - absl::Seconds(5));
}

TEST(TrackingMappingTest, BadEventsAreRejectedAlone) {
  EXPECT_EQ(Rejection(CallType::kTrack, R"({"event":"e"})"), "missing_id");
  EXPECT_EQ(Rejection(CallType::kTrack, R"({"userId":"","event":"e"})"),
            "missing_id");
  EXPECT_EQ(Rejection(CallType::kTrack, R"({"userId":"u"})"), "missing_event");
  EXPECT_EQ(Rejection(CallType::kTrack,
                      absl::StrCat(R"({"userId":"u","event":"e","messageId":")",
                                   std::string(101, 'm'), "\"}")),
            "message_id");
  EXPECT_EQ(Rejection(CallType::kTrack,
                      R"({"userId":"u","event":"e","timestamp":"yesterday"})"),
            "timestamp");
  EXPECT_EQ(Rejection(CallType::kTrack,
                      absl::StrCat(R"({"userId":"u","event":"e","p":")",
                                   std::string(33 * 1024, 'x'), "\"}")),
            "too_large");
  std::string deep = "1";
  for (int i = 0; i < 40; ++i) deep = absl::StrCat("{\"a\":", deep, "}");
  EXPECT_EQ(Rejection(CallType::kTrack,
                      absl::StrCat(R"({"userId":"u","event":"e","properties":)",
                                   deep, "}")),
            "too_deep");

  absl::StatusOr<TrackingRequest> r = Map(CallType::kBatch, R"({"batch":[
      {"type":"track","userId":"u","event":"ok","messageId":"1"},
      {"type":"track","userId":"u"},
      {"type":"unknown","userId":"u"},
      7,
      {"type":"page","anonymousId":"a","messageId":"5"}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->event_index, ElementsAre(0, 4));
  ASSERT_EQ(r->rejected.size(), 3u);
  EXPECT_EQ(r->rejected[0].index, 1u);
  EXPECT_EQ(r->rejected[0].reason, "missing_event");
  EXPECT_EQ(r->rejected[0].payload, R"({"type":"track","userId":"u"})");
  EXPECT_EQ(r->rejected[1].reason, "type");
  EXPECT_EQ(r->rejected[2].reason, "not_an_object");
  EXPECT_EQ(r->rejected[2].payload, "7");
}

TEST(TrackingMappingTest, DeadLetterPayloadsNeverHoldTheWriteKey) {
  absl::StatusOr<TrackingRequest> r =
      Map(CallType::kTrack, R"({"writeKey":"secret","event":"e","a\"b":1})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rejected.size(), 1u);
  EXPECT_EQ(r->rejected[0].payload, R"({"event":"e","a\"b":1})");
}

TEST(TrackingMappingTest, WholeRequestErrors) {
  EXPECT_THAT(Map(CallType::kTrack, "{not json"),
              status::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Map(CallType::kTrack, "[1]"),
              status::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Map(CallType::kBatch, R"({"batch":{}})"),
              status::StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<std::string> events(2501, R"({"type":"page","anonymousId":"a"})");
  const std::string over =
      absl::StrCat(R"({"batch":[)", absl::StrJoin(events, ","), "]}");
  EXPECT_THAT(Map(CallType::kBatch, over),
              status::StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("at most 2500")));
  events.pop_back();
  absl::StatusOr<TrackingRequest> full =
      Map(CallType::kBatch,
          absl::StrCat(R"({"batch":[)", absl::StrJoin(events, ","), "]}"));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->events.size(), 2500u);
}

TEST(TrackingMappingTest, TheResolverSeesTheBodyKeyAndItsErrorStands) {
  std::string seen = "unset";
  WriteKeyResolver resolve =
      [&](absl::string_view key) -> absl::StatusOr<WriteKeyGrant> {
    seen = std::string(key);
    return absl::UnauthenticatedError("unknown write key");
  };
  EXPECT_THAT(
      MapTrackingRequest(CallType::kTrack, R"({"writeKey":"wk","userId":"u"})",
                         resolve, kReceived, {}),
      status::StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(seen, "wk");
  (void)MapTrackingRequest(CallType::kTrack, R"({"userId":"u"})", resolve,
                           kReceived, {});
  EXPECT_EQ(seen, "");
}

TEST(TrackingMappingTest, DecodeBodyBoundsGzip) {
  TrackingLimits limits;
  limits.max_body_bytes = 1000;
  const std::string json = R"({"userId":"u"})";
  ASSERT_OK_AND_ASSIGN(std::string plain,
                       DecodeBody(testing::Gzip(json), true, limits));
  EXPECT_EQ(plain, json);
  ASSERT_OK_AND_ASSIGN(
      std::string exact,
      DecodeBody(testing::Gzip(std::string(1000, ' ')), true, limits));
  EXPECT_EQ(exact.size(), 1000u);
  EXPECT_THAT(DecodeBody(testing::Gzip(std::string(1001, ' ')), true, limits),
              status::StatusIs(absl::StatusCode::kOutOfRange));
  // A bomb: 50 MB of zeros in ~50 KB stops at the limit.
  const std::string bomb = testing::Gzip(std::string(50 << 20, '\0'));
  EXPECT_LT(bomb.size(), 100u * 1024);
  EXPECT_THAT(DecodeBody(bomb, true, limits),
              status::StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(DecodeBody("not gzip at all", true, limits),
              status::StatusIs(absl::StatusCode::kInvalidArgument));
  std::string truncated = testing::Gzip(json);
  truncated.resize(truncated.size() - 5);
  EXPECT_THAT(DecodeBody(truncated, true, limits),
              status::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeBody(std::string(1001, ' '), false, limits),
              status::StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace omnicx::ingestion
