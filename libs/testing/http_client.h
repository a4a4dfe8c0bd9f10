// A real HTTP/1.1 client for tests (libcurl): one keep-alive connection per
// object, reused across calls, so tests exercise the server as browsers and
// SDKs do.
//
//   testing::HttpClient client(server->port());
//   testing::HttpReply r = client.Send("POST", "/v1/track",
//                                      {"Content-Type: application/json"},
//                                      R"({"event":"x"})");
//   EXPECT_EQ(r.status, 200);
//   EXPECT_EQ(r.Header("retry-after"), "1");
#ifndef OMNICX_LIBS_TESTING_HTTP_CLIENT_H_
#define OMNICX_LIBS_TESTING_HTTP_CLIENT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace omnicx::testing {

struct HttpReply {
  long status = 0;  // 0: no answer (connection failed)
  // Lower-cased names.
  std::map<std::string, std::string> headers;
  std::string body;
  // How many connections libcurl opened for this call (0 = reused).
  long new_connections = 0;

  std::string Header(const std::string& lower_case_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `headers` as "Name: value" lines.
  HttpReply Send(absl::string_view method, absl::string_view path,
                 const std::vector<std::string>& headers = {},
                 absl::string_view body = "");

 private:
  std::string base_;
  void* curl_;  // CURL*
};

// gzip (RFC 1952) of `data`, for Content-Encoding: gzip bodies.
std::string Gzip(absl::string_view data);

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_HTTP_CLIENT_H_
