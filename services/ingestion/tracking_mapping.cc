#include "services/ingestion/tracking_mapping.h"

#include <simdjson.h>
#include <zlib.h>

#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "libs/keys/random_id.h"
#include "libs/time/proto_time.h"
#include "services/ingestion/validation.h"

namespace omnicx::ingestion {

using omnicx::v1::Channel;
using omnicx::v1::Interaction;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

const TrackEventType kTrackEventTypes[] = {
    {"Order Completed", "purchase"},
    {"Product Viewed", "product_view"},
    {"Product List Viewed", "product_view"},
    {"Products Searched", "search"},
    {"Product Added", "add_to_cart"},
    {"Checkout Started", "checkout_start"},
    {"Payment Info Entered", "payment"},
    {"Order Refunded", "return"},
    {"Order Cancelled", "cancellation"},
    {"Product Reviewed", "review"},
    {"Signed Up", "signup"},
    {"Signed In", "login"},
    {"Application Opened", "app_open"},
    {"Email Opened", "email_open"},
    {"Email Link Clicked", "email_click"},
    {"Subscription Renewed", "renewal"},
    {"Subscription Cancelled", "cancellation"},
    {"Referral Sent", "referral"},
};
const size_t kTrackEventTypesSize =
    sizeof(kTrackEventTypes) / sizeof(kTrackEventTypes[0]);

namespace {

constexpr size_t kMaxSourceIdChars = 27;  // + ':' + 100 <= 128

// Debian's Abseil has its own string_view; simdjson uses std's.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

std::optional<absl::string_view> StringField(const object& o,
                                             std::string_view key) {
  std::string_view v;
  if (o.at_key(key).get_string().get(v) == simdjson::SUCCESS) return Sv(v);
  return std::nullopt;
}

// A non-empty id given as a string or a number (some SDKs send numeric
// user ids).
std::optional<std::string> IdField(const object& o, std::string_view key) {
  element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  switch (e.type()) {
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      if (s.empty()) return std::nullopt;
      return std::string(s);
    }
    case element_type::INT64:
      return absl::StrCat(e.get_int64().value_unsafe());
    case element_type::UINT64:
      return absl::StrCat(e.get_uint64().value_unsafe());
    default:
      return std::nullopt;
  }
}

std::optional<object> ObjectField(const object& o, std::string_view key) {
  object out;
  if (o.at_key(key).get_object().get(out) == simdjson::SUCCESS) return out;
  return std::nullopt;
}

// JSON -> google.protobuf.Value; false when nested deeper than `depth`.
bool ToValue(const element& e, int depth, google::protobuf::Value* out) {
  if (depth <= 0) return false;
  switch (e.type()) {
    case element_type::OBJECT: {
      auto* fields = out->mutable_struct_value()->mutable_fields();
      object o;
      if (e.get_object().get(o) != simdjson::SUCCESS) return false;
      for (auto [key, value] : o) {
        if (!ToValue(value, depth - 1, &(*fields)[std::string(key)])) {
          return false;
        }
      }
      return true;
    }
    case element_type::ARRAY: {
      auto* list = out->mutable_list_value();
      simdjson::dom::array a;
      if (e.get_array().get(a) != simdjson::SUCCESS) return false;
      for (element value : a) {
        if (!ToValue(value, depth - 1, list->add_values())) return false;
      }
      return true;
    }
    case element_type::STRING:
      out->set_string_value(std::string(e.get_string().value_unsafe()));
      return true;
    case element_type::INT64:
      out->set_number_value(static_cast<double>(e.get_int64().value_unsafe()));
      return true;
    case element_type::UINT64:
      out->set_number_value(static_cast<double>(e.get_uint64().value_unsafe()));
      return true;
    case element_type::DOUBLE:
      out->set_number_value(e.get_double().value_unsafe());
      return true;
    case element_type::BOOL:
      out->set_bool_value(e.get_bool().value_unsafe());
      return true;
    case element_type::NULL_VALUE:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return true;
  }
  return true;
}

bool ToStruct(const object& o, int depth, google::protobuf::Struct* out) {
  auto* fields = out->mutable_fields();
  for (auto [key, value] : o) {
    if (!ToValue(value, depth, &(*fields)[std::string(key)])) return false;
  }
  return true;
}

// RFC 3339 / ISO 8601 as the SDKs send it ("2024-05-01T10:00:00.123Z").
std::optional<absl::Time> ParseTimestamp(absl::string_view text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
    return t;
  }
  return std::nullopt;
}

std::optional<Channel> ChannelWord(absl::string_view word) {
  const std::string w = absl::AsciiStrToLower(word);
  if (w == "web" || w == "browser") return omnicx::v1::CHANNEL_WEB;
  if (w == "mobile" || w == "ios" || w == "android") {
    return omnicx::v1::CHANNEL_MOBILE_APP;
  }
  return std::nullopt;  // "server" and the rest: the key's default
}

Channel EventChannel(const object& event, const std::optional<object>& context,
                     Channel fallback) {
  if (auto c = StringField(event, "channel")) {
    if (auto ch = ChannelWord(*c)) return *ch;
  }
  if (context.has_value()) {
    if (auto c = StringField(*context, "channel")) {
      if (auto ch = ChannelWord(*c)) return *ch;
    }
    if (auto device = ObjectField(*context, "device")) {
      if (auto t = StringField(*device, "type")) {
        if (auto ch = ChannelWord(*t)) return *ch;
      }
    }
  }
  return fallback;
}

// The event's context: its own `context`, else the batch's (the event's
// keys win; only channel and device.type are read).
std::optional<object> ContextOf(const object& event,
                                const std::optional<object>& batch_context) {
  if (auto c = ObjectField(event, "context")) {
    if (batch_context.has_value()) {
      // Keys missing from the event's context fall back to the batch's:
      // look them up there when the event's lacks channel and device.
      element probe;
      if (c->at_key("channel").get(probe) != simdjson::SUCCESS &&
          c->at_key("device").get(probe) != simdjson::SUCCESS) {
        return batch_context;
      }
    }
    return c;
  }
  return batch_context;
}

void AddIdentity(Interaction* event, const char* type, std::string value) {
  auto* id = event->add_identities();
  id->set_type(type);
  id->set_value(std::move(value));
}

struct Rejection {
  std::string reason;
  std::string detail;
};

// Maps one event object; a Rejection when it must be refused alone.
std::optional<Rejection> MapEvent(
    CallType type, const object& e, const std::optional<object>& batch_context,
    std::optional<absl::Time> batch_sent_at, const WriteKeyGrant& grant,
    absl::Time received_at, const TrackingLimits& limits,
    const std::function<std::string()>& new_id, Interaction* out) {
  std::optional<std::string> user_id = IdField(e, "userId");
  std::optional<std::string> anonymous_id = IdField(e, "anonymousId");
  if (!user_id.has_value() && !anonymous_id.has_value()) {
    return Rejection{"missing_id", "userId or anonymousId is required"};
  }
  // event_id: "<source>:<messageId>".
  std::string message_id;
  if (auto m = IdField(e, "messageId")) {
    if (m->size() > limits.max_message_id_chars) {
      return Rejection{"message_id", absl::StrCat("messageId must be at most ",
                                                  limits.max_message_id_chars,
                                                  " characters")};
    }
    message_id = *std::move(m);
  } else {
    message_id = new_id ? new_id() : keys::RandomId("srv-", 16);
  }
  out->set_event_id(absl::StrCat(grant.source, ":", message_id));
  if (user_id.has_value()) {
    out->mutable_customer()->set_customer_id(*user_id);
    if (anonymous_id.has_value()) {
      AddIdentity(out, "anonymous_id", *anonymous_id);
    }
  } else {
    out->mutable_customer()->set_anonymous_id(*anonymous_id);
  }

  const int depth = limits.max_depth;
  bool nested_ok = true;
  switch (type) {
    case CallType::kTrack: {
      std::optional<absl::string_view> name = StringField(e, "event");
      if (!name.has_value() || name->empty()) {
        return Rejection{"missing_event", "a track call needs `event`"};
      }
      out->set_type(TrackEventToType(*name));
      if (name->size() <= 128) out->set_touchpoint(std::string(*name));
      if (auto p = ObjectField(e, "properties")) {
        nested_ok = ToStruct(*p, depth, out->mutable_properties());
      }
      break;
    }
    case CallType::kPage:
    case CallType::kScreen: {
      out->set_type("page_view");
      if (auto name = StringField(e, "name"); name && name->size() <= 128) {
        out->set_touchpoint(std::string(*name));
      }
      if (auto p = ObjectField(e, "properties")) {
        nested_ok = ToStruct(*p, depth, out->mutable_properties());
      }
      break;
    }
    case CallType::kIdentify:
    case CallType::kGroup: {
      out->set_type(type == CallType::kIdentify ? "x-identify" : "x-group");
      if (auto traits = ObjectField(e, "traits")) {
        nested_ok = ToStruct(*traits, depth, out->mutable_properties());
        if (type == CallType::kIdentify) {
          if (auto email = StringField(*traits, "email");
              email && !email->empty()) {
            AddIdentity(out, "email", std::string(*email));
          }
          if (auto phone = StringField(*traits, "phone");
              phone && !phone->empty()) {
            AddIdentity(out, "phone", std::string(*phone));
          }
        }
      }
      if (type == CallType::kGroup) {
        if (auto g = IdField(e, "groupId")) {
          (*out->mutable_properties()->mutable_fields())["groupId"]
              .set_string_value(*g);
        }
      }
      break;
    }
    case CallType::kAlias: {
      out->set_type("x-alias");
      if (auto previous = IdField(e, "previousId")) {
        AddIdentity(out, "anonymous_id", *previous);
      }
      break;
    }
    case CallType::kBatch:
      return Rejection{"type", "unknown event type"};
  }
  if (!nested_ok) {
    return Rejection{"too_deep",
                     absl::StrCat("nested deeper than ", depth, " levels")};
  }
  // value: revenue, else value, else total.
  for (const char* key : {"revenue", "value", "total"}) {
    auto it = out->properties().fields().find(key);
    if (it != out->properties().fields().end() &&
        it->second.kind_case() == google::protobuf::Value::kNumberValue) {
      out->set_value(it->second.number_value());
      break;
    }
  }

  const std::optional<object> context = ContextOf(e, batch_context);
  out->set_channel(EventChannel(e, context, grant.default_channel));

  // Timestamps: the client's time, corrected by sentAt when there is one.
  std::optional<absl::Time> client_time;
  for (const char* key : {"originalTimestamp", "timestamp"}) {
    if (auto text = StringField(e, key)) {
      client_time = ParseTimestamp(*text);
      if (!client_time.has_value()) {
        return Rejection{"timestamp",
                         absl::StrCat("`", key, "` is not RFC 3339")};
      }
      break;
    }
  }
  std::optional<absl::Time> sent_at = batch_sent_at;
  if (auto text = StringField(e, "sentAt")) {
    sent_at = ParseTimestamp(*text);
    if (!sent_at.has_value()) {
      return Rejection{"timestamp", "`sentAt` is not RFC 3339"};
    }
  }
  absl::Time occurred = received_at;
  if (client_time.has_value()) {
    occurred = sent_at.has_value() ? received_at - (*sent_at - *client_time)
                                   : *client_time;
    if (sent_at.has_value() && occurred > received_at) occurred = received_at;
  }
  *out->mutable_occurred_at() = time::ToProto(occurred);
  return std::nullopt;
}

void AppendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      absl::StrAppend(out, "\\u00", std::string(1, kHex[c >> 4]),
                      std::string(1, kHex[c & 15]));
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

// The event's JSON for a dead letter, without any `writeKey` (a single
// call's event is the whole body, which may carry it): keys are never
// stored.
std::string DeadLetterPayload(const element& item) {
  object o;
  element probe;
  if (item.get_object().get(o) != simdjson::SUCCESS ||
      o.at_key("writeKey").get(probe) != simdjson::SUCCESS) {
    return simdjson::minify(item);
  }
  std::string out = "{";
  for (auto [key, value] : o) {
    if (key == "writeKey") continue;
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(key, &out);
    out.push_back(':');
    out += simdjson::minify(value);
  }
  out.push_back('}');
  return out;
}

std::string Cut(std::string s, size_t n) {
  if (s.size() > n) s.resize(n);
  return s;
}

}  // namespace

std::optional<CallType> ParseCallType(absl::string_view name) {
  if (name == "track") return CallType::kTrack;
  if (name == "identify") return CallType::kIdentify;
  if (name == "page") return CallType::kPage;
  if (name == "screen") return CallType::kScreen;
  if (name == "group") return CallType::kGroup;
  if (name == "alias") return CallType::kAlias;
  if (name == "batch" || name == "import") return CallType::kBatch;
  return std::nullopt;
}

std::string TrackEventToType(absl::string_view event) {
  for (size_t i = 0; i < kTrackEventTypesSize; ++i) {
    if (event == kTrackEventTypes[i].event) return kTrackEventTypes[i].type;
  }
  // A vocabulary word is taken as it is.
  if (IsBuiltInEventType(event)) return std::string(event);
  std::string slug = "x-";
  bool gap = false;
  for (unsigned char c : event) {
    if (slug.size() >= 66) break;
    if (absl::ascii_isalnum(c)) {
      if (gap && slug.size() > 2) slug.push_back('_');
      gap = false;
      slug.push_back(static_cast<char>(absl::ascii_tolower(c)));
    } else {
      gap = true;
    }
  }
  if (slug.size() == 2) slug += "event";
  return slug;
}

absl::StatusOr<std::string> DecodeBody(absl::string_view raw, bool gzip,
                                       const TrackingLimits& limits) {
  if (!gzip) {
    if (raw.size() > limits.max_body_bytes) {
      return absl::OutOfRangeError("body too large");
    }
    return std::string(raw);
  }
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) {
    return absl::InternalError("zlib init failed");
  }
  std::string out;
  // One byte over the limit is enough to know it is too large.
  out.resize(limits.max_body_bytes + 1);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const size_t produced = z.total_out;
  inflateEnd(&z);
  if (rc == Z_STREAM_END) {
    if (z.avail_in != 0) {
      return absl::InvalidArgumentError("trailing data after the gzip stream");
    }
    if (produced > limits.max_body_bytes) {
      return absl::OutOfRangeError("body too large after decompression");
    }
    out.resize(produced);
    return out;
  }
  if ((rc == Z_BUF_ERROR || rc == Z_OK) && z.avail_out == 0) {
    return absl::OutOfRangeError("body too large after decompression");
  }
  return absl::InvalidArgumentError("malformed gzip body");
}

absl::StatusOr<TrackingRequest> MapTrackingRequest(
    CallType type, absl::string_view json, const WriteKeyResolver& resolve,
    absl::Time received_at, const TrackingLimits& limits,
    const std::function<std::string()>& new_id) {
  // One parser per thread, reused: its buffers grow to the largest body.
  thread_local simdjson::dom::parser parser;
  element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body is not valid JSON");
  }
  object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body must be a JSON object");
  }
  absl::string_view body_key;
  if (auto k = StringField(top, "writeKey")) body_key = *k;
  absl::StatusOr<WriteKeyGrant> grant = resolve(body_key);
  if (!grant.ok()) return grant.status();

  TrackingRequest request;
  request.grant = *std::move(grant);
  if (request.grant.source.size() > kMaxSourceIdChars) {
    return absl::InternalError("write key source is too long");
  }
  auto map_one = [&](CallType t, const element& item, size_t index,
                     const std::optional<object>& batch_context,
                     std::optional<absl::Time> batch_sent_at) {
    std::string payload = DeadLetterPayload(item);
    object e;
    std::optional<Rejection> rejection;
    Interaction event;
    if (item.get_object().get(e) != simdjson::SUCCESS) {
      rejection = Rejection{"not_an_object", "an event must be an object"};
    } else if (payload.size() > limits.max_event_bytes) {
      rejection = Rejection{
          "too_large",
          absl::StrCat("event is over ", limits.max_event_bytes, " bytes")};
    } else {
      rejection = MapEvent(t, e, batch_context, batch_sent_at, request.grant,
                           received_at, limits, new_id, &event);
    }
    if (rejection.has_value()) {
      request.rejected.push_back(
          {index, std::move(rejection->reason), std::move(rejection->detail),
           Cut(std::move(payload), limits.max_event_bytes)});
      return;
    }
    request.events.push_back(std::move(event));
    request.event_index.push_back(index);
    request.payloads.push_back(std::move(payload));
  };

  if (type != CallType::kBatch) {
    map_one(type, root, 0, std::nullopt, std::nullopt);
    return request;
  }
  simdjson::dom::array batch;
  if (top.at_key("batch").get_array().get(batch) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("`batch` must be an array of events");
  }
  if (batch.size() > limits.max_batch_events) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a batch holds at most ", limits.max_batch_events, " events"));
  }
  const std::optional<object> batch_context = ObjectField(top, "context");
  std::optional<absl::Time> batch_sent_at;
  bool bad_sent_at = false;
  if (auto text = StringField(top, "sentAt")) {
    batch_sent_at = ParseTimestamp(*text);
    bad_sent_at = !batch_sent_at.has_value();
  }
  size_t index = 0;
  for (element item : batch) {
    object e;
    std::optional<CallType> t;
    if (item.get_object().get(e) == simdjson::SUCCESS) {
      if (auto name = StringField(e, "type")) {
        t = ParseCallType(*name);
        if (t == CallType::kBatch) t.reset();
      }
    }
    if (bad_sent_at || (item.is_object() && !t.has_value())) {
      request.rejected.push_back(
          {index, bad_sent_at ? "timestamp" : "type",
           bad_sent_at ? "the batch's `sentAt` is not RFC 3339"
                       : "`type` must be track, identify, page, screen, "
                         "group or alias",
           Cut(DeadLetterPayload(item), limits.max_event_bytes)});
    } else {
      map_one(t.value_or(CallType::kTrack), item, index, batch_context,
              batch_sent_at);
    }
    ++index;
  }
  return request;
}

}  // namespace omnicx::ingestion
