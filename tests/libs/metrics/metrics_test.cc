#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/metrics/endpoint.h"
#include "libs/metrics/process_metrics.h"
#include "libs/metrics/registry.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/http_client.h"

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

TEST(MetricsEndpointTest, ServesMetricsAndRejectsTheRest) {
  Registry r;
  r.Counter("hits_total", "Hits.", {}).WithLabels({}).Increment();
  ASSERT_OK_AND_ASSIGN(auto server, StartEndpoint("127.0.0.1:0", &r));
  const int port = server->port();
  testing::HttpClient client(port);
  testing::HttpReply ok = client.Send("GET", "/metrics");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.Header("content-type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(ok.body, StartsWith("# HELP hits_total Hits.\n"));
  testing::HttpReply head = client.Send("HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(client.Send("GET", "/other").status, 404);
  EXPECT_EQ(client.Send("POST", "/metrics", {}, "x").status, 405);
  EXPECT_EQ(
      client.Send("GET", "/metrics", {"X: " + std::string(10000, 'a')}).status,
      431);
  EXPECT_THAT(StartEndpoint(absl::StrCat("127.0.0.1:", port), &r),
              status::StatusIs(absl::StatusCode::kUnavailable));
  server->Stop();
  server->Stop();
  EXPECT_EQ(testing::HttpClient(port).Send("GET", "/metrics").status, 0);
}

}  // namespace
}  // namespace omnicx::metrics
