// Load client for the HTTP tracking API (POST /v1/batch, 100 events per
// request, keep-alive connections, closed loop), the HTTP counterpart of
// ingestion_load's TrackBatch scenario. Prints key=value figures:
//   http_batch_events_per_s       4 connections
//   http_batch_many_events_per_s  --many connections (16)
//   http_batch{,_many}_{p99_ms,errors}[, _first_error]
// The events carry what ingestion_load's do (an anonymous id, a type
// (Segment's names, mapped to the same built-in types), a page, a value on
// purchases, a timestamp 5 s back) as Segment's SDKs send them, with
// messageIds shaped like their UUIDs and unique per run, so all are stored.
//
//   http_load --target=127.0.0.1:9080 --key_file=write.key --seconds=5
//             [--many=16]
#include <curl/curl.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/lib/load.h"

namespace {

constexpr int kBatchEvents = 100;
constexpr int kDigits = 12;
const char* const kEvents[] = {"Page Viewed",     "Product Viewed",
                               "Product Added",   "Order Completed",
                               "Support Contact", "Email Opened"};

// A batch body encoded once, whose messageIds end in kDigits hex digits of
// a counter that WithIds rewrites in place (like ingestion_load's).
class PreparedBody {
 public:
  PreparedBody(int worker, uint32_t run) {
    const std::string ts =
        absl::FormatTime(absl::RFC3339_full, absl::Now() - absl::Seconds(5),
                         absl::UTCTimeZone());
    body_ = R"({"batch":[)";
    for (int k = 0; k < kBatchEvents; ++k) {
      const int n = worker * 131 + k;
      const std::string id =
          absl::StrFormat("%08x-%04x-4%03x-8%03x-%012x", run, worker, 0, 0, 0);
      absl::StrAppend(&body_, k ? "," : "", R"({"type":"track","messageId":")",
                      id, R"(","anonymousId":"anon-)", n % 10000,
                      R"(","event":")", kEvents[n % 6],
                      R"(","properties":{"page":"/products/espresso-machine")",
                      n % 6 == 3 ? R"(,"revenue":49.9)" : "",
                      R"(},"timestamp":")", ts, "\"}");
      digits_.push_back(body_.rfind(id) + id.size() - kDigits);
    }
    absl::StrAppend(&body_, R"(],"sentAt":")", ts, "\"}");
  }

  const std::string& WithIds(uint64_t first) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int k = 0; k < kBatchEvents; ++k) {
      uint64_t n = first + k;
      for (int d = kDigits - 1; d >= 0; --d, n >>= 4) {
        body_[digits_[k] + d] = kHex[n & 15];
      }
    }
    return body_;
  }

 private:
  std::string body_;
  std::vector<size_t> digits_;
};

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

int main(int argc, char** argv) {
  std::string target = "127.0.0.1:9080";
  double seconds = 5;
  int many = 16;
  std::string key_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--target=")) target = a.substr(9);
    if (absl::StartsWith(a, "--seconds="))
      (void)absl::SimpleAtod(a.substr(10), &seconds);
    if (absl::StartsWith(a, "--many="))
      (void)absl::SimpleAtoi(a.substr(7), &many);
    if (absl::StartsWith(a, "--key_file=")) key_file = a.substr(11);
  }
  std::ifstream in(key_file);
  std::stringstream key_text;
  key_text << in.rdbuf();
  const std::string key(absl::StripAsciiWhitespace(key_text.str()));
  if (key.empty()) {
    std::fprintf(stderr, "http_load: --key_file %s is empty or unreadable\n",
                 key_file.c_str());
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string url = absl::StrCat("http://", target, "/v1/batch");
  const uint32_t run = static_cast<uint32_t>(absl::ToUnixMicros(absl::Now()));
  std::atomic<uint64_t> counter{0};

  auto batch = [&](int connections, const char* figure) {
    std::atomic<int64_t> accepted{0};
    absl::Mutex mu;
    std::string first_error;
    std::vector<CURL*> handles(connections, nullptr);
    std::vector<std::unique_ptr<PreparedBody>> bodies(connections);
    omnicx::bench::LoadResult r = omnicx::bench::RunClosedLoop(
        connections, absl::Seconds(seconds), 10'000'000, [&](int worker) {
          CURL*& curl = handles[worker];
          if (curl == nullptr) {
            curl = curl_easy_init();
            bodies[worker] = std::make_unique<PreparedBody>(worker, run);
            curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
            curl_easy_setopt(curl, CURLOPT_USERNAME, key.c_str());
            curl_easy_setopt(curl, CURLOPT_PASSWORD, "");
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
            curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
            static curl_slist* headers = curl_slist_append(
                curl_slist_append(nullptr, "Content-Type: application/json"),
                "Expect:");
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
          }
          const std::string& body =
              bodies[worker]->WithIds(counter.fetch_add(kBatchEvents));
          curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                           static_cast<long>(body.size()));
          curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
          const CURLcode rc = curl_easy_perform(curl);
          long status = 0;
          curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
          if (rc != CURLE_OK || status != 200) {
            absl::MutexLock lock(&mu);
            if (first_error.empty()) {
              first_error = rc != CURLE_OK ? curl_easy_strerror(rc)
                                           : absl::StrCat("HTTP ", status);
            }
            return false;
          }
          accepted += kBatchEvents;
          return true;
        });
    for (CURL* c : handles) {
      if (c != nullptr) curl_easy_cleanup(c);
    }
    std::printf("%s_events_per_s=%.1f\n%s_p99_ms=%.3f\n%s_errors=%lld\n",
                figure, accepted.load() / absl::ToDoubleSeconds(r.elapsed),
                figure, r.p99_ms(), figure, static_cast<long long>(r.errors));
    if (!first_error.empty()) {
      std::printf("%s_first_error=%s\n", figure, first_error.c_str());
    }
  };
  batch(4, "http_batch");
  batch(many, "http_batch_many");
  curl_global_cleanup();
  return 0;
}
