// The HTTP tracking API end to end in-process: a real HTTP client (libcurl,
// keep-alive) against the server on 127.0.0.1 port 0, the real Intake,
// CommitQueue and EventLog over a real redis-server. Table tests for each
// acceptance rule of docs/http-api.md.
#include "services/ingestion/tracking_api.h"

#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/digest.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "libs/testing/http_client.h"
#include "libs/testing/redis_test.h"
#include "libs/time/proto_time.h"
#include "services/ingestion/commit_queue.h"
#include "services/ingestion/event_log.h"
#include "services/ingestion/intake.h"

namespace omnicx::ingestion {
namespace {

using ::omnicx::testing::HttpClient;
using ::omnicx::testing::HttpReply;
using ::omnicx::v1::Interaction;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string KeyEntry(const std::string& key, const std::string& tenant,
                     const std::string& source, const std::string& origins,
                     bool trusted = false) {
  return absl::StrCat(
      "  - name: ", source, "-", tenant, "\n    sha256: ", keys::Sha256Hex(key),
      "\n    tenant: ", tenant, "\n    source: ", source,
      "\n    allowed_origins: ", origins,
      "\n    trusted_identities: ", trusted ? "true" : "false", "\n");
}

std::string Basic(const std::string& credentials) {
  return "Authorization: Basic " + absl::Base64Escape(credentials);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

class TrackingApiTest : public testing::RedisTest {
 protected:
  TrackingApiTest() : RedisTest({}, FailFast()) {}

  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    log_ = std::make_unique<EventLog>(*redis_, keys_, EventLogOptions());
    queue_ = std::make_unique<CommitQueue>(*log_, CommitQueueOptions());
    intake_ = std::make_unique<Intake>(*queue_, IntakeOptions(), registry_);
    dead_ = std::make_unique<DeadLetters>(*redis_, keys_.DeadLetter("http"),
                                          registry_);
    auto keys = WriteKeySet::Parse(
        absl::StrCat(
            "write_keys:\n",
            KeyEntry("wk-web", "default", "web", "[\"https://shop.example\"]"),
            KeyEntry("wk-app", "default", "app", "[\"https://app.example\"]"),
            KeyEntry("wk-server", "default", "server", "[]", true),
            KeyEntry("wk-other", "other", "web", "[\"https://shop.example\"]")),
        "test");
    ASSERT_TRUE(keys.ok()) << keys.status();
    api_ = std::make_unique<TrackingApi>(
        *intake_, *std::move(keys), dead_.get(), registry_,
        TrackingApiOptions(), [this] { return now_; });
    auto http = http::Server::Start(TrackingApi::ServerOptions("127.0.0.1:0"),
                                    api_->Routes());
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = std::move(*http);
    client_ = std::make_unique<HttpClient>(http_->port());
  }

  void TearDown() override {
    if (http_) http_->Stop();
  }

  HttpReply Post(const std::string& path, const std::string& body,
                 std::vector<std::string> headers = {Basic("wk-web:")}) {
    return client_->Send("POST", path, headers, body);
  }

  std::string Track(const std::string& message_id,
                    const std::string& extra = "") {
    return absl::StrCat(
        R"({"anonymousId":"a-1","event":"Clicked","messageId":")", message_id,
        "\"", extra, "}");
  }

  // event_id -> stored copies, over all shards.
  std::map<std::string, std::vector<Interaction>> Stored() {
    std::map<std::string, std::vector<Interaction>> out;
    for (int shard = 0; shard < 16; ++shard) {
      auto r = redis_->Command({"XRANGE", keys_.EventShard(shard), "-", "+"});
      if (!r.ok()) continue;
      for (const redis::Reply& entry : r->elements()) {
        Interaction e;
        EXPECT_TRUE(e.ParseFromString(entry.elements()[1].elements()[1].str()));
        out[e.event_id()].push_back(e);
      }
    }
    return out;
  }

  // reason -> count in the dead-letter stream.
  std::map<std::string, int> DeadLetterReasons() {
    dead_->Flush();
    std::map<std::string, int> out;
    auto r = redis_->Command({"XRANGE", keys_.DeadLetter("http"), "-", "+"});
    if (!r.ok()) return out;
    for (const redis::Reply& entry : r->elements()) {
      const auto& fields = entry.elements()[1].elements();
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str() == "reason") out[fields[i + 1].str()]++;
      }
    }
    return out;
  }

  // Whole seconds, so RFC 3339 round trips are exact.
  absl::Time now_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  metrics::Registry registry_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<CommitQueue> queue_;
  std::unique_ptr<Intake> intake_;
  std::unique_ptr<DeadLetters> dead_;
  std::unique_ptr<TrackingApi> api_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(TrackingApiTest, WriteKeyForms) {
  struct Case {
    std::string name;
    std::vector<std::string> headers;
    std::string body;
    long status;
  };
  const std::string body = Track("m");
  const std::vector<Case> cases = {
      {"basic key:", {Basic("wk-web:")}, body, 200},
      {"basic key:x", {Basic("wk-web:x")}, body, 200},
      {"basic key without colon", {Basic("wk-web")}, body, 200},
      {"writeKey in body",
       {},
       R"({"writeKey":"wk-web","anonymousId":"a","event":"e"})",
       200},
      {"header wins over body",
       {Basic("wk-web:")},
       R"({"writeKey":"nope","anonymousId":"a","event":"e"})",
       200},
      {"missing", {}, body, 401},
      {"unknown", {Basic("wk-nope:")}, body, 401},
      {"unknown in body",
       {},
       R"({"writeKey":"wk-nope","anonymousId":"a","event":"e"})",
       401},
      {"another tenant's key", {Basic("wk-other:")}, body, 401},
      {"bearer is not basic", {"Authorization: Bearer wk-web"}, body, 401},
      {"malformed basic", {"Authorization: Basic %%%"}, body, 401},
  };
  for (const Case& c : cases) {
    HttpReply r = Post("/v1/track", c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    if (c.status == 200) {
      EXPECT_EQ(r.body, R"({"success":true})") << c.name;
      EXPECT_EQ(r.Header("content-type"), "application/json") << c.name;
    }
  }
}

TEST_F(TrackingApiTest, BodiesAreJsonWhateverTheContentTypeAndMayBeGzipped) {
  struct Case {
    std::string name;
    std::vector<std::string> headers;
    std::string body;
    long status;
  };
  const std::string auth = Basic("wk-web:");
  const std::vector<Case> cases = {
      {"json", {auth, "Content-Type: application/json"}, Track("c1"), 200},
      {"text/plain (sendBeacon)",
       {auth, "Content-Type: text/plain"},
       Track("c2"),
       200},
      {"none", {auth, "Content-Type:"}, Track("c3"), 200},
      {"gzip labelled form (RudderStack)",
       {auth, "Content-Type: application/x-www-form-urlencoded",
        "Content-Encoding: gzip"},
       testing::Gzip(Track("c4")),
       200},
      {"gzip json",
       {auth, "Content-Encoding: GZIP"},
       testing::Gzip(Track("c5")),
       200},
      {"gzip header, plain body",
       {auth, "Content-Encoding: gzip"},
       Track("c6"),
       400},
      {"truncated gzip",
       {auth, "Content-Encoding: gzip"},
       testing::Gzip(Track("c7")).substr(0, 20),
       400},
      {"malformed json", {auth}, "{\"event\":", 400},
      {"not an object", {auth}, "[]", 400},
      {"unknown encoding", {auth, "Content-Encoding: br"}, Track("c8"), 415},
  };
  for (const Case& c : cases) {
    HttpReply r = Post("/v1/track", c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
  }
  auto stored = Stored();
  for (const char* id : {"web:c1", "web:c2", "web:c3", "web:c4", "web:c5"}) {
    EXPECT_EQ(stored[id].size(), 1u) << id;
  }
  EXPECT_EQ(stored.count("web:c6"), 0u);
}

TEST_F(TrackingApiTest, SizeLimits) {
  // 500 KB after decompression: a compressed body that inflates past it.
  const std::string big =
      absl::StrCat(R"({"anonymousId":"a","event":"e","properties":{"p":")",
                   std::string(501 * 1024, 'x'), "\"}}");
  HttpReply gz = Post("/v1/track", testing::Gzip(big),
                      {Basic("wk-web:"), "Content-Encoding: gzip"});
  EXPECT_EQ(gz.status, 413) << gz.body;
  EXPECT_EQ(Post("/v1/track", big).status, 413);
  // Just under: a batch of 20 events of 24 KB (each under 32 KB).
  std::vector<std::string> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(absl::StrCat(
        R"({"type":"track","anonymousId":"a","event":"e","messageId":"s)", i,
        R"(","properties":{"p":")", std::string(24 * 1024, 'y'), "\"}}"));
  }
  const std::string batch =
      absl::StrCat(R"({"batch":[)", absl::StrJoin(events, ","), "]}");
  ASSERT_LT(batch.size(), 500u * 1024);
  EXPECT_EQ(Post("/v1/batch", batch).status, 200);
  EXPECT_EQ(Stored().size(), 20u);
  // More than 2,500 events: the request is refused whole.
  std::vector<std::string> many(2501, R"({"type":"page","anonymousId":"a"})");
  HttpReply over =
      Post("/v1/batch",
           absl::StrCat(R"({"batch":[)", absl::StrJoin(many, ","), "]}"));
  EXPECT_EQ(over.status, 400);
  EXPECT_THAT(over.body, HasSubstr("at most 2500"));
}

TEST_F(TrackingApiTest, Cors) {
  // Preflight: allowed when any key allows the origin.
  HttpReply pre = client_->Send(
      "OPTIONS", "/v1/batch",
      {"Origin: https://app.example", "Access-Control-Request-Method: POST",
       "Access-Control-Request-Headers: content-type, authorization"});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.Header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(pre.Header("access-control-allow-methods"), "POST");
  EXPECT_EQ(pre.Header("access-control-allow-headers"),
            "content-type, authorization");
  HttpReply stranger =
      client_->Send("OPTIONS", "/v1/batch", {"Origin: https://evil.example"});
  EXPECT_EQ(stranger.status, 204);
  EXPECT_EQ(stranger.Header("access-control-allow-origin"), "");
  // Responses: the key's own origins.
  HttpReply own = Post("/v1/track", Track("o1"),
                       {Basic("wk-web:"), "Origin: https://shop.example"});
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(own.Header("access-control-allow-origin"), "https://shop.example");
  HttpReply other = Post("/v1/track", Track("o2"),
                         {Basic("wk-web:"), "Origin: https://app.example"});
  EXPECT_EQ(other.status, 200);  // stored; the browser hides the answer
  EXPECT_EQ(other.Header("access-control-allow-origin"), "");
  // Before a key is known (401), any key's origins.
  HttpReply unauth =
      Post("/v1/track", Track("o3"), {"Origin: https://app.example"});
  EXPECT_EQ(unauth.status, 401);
  EXPECT_EQ(unauth.Header("access-control-allow-origin"),
            "https://app.example");
}

// Segment's browser SDK posts each event to the first letter of its type,
// and a batch to /v1/b, with a CORS preflight on each.
TEST_F(TrackingApiTest, BrowserSdkShortPaths) {
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"/v1/t",
       R"({"anonymousId":"a","userId":null,"event":"Clicked","messageId":"s-t"})"},
      {"/v1/p",
       R"({"anonymousId":"a","userId":null,"name":"Home","messageId":"s-p"})"},
      {"/v1/i",
       R"({"anonymousId":"a","traits":{"plan":"pro"},"messageId":"s-i"})"},
      {"/v1/s", R"({"anonymousId":"a","name":"Main","messageId":"s-s"})"},
      {"/v1/g", R"({"anonymousId":"a","groupId":"g1","messageId":"s-g"})"},
      {"/v1/a", R"({"userId":"u","previousId":"a","messageId":"s-a"})"},
      {"/v1/b",
       R"({"batch":[{"type":"track","anonymousId":"a","event":"E","messageId":"s-b"}]})"}};
  for (const auto& [path, body] : calls) {
    HttpReply pre = client_->Send(
        "OPTIONS", path,
        {"Origin: https://shop.example", "Access-Control-Request-Method: POST",
         "Access-Control-Request-Headers: authorization"});
    EXPECT_EQ(pre.status, 204) << path;
    EXPECT_EQ(pre.Header("access-control-allow-origin"), "https://shop.example")
        << path;
    HttpReply r = Post(path, body,
                       {Basic("wk-web:"), "Content-Type: text/plain",
                        "Origin: https://shop.example"});
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
  }
  auto stored = Stored();
  std::map<std::string, std::string> types;
  for (const auto& [id, copies] : stored) {
    ASSERT_EQ(copies.size(), 1u) << id;
    types[id] = copies[0].type();
  }
  EXPECT_EQ(types,
            (std::map<std::string, std::string>{{"web:s-t", "x-clicked"},
                                                {"web:s-p", "page_view"},
                                                {"web:s-i", "x-identify"},
                                                {"web:s-s", "page_view"},
                                                {"web:s-g", "x-group"},
                                                {"web:s-a", "x-alias"},
                                                {"web:s-b", "x-e"}}));
  EXPECT_EQ(stored["web:s-t"][0].customer().anonymous_id(), "a");
}

TEST_F(TrackingApiTest, BadEventsAreRejectedAloneCountedAndDeadLettered) {
  const std::string batch = absl::StrCat(
      R"({"batch":[
        {"type":"track","anonymousId":"a","event":"ok","messageId":"good"},
        {"type":"track","event":"no ids","messageId":"p1"},
        {"type":"track","anonymousId":"a","messageId":"p2"},
        {"type":"track","anonymousId":"a","event":"big","messageId":"p3",
         "properties":{"p":")",
      std::string(33 * 1024, 'z'), R"("}},
        {"type":"track","anonymousId":"a","event":"old","messageId":"p4",
         "timestamp":"2001-01-01T00:00:00Z"}]})");
  HttpReply r = Post("/v1/batch", batch);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"success":true})");
  auto stored = Stored();
  EXPECT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored.count("web:good"), 1u);
  EXPECT_EQ(DeadLetterReasons(),
            (std::map<std::string, int>{{"invalid", 1},
                                        {"missing_event", 1},
                                        {"missing_id", 1},
                                        {"too_large", 1}}));
  const std::string metrics = registry_.Render();
  EXPECT_THAT(
      metrics,
      HasSubstr("omnicx_http_events_rejected_total{reason=\"missing_id\"} 1"));
  EXPECT_THAT(
      metrics,
      HasSubstr("omnicx_http_events_rejected_total{reason=\"invalid\"} 1"));
  // A single call with a bad event still answers 200.
  EXPECT_EQ(Post("/v1/track", R"({"event":"no ids"})").status, 200);
}

TEST_F(TrackingApiTest, TimestampsAreSkewCorrected) {
  // The device's clock is an hour fast.
  const absl::Time device = now_ + absl::Hours(1);
  HttpReply r =
      Post("/v1/batch",
           absl::StrCat(R"({"sentAt":")", Rfc3339(device), R"(","batch":[
        {"type":"track","anonymousId":"a","event":"e","messageId":"t1",
         "originalTimestamp":")",
                        Rfc3339(device - absl::Seconds(30)), R"("},
        {"type":"track","anonymousId":"a","event":"e","messageId":"t2",
         "timestamp":")",
                        Rfc3339(now_ - absl::Hours(2)), R"(","sentAt":")",
                        Rfc3339(now_ - absl::Hours(2)), R"("}]})"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto stored = Stored();
  ASSERT_EQ(stored["web:t1"].size(), 1u);
  EXPECT_EQ(time::FromProto(stored["web:t1"][0].occurred_at()),
            now_ - absl::Seconds(30));
  // The event's own sentAt wins over the batch's: sent at once, so now.
  EXPECT_EQ(time::FromProto(stored["web:t2"][0].occurred_at()), now_);
  // An explicit timestamp without any sentAt is taken as is.
  ASSERT_EQ(
      Post("/v1/track",
           Track("t3", absl::StrCat(R"(,"timestamp":")",
                                    Rfc3339(now_ - absl::Hours(5)), "\"")))
          .status,
      200);
  EXPECT_EQ(time::FromProto(Stored()["web:t3"][0].occurred_at()),
            now_ - absl::Hours(5));
}

TEST_F(TrackingApiTest, RetriedAndResentBatchesStoreEachEventOnce) {
  auto batch = [this](absl::Duration sent_later) {
    return absl::StrCat(R"({"sentAt":")", Rfc3339(now_ + sent_later),
                        R"(","batch":[
          {"type":"track","anonymousId":"a","event":"e","messageId":"d1",
           "timestamp":")",
                        Rfc3339(now_ - absl::Seconds(5)), R"("},
          {"type":"page","userId":"u","messageId":"d2"}]})");
  };
  const std::string first = batch(absl::ZeroDuration());
  EXPECT_EQ(Post("/v1/batch", first).status, 200);
  HttpReply retried = Post("/v1/batch", first);  // byte-identical
  EXPECT_EQ(retried.status, 200);
  EXPECT_EQ(retried.new_connections, 0);  // the same keep-alive connection
  EXPECT_EQ(Post("/v1/batch", batch(absl::Seconds(40))).status, 200);
  EXPECT_EQ(Post("/v1/import", first).status, 200);
  auto stored = Stored();
  EXPECT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored["web:d1"].size(), 1u);
  EXPECT_EQ(stored["web:d2"].size(), 1u);
  // Another source's same messageId is another event.
  EXPECT_EQ(Post("/v1/batch", first, {Basic("wk-app:")}).status, 200);
  EXPECT_EQ(Stored().size(), 4u);
}

TEST_F(TrackingApiTest, UntrustedKeysClaimIdentitiesTrustedOnesLink) {
  const std::string identify =
      R"({"userId":"u-1","messageId":"i1","traits":{"email":"Jane@Example.com"}})";
  ASSERT_EQ(Post("/v1/identify", identify).status, 200);
  ASSERT_EQ(Post("/v1/identify", identify, {Basic("wk-server:")}).status, 200);
  auto stored = Stored();
  ASSERT_EQ(stored["web:i1"].size(), 1u);
  const Interaction& untrusted = stored["web:i1"][0];
  EXPECT_EQ(untrusted.identities_size(), 0);
  ASSERT_EQ(untrusted.claimed_identities_size(), 1);
  EXPECT_EQ(untrusted.claimed_identities(0).value(), "jane@example.com");
  ASSERT_EQ(stored["server:i1"].size(), 1u);
  const Interaction& trusted = stored["server:i1"][0];
  ASSERT_EQ(trusted.identities_size(), 1);
  EXPECT_EQ(trusted.identities(0).type(), "email");
  EXPECT_EQ(trusted.claimed_identities_size(), 0);
}

TEST_F(TrackingApiTest, OverloadIs429WithRetryAfterAndRedisDownIs503) {
  intake_->SetObservedLag(intake_->options().max_consumer_lag + 1);
  HttpReply busy = Post("/v1/track", Track("b1"));
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.Header("retry-after"), "1");
  intake_->SetObservedLag(0);
  EXPECT_EQ(Post("/v1/track", Track("b1")).status, 200);
  ASSERT_TRUE(redis_server_->Stop().ok());
  HttpReply down = Post("/v1/track", Track("b2"));
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.Header("retry-after"), "1");
}

TEST_F(TrackingApiTest, ManyKeepAliveConnectionsWithBatchesInFlight) {
  constexpr int kConnections = 6;
  constexpr int kRequests = 10;
  std::vector<std::thread> threads;
  std::vector<int> ok(kConnections, 0);
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client(http_->port());
      for (int i = 0; i < kRequests; ++i) {
        std::vector<std::string> events;
        for (int k = 0; k < 10; ++k) {
          events.push_back(absl::StrCat(
              R"({"type":"track","anonymousId":"a","event":"e","messageId":")",
              c, "-", i, "-", k, "\"}"));
        }
        HttpReply r = client.Send(
            "POST", "/v1/batch", {Basic("wk-web:")},
            absl::StrCat(R"({"batch":[)", absl::StrJoin(events, ","), "]}"));
        if (r.status == 200 && (i == 0 || r.new_connections == 0)) ++ok[c];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kConnections; ++c) EXPECT_EQ(ok[c], kRequests) << c;
  EXPECT_EQ(Stored().size(), size_t{kConnections * kRequests * 10});
}

}  // namespace
}  // namespace omnicx::ingestion
