#include "services/ingestion/tracking_api.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/status/error_details.h"

namespace omnicx::ingestion {
namespace {

// Each path under /v1/ and the call it is. Segment's browser SDK
// (analytics.js, @segment/analytics-next) posts an event to the first letter
// of its type and a batch to /v1/b (docs/http-api-clients.md).
struct Endpoint {
  const char* path;
  const char* call;
};
constexpr Endpoint kEndpoints[] = {{"track", "track"}, {"identify", "identify"},
                                   {"page", "page"},   {"screen", "screen"},
                                   {"group", "group"}, {"alias", "alias"},
                                   {"batch", "batch"}, {"import", "import"},
                                   {"t", "track"},     {"i", "identify"},
                                   {"p", "page"},      {"s", "screen"},
                                   {"g", "group"},     {"a", "alias"},
                                   {"b", "batch"}};

// The write key from "Authorization: Basic base64(key:password)"; the
// password is ignored and the colon optional. nullopt when the header is
// absent; "" when it is present but not a usable Basic credential.
std::optional<std::string> BasicUser(absl::string_view header) {
  if (header.empty()) return std::nullopt;
  absl::string_view value = absl::StripAsciiWhitespace(header);
  if (value.size() < 6 ||
      !absl::EqualsIgnoreCase(value.substr(0, 6), "basic ")) {
    return std::string();
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(value.substr(6)),
                            &decoded)) {
    return std::string();
  }
  return decoded.substr(0, decoded.find(':'));
}

std::string JsonMessage(absl::string_view text) {
  // Messages are ours (ASCII, no quotes or backslashes), never request data.
  return absl::StrCat("{\"success\":false,\"message\":\"", text, "\"}");
}

}  // namespace

TrackingApi::TrackingApi(Intake& intake, WriteKeySet write_keys,
                         DeadLetters* dead_letters, metrics::Registry& registry,
                         TrackingApiOptions options,
                         std::function<absl::Time()> clock)
    : intake_(intake),
      write_keys_(std::move(write_keys)),
      dead_letters_(dead_letters),
      options_(std::move(options)),
      clock_(std::move(clock)),
      requests_(registry.Counter("omnicx_http_requests_total",
                                 "Tracking API requests by endpoint and HTTP "
                                 "status.",
                                 {"endpoint", "code"})),
      rejected_(registry.Counter(
          "omnicx_http_events_rejected_total",
          "Tracking API events refused alone (the request still succeeds), "
          "by reason.",
          {"reason"})) {}

http::ServerOptions TrackingApi::ServerOptions(const std::string& address) {
  http::ServerOptions o;
  o.address = address;
  o.threads = 2;
  o.max_connections = 4096;
  o.connection_timeout = absl::Seconds(30);
  o.max_body_bytes = kMaxRawBodyBytes;
  o.header_buffer_bytes = 16 * 1024;
  o.name = "tracking API";
  return o;
}

http::Router TrackingApi::Routes() {
  http::Router router;
  for (const Endpoint& e : kEndpoints) {
    const CallType type = *ParseCallType(e.call);
    const std::string path = absl::StrCat("/v1/", e.path);
    const std::string endpoint = e.path;
    router.Handle("POST", path,
                  [this, type, endpoint](http::Request& r, http::Respond d) {
                    Handle(type, endpoint, r, std::move(d));
                  });
    router.Handle("OPTIONS", path, [this](http::Request& r, http::Respond d) {
      Preflight(r, std::move(d));
    });
  }
  return router;
}

void TrackingApi::Preflight(http::Request& request, http::Respond respond) {
  // A preflight carries no credential, so the key is unknown: the origin is
  // allowed when any write key allows it.
  const std::string origin(request.Header("origin"));
  http::Response r{204, {}, ""};
  if (!origin.empty() && write_keys_.AnyAllows(origin)) {
    r.headers = {
        {"Access-Control-Allow-Origin", origin},
        {"Access-Control-Allow-Methods", "POST"},
        {"Access-Control-Allow-Headers", "content-type, authorization"},
        {"Access-Control-Max-Age", "86400"},
        {"Vary", "Origin"}};
  }
  requests_.WithLabels({"preflight", absl::StrCat(r.status)}).Increment();
  respond(std::move(r));
}

http::Response TrackingApi::Answer(const std::string& endpoint, int status,
                                   std::string message,
                                   const std::string& origin,
                                   const WriteKeyGrant* grant) {
  http::Response r{status,
                   {{"Content-Type", "application/json"}},
                   status == 200 ? "{\"success\":true}" : JsonMessage(message)};
  // With a known key, its own origins; before one is known (401, 400), any
  // key's, so the page can read why it failed.
  if (!origin.empty() && (grant != nullptr ? OriginAllowed(*grant, origin)
                                           : write_keys_.AnyAllows(origin))) {
    r.headers.emplace_back("Access-Control-Allow-Origin", origin);
    r.headers.emplace_back("Vary", "Origin");
  }
  requests_.WithLabels({endpoint, absl::StrCat(status)}).Increment();
  return r;
}

void TrackingApi::Handle(CallType type, const std::string& endpoint,
                         http::Request& request, http::Respond respond) {
  const absl::Time received_at = clock_();
  const std::string origin(request.Header("origin"));

  // The key: HTTP Basic wins over the body's writeKey.
  const std::optional<std::string> basic =
      BasicUser(request.Header("authorization"));
  const WriteKeyGrant* header_grant = nullptr;
  if (basic.has_value()) {
    header_grant = write_keys_.Find(*basic);
    if (header_grant == nullptr || header_grant->tenant != options_.tenant) {
      respond(Answer(endpoint, 401, "unknown write key", origin, nullptr));
      return;
    }
  }

  const std::string encoding = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(request.Header("content-encoding")));
  if (!encoding.empty() && encoding != "gzip" && encoding != "identity") {
    respond(Answer(endpoint, 415, "unsupported content-encoding", origin,
                   header_grant));
    return;
  }
  absl::StatusOr<std::string> json =
      DecodeBody(request.body, encoding == "gzip", options_.limits);
  if (!json.ok()) {
    const bool too_large = absl::IsOutOfRange(json.status());
    respond(Answer(endpoint, too_large ? 413 : 400,
                   too_large ? "body over 500 KB" : "malformed gzip body",
                   origin, header_grant));
    return;
  }
  std::string().swap(request.body);

  const WriteKeyResolver resolve =
      [&](absl::string_view body_key) -> absl::StatusOr<WriteKeyGrant> {
    if (header_grant != nullptr) return *header_grant;
    const WriteKeyGrant* g = write_keys_.Find(body_key);
    if (g == nullptr || g->tenant != options_.tenant) {
      return absl::UnauthenticatedError(body_key.empty() ? "missing write key"
                                                         : "unknown write key");
    }
    return *g;
  };
  absl::StatusOr<TrackingRequest> mapped =
      MapTrackingRequest(type, *json, resolve, received_at, options_.limits);
  if (!mapped.ok()) {
    const bool unauthenticated = absl::IsUnauthenticated(mapped.status());
    respond(Answer(endpoint, unauthenticated ? 401 : 400,
                   std::string(mapped.status().message()), origin,
                   header_grant));
    return;
  }
  auto call = std::make_shared<TrackingRequest>(*std::move(mapped));
  for (const RejectedEvent& r : call->rejected) {
    rejected_.WithLabels({r.reason}).Increment();
  }
  if (dead_letters_ != nullptr) dead_letters_->Add(call->grant, call->rejected);
  if (call->events.empty()) {
    respond(Answer(endpoint, 200, "", origin, &call->grant));
    return;
  }
  std::vector<omnicx::v1::Interaction*> events;
  events.reserve(call->events.size());
  for (auto& e : call->events) events.push_back(&e);
  intake_.ProcessAsync(
      events, "interactions", call->grant.trusted_identities,
      [this, call, endpoint, origin, respond = std::move(respond)](
          absl::StatusOr<std::vector<omnicx::v1::EventResult>> results) {
        if (!results.ok()) {
          const absl::Status& s = results.status();
          int status = 500;
          if (absl::IsResourceExhausted(s)) status = 429;
          if (absl::IsUnavailable(s)) status = 503;
          http::Response r =
              Answer(endpoint, status,
                     status == 500 ? "internal error" : "overloaded; retry",
                     origin, &call->grant);
          if (status != 500) {
            const absl::Duration delay =
                status::GetRetryDelay(s).value_or(options_.retry_after);
            r.headers.emplace_back("Retry-After",
                                   absl::StrCat(std::max<int64_t>(
                                       1, static_cast<int64_t>(std::ceil(
                                              absl::ToDoubleSeconds(delay))))));
          }
          respond(std::move(r));
          return;
        }
        // Events the intake's validation refused: dead-lettered like the
        // mapping's rejections.
        std::vector<RejectedEvent> refused;
        for (size_t i = 0; i < results->size(); ++i) {
          const auto& result = (*results)[i];
          if (result.status() != omnicx::v1::EVENT_STATUS_REJECTED) continue;
          std::string detail;
          for (const auto& v : result.violations()) {
            // "interactions[3].feedback.nps" -> "feedback.nps ...".
            absl::string_view field = v.field();
            const size_t dot = field.find('.');
            field = dot == absl::string_view::npos ? "event"
                                                   : field.substr(dot + 1);
            absl::StrAppend(&detail, detail.empty() ? "" : "; ", field, " ",
                            v.description());
          }
          refused.push_back({call->event_index[i], "invalid", detail,
                             std::move(call->payloads[i])});
        }
        if (!refused.empty()) {
          rejected_.WithLabels({"invalid"}).Increment(refused.size());
          if (dead_letters_ != nullptr) {
            dead_letters_->Add(call->grant, refused);
          }
        }
        respond(Answer(endpoint, 200, "", origin, &call->grant));
      });
}

}  // namespace omnicx::ingestion
