#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/metrics/http_server.h"
#include "libs/metrics/process_metrics.h"
#include "libs/metrics/registry.h"
#include "libs/status/status_matchers.h"

namespace omnicx::metrics {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(RegistryTest, ExactExposition) {
  Registry r;
  r.Counter("calls_total", "Calls.", {"method", "code"})
      .WithLabels({"Track", "OK"})
      .Increment(3);
  r.Gauge("lag", "Lag\nwith newline and \\.", {}).WithLabels({}).Set(-2.5);
  HistogramFamily& h =
      r.Histogram("latency_seconds", "Latency.", {"m"}, {0.1, 1});
  h.WithLabels({"a"}).Observe(0.05);
  h.WithLabels({"a"}).Observe(0.5);
  h.WithLabels({"a"}).Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP calls_total Calls.\n"
            "# TYPE calls_total counter\n"
            "calls_total{method=\"Track\",code=\"OK\"} 3\n"
            "# HELP lag Lag\\nwith newline and \\\\.\n"
            "# TYPE lag gauge\n"
            "lag -2.5\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{m=\"a\",le=\"0.1\"} 1\n"
            "latency_seconds_bucket{m=\"a\",le=\"1\"} 2\n"
            "latency_seconds_bucket{m=\"a\",le=\"+Inf\"} 3\n"
            "latency_seconds_sum{m=\"a\"} 7.55\n"
            "latency_seconds_count{m=\"a\"} 3\n");
}

TEST(RegistryTest, HostileLabelValuesAreEscaped) {
  Registry r;
  r.Counter("x_total", "X.", {"v"}).WithLabels({"a\"b\\c\nd"}).Increment();
  EXPECT_THAT(r.Render(), HasSubstr("x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(RegistryTest, ValuesAndReRegistration) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(1234567890123.0), "1234567890123");
  Registry r;
  CounterFamily& a = r.Counter("c_total", "C.", {"l"});
  CounterFamily& b = r.Counter("c_total", "C.", {"l"});
  EXPECT_EQ(&a, &b);
  EXPECT_DEATH(r.Gauge("c_total", "C.", {"l"}), "another type");
  EXPECT_DEATH(r.Counter("bad-name", "B.", {}), "invalid metric name");
}

TEST(RegistryTest, ConcurrentIncrementsSumExactly) {
  Registry r;
  Counter& c = r.Counter("n_total", "N.", {}).WithLabels({});
  HistogramFamily& h = r.Histogram("h", "H.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.Increment();
        h.WithLabels({}).Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 800000);
  EXPECT_EQ(h.WithLabels({}).CumulativeCounts().back(), 800000u);
  EXPECT_EQ(h.WithLabels({}).sum(), 400000);
}

TEST(ProcessMetricsTest, PresentAndPlausible) {
  Registry r;
  RegisterProcessMetrics(r);
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text,
              ContainsRegex("process_resident_memory_bytes [1-9][0-9]{5,}"));
  EXPECT_THAT(text, ContainsRegex("process_start_time_seconds 1[0-9]{9}"));
  EXPECT_THAT(text, ContainsRegex("process_threads [1-9]"));
}

std::string Http(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, n);
  close(fd);
  return out;
}

TEST(MetricsHttpServerTest, ServesMetricsAndRejectsTheRest) {
  Registry r;
  r.Counter("hits_total", "Hits.", {}).WithLabels({}).Increment();
  ASSERT_OK_AND_ASSIGN(auto server,
                       MetricsHttpServer::Start("127.0.0.1:0", &r));
  const int port = server->port();
  const std::string ok = Http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(
      ok,
      HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(ok, HasSubstr("\r\n\r\n# HELP hits_total Hits.\n"));
  EXPECT_THAT(Http(port, "GET /other HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(Http(port, "POST /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(
      Http(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(10000, 'a')),
      StartsWith("HTTP/1.1 431"));
  EXPECT_THAT(MetricsHttpServer::Start(absl::StrCat("127.0.0.1:", port), &r),
              status::StatusIs(absl::StatusCode::kUnavailable));
  server->Stop();
  server->Stop();
  EXPECT_EQ(Http(port, "GET /metrics HTTP/1.1\r\n\r\n"), "connect failed");
}

}  // namespace
}  // namespace omnicx::metrics
