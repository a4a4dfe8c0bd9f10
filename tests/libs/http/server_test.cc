// libs/http against a real client (libcurl) on 127.0.0.1, port 0.
#include "libs/http/server.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/http_client.h"

namespace omnicx::http {
namespace {

using ::omnicx::testing::HttpClient;
using ::omnicx::testing::HttpReply;

std::unique_ptr<Server> StartOrDie(Router router, ServerOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Server>> s =
      Server::Start(std::move(options), std::move(router));
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(*s);
}

Router Echo() {
  Router r;
  r.Handle("POST", "/echo", [](Request& req, Respond respond) {
    respond({201,
             {{"X-Method", req.method},
              {"X-Type", std::string(req.Header("content-type"))}},
             req.body});
  });
  return r;
}

TEST(HttpServerTest, RoutesByMethodAndPath) {
  auto server = StartOrDie(Echo());
  HttpClient client(server->port());
  HttpReply ok =
      client.Send("POST", "/echo?x=1", {"Content-Type: text/plain"}, "hello");
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(ok.body, "hello");
  EXPECT_EQ(ok.Header("x-method"), "POST");
  EXPECT_EQ(ok.Header("x-type"), "text/plain");
  HttpReply missing = client.Send("POST", "/other", {}, "x");
  EXPECT_EQ(missing.status, 404);
  HttpReply wrong = client.Send("GET", "/echo");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.Header("allow"), "POST");
}

TEST(HttpServerTest, KeepsConnectionsAlive) {
  auto server = StartOrDie(Echo());
  HttpClient client(server->port());
  EXPECT_EQ(client.Send("POST", "/echo", {}, "a").new_connections, 1);
  for (int i = 0; i < 5; ++i) {
    HttpReply r = client.Send("POST", "/echo", {}, absl::StrCat(i));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, absl::StrCat(i));
    EXPECT_EQ(r.new_connections, 0) << "request " << i;
  }
}

TEST(HttpServerTest, BodyCapAnswers413WhetherDeclaredOrNot) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartOrDie(Echo(), options);
  HttpClient client(server->port());
  EXPECT_EQ(client.Send("POST", "/echo", {}, std::string(1000, 'a')).status,
            201);
  EXPECT_EQ(client.Send("POST", "/echo", {}, std::string(1001, 'a')).status,
            413);
  // Chunked: no Content-Length, so the cap applies while reading.
  HttpClient chunked(server->port());
  HttpReply r = chunked.Send("POST", "/echo", {"Transfer-Encoding: chunked"},
                             std::string(5000, 'a'));
  EXPECT_EQ(r.status, 413);
}

TEST(HttpServerTest, OversizedHeadersAre431) {
  ServerOptions options;
  options.header_buffer_bytes = 8192;
  auto server = StartOrDie(Echo(), options);
  HttpClient client(server->port());
  EXPECT_EQ(
      client.Send("POST", "/echo", {"X-Big: " + std::string(10000, 'a')}, "x")
          .status,
      431);
}

// Handlers answer later from another thread; while they wait, other
// connections are served: every request is in flight at once before any is
// answered.
TEST(HttpServerTest, AnswersAsynchronouslyWithManyInFlight) {
  constexpr int kClients = 8;
  absl::Mutex mu;
  std::vector<Respond> waiting;
  Router router;
  router.Handle("POST", "/wait", [&](Request& req, Respond respond) {
    absl::MutexLock lock(&mu);
    waiting.push_back([respond, body = req.body](Response) {
      respond({200, {}, body});
    });
  });
  ServerOptions options;
  options.threads = 2;
  auto server = StartOrDie(std::move(router), options);
  std::vector<std::thread> clients;
  std::vector<HttpReply> replies(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      HttpClient c(server->port());
      replies[i] = c.Send("POST", "/wait", {}, absl::StrCat("req", i));
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<Respond>* w) { return w->size() == kClients; },
        &waiting));
  }
  std::thread answerer([&] {
    absl::MutexLock lock(&mu);
    for (Respond& r : waiting) r({});
  });
  answerer.join();
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(replies[i].status, 200);
    EXPECT_EQ(replies[i].body, absl::StrCat("req", i));
  }
}

TEST(HttpServerTest, StopAnswersUnansweredRequestsAndRefusesNewOnes) {
  absl::Mutex mu;
  Respond late;
  bool arrived = false;
  Router router;
  router.Handle("POST", "/never", [&](Request&, Respond respond) {
    absl::MutexLock lock(&mu);
    late = std::move(respond);
    arrived = true;
  });
  auto server = StartOrDie(std::move(router));
  const int port = server->port();
  HttpReply reply;
  std::thread client([&] {
    HttpClient c(port);
    reply = c.Send("POST", "/never", {}, "x");
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&arrived));
  }
  server->Stop(absl::Milliseconds(50));
  client.join();
  // Answered 503 at the end of the grace, or cut off by the close.
  EXPECT_THAT(reply.status, ::testing::AnyOf(503, 0));
  late({200, {}, "too late"});  // a no-op, not a crash
  server->Stop();
  EXPECT_EQ(HttpClient(port).Send("POST", "/never", {}, "x").status, 0);
}

TEST(HttpServerTest, AddressErrors) {
  auto server = StartOrDie(Echo());
  ServerOptions taken;
  taken.address = absl::StrCat("127.0.0.1:", server->port());
  EXPECT_THAT(Server::Start(taken, Echo()),
              status::StatusIs(absl::StatusCode::kUnavailable));
  ServerOptions bad;
  bad.address = "no-port";
  EXPECT_THAT(Server::Start(bad, Echo()),
              status::StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace omnicx::http
