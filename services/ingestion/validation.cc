#include "services/ingestion/validation.h"

#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/identity/normalize.h"
#include "libs/time/proto_time.h"

namespace omnicx::ingestion {
namespace {

using status::FieldViolation;

constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxTextLength = 128;
constexpr size_t kMaxCommentLength = 4096;

const absl::flat_hash_set<std::string>& Vocabulary() {
  static const auto* types = new absl::flat_hash_set<std::string>{
      "page_view",       "product_view",   "search",
      "add_to_cart",     "checkout_start", "purchase",
      "payment",         "delivery",       "return",
      "login",           "signup",         "app_open",
      "email_open",      "email_click",    "sms_click",
      "support_contact", "complaint",      "issue_resolved",
      "survey_response", "review",         "referral",
      "renewal",         "cancellation",   "store_visit",
      "branch_visit",    "callback",       "chat_message",
      "churned",         "account_closed", "subscription_cancelled"};
  return *types;
}

bool IsCustomType(absl::string_view type) {
  if (!absl::StartsWith(type, "x-") || type.size() < 3 || type.size() > 66) {
    return false;
  }
  for (unsigned char c : type.substr(2)) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

// Short free text (touchpoint, case id): at most 128 bytes, no control
// characters.
bool IsShortText(absl::string_view text) {
  if (text.size() > kMaxTextLength) return false;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

class Checker {
 public:
  explicit Checker(absl::string_view root) : root_(root) {}

  void Add(absl::string_view field, absl::string_view description) {
    violations_.push_back(
        {field.empty() ? root_ : absl::StrCat(root_, ".", field),
         std::string(description)});
  }
  std::vector<FieldViolation> Take() { return std::move(violations_); }
  bool ok() const { return violations_.empty(); }

 private:
  std::string root_;
  std::vector<FieldViolation> violations_;
};

void CheckIdentity(Checker& check, const std::string& field,
                   omnicx::v1::Identity* identity) {
  if (!identity::IsKnownIdentityType(identity->type())) {
    check.Add(field + ".type",
              "must be one of email, phone, crm_id, device_id, loyalty_id, "
              "anonymous_id");
    return;
  }
  absl::StatusOr<std::string> value =
      identity::NormalizeIdentity(identity->type(), identity->value());
  if (!value.ok()) {
    check.Add(field + ".value", value.status().message());
    return;
  }
  identity->set_value(*value);
}

void CheckCustomer(Checker& check, bool trusted_identities,
                   omnicx::v1::CustomerRef* customer) {
  switch (customer->ref_case()) {
    case omnicx::v1::CustomerRef::kCustomerId:
      if (!identity::IsVisibleAsciiId(customer->customer_id(), kMaxIdLength)) {
        check.Add("customer.customer_id",
                  "must be 1-128 visible ASCII characters");
      }
      return;
    case omnicx::v1::CustomerRef::kAnonymousId:
      if (!identity::IsVisibleAsciiId(customer->anonymous_id(), kMaxIdLength)) {
        check.Add("customer.anonymous_id",
                  "must be 1-128 visible ASCII characters");
      }
      return;
    case omnicx::v1::CustomerRef::kIdentity:
      // Naming the subject by identity is a lookup in the identity index,
      // which only a verified identity may drive.
      if (!trusted_identities) {
        check.Add("customer.identity",
                  "an untrusted credential may name the customer only by "
                  "customer_id or anonymous_id");
        return;
      }
      CheckIdentity(check, "customer.identity", customer->mutable_identity());
      return;
    case omnicx::v1::CustomerRef::REF_NOT_SET:
      check.Add("customer",
                "is required: set customer_id, anonymous_id or identity");
      return;
  }
}

void CheckTime(Checker& check, absl::Time now, const ValidationOptions& options,
               const omnicx::v1::Interaction& event) {
  if (!event.has_occurred_at()) {
    check.Add("occurred_at", "is required");
    return;
  }
  const auto& ts = event.occurred_at();
  if (!time::IsValid(ts)) {
    check.Add("occurred_at", "must be a valid timestamp");
    return;
  }
  const absl::Time at = time::FromProto(ts);
  if (at > now + options.max_future) {
    check.Add("occurred_at",
              absl::StrCat("must not be more than ",
                           absl::FormatDuration(options.max_future),
                           " in the future"));
  } else if (at < now - options.max_age) {
    check.Add("occurred_at",
              absl::StrCat("must not be older than ",
                           absl::FormatDuration(options.max_age)));
  }
}

void CheckFeedback(Checker& check, const omnicx::v1::Feedback& feedback) {
  if (feedback.has_nps() && (feedback.nps() < 0 || feedback.nps() > 10)) {
    check.Add("feedback.nps", "must be between 0 and 10");
  }
  if (feedback.has_csat() && (feedback.csat() < 1 || feedback.csat() > 5)) {
    check.Add("feedback.csat", "must be between 1 and 5");
  }
  if (feedback.has_ces() && (feedback.ces() < 1 || feedback.ces() > 7)) {
    check.Add("feedback.ces", "must be between 1 and 7");
  }
  if (feedback.comment().size() > kMaxCommentLength) {
    check.Add("feedback.comment", "must be at most 4096 bytes");
  }
}

}  // namespace

bool IsKnownEventType(absl::string_view type) {
  return IsBuiltInEventType(type) || IsCustomType(type);
}

bool IsBuiltInEventType(absl::string_view type) {
  return Vocabulary().contains(type);
}

std::vector<FieldViolation> ValidateInteraction(
    absl::Time now, const ValidationOptions& options, absl::string_view path,
    omnicx::v1::Interaction* event, bool trusted_identities) {
  Checker check(path);
  if (event->ByteSizeLong() > options.max_event_bytes) {
    check.Add("", absl::StrCat("must be at most ", options.max_event_bytes,
                               " bytes serialised"));
    return check.Take();
  }
  if (event->event_id().empty()) {
    check.Add("event_id", "is required");
  } else if (!identity::IsVisibleAsciiId(event->event_id(), kMaxIdLength)) {
    check.Add("event_id", "must be 1-128 visible ASCII characters");
  }
  if (event->has_customer()) {
    CheckCustomer(check, trusted_identities, event->mutable_customer());
  } else {
    check.Add("customer",
              "is required: set customer_id, anonymous_id or identity");
  }
  if (event->identities_size() > options.max_identities) {
    check.Add("identities", absl::StrCat("must have at most ",
                                         options.max_identities, " entries"));
  } else if (event->identities_size() + event->claimed_identities_size() >
             options.max_identities) {
    check.Add("claimed_identities",
              absl::StrCat("must have at most ", options.max_identities,
                           " entries together with identities"));
  } else {
    for (int i = 0; i < event->identities_size(); ++i) {
      CheckIdentity(check, absl::StrCat("identities[", i, "]"),
                    event->mutable_identities(i));
    }
    for (int i = 0; i < event->claimed_identities_size(); ++i) {
      CheckIdentity(check, absl::StrCat("claimed_identities[", i, "]"),
                    event->mutable_claimed_identities(i));
    }
  }
  if (event->channel() == omnicx::v1::CHANNEL_UNSPECIFIED) {
    check.Add("channel", "must be specified");
  } else if (!omnicx::v1::Channel_IsValid(event->channel())) {
    check.Add("channel", "must be a known channel");
  }
  if (event->type().empty()) {
    check.Add("type", "is required");
  } else if (!IsKnownEventType(event->type())) {
    check.Add("type",
              "must be a documented event type or a custom type x-<name> "
              "([a-z0-9_-], up to 64 characters)");
  }
  CheckTime(check, now, options, *event);
  if (!IsShortText(event->touchpoint())) {
    check.Add("touchpoint",
              "must be at most 128 bytes without control characters");
  }
  if (!IsShortText(event->case_id())) {
    check.Add("case_id",
              "must be at most 128 bytes without control characters");
  }
  if (!omnicx::v1::Outcome_IsValid(event->outcome())) {
    check.Add("outcome", "must be a known outcome");
  }
  if (event->has_sentiment() &&
      !(std::isfinite(event->sentiment()) && event->sentiment() >= -1.0 &&
        event->sentiment() <= 1.0)) {
    check.Add("sentiment", "must be between -1 and 1");
  }
  if (event->has_feedback()) CheckFeedback(check, event->feedback());
  if (!std::isfinite(event->value())) check.Add("value", "must be finite");
  if (event->has_wait()) {
    const auto& wait = event->wait();
    if (wait.seconds() < 0 || wait.nanos() < 0 || wait.nanos() > 999999999 ||
        wait.seconds() > 30LL * 24 * 3600) {
      check.Add("wait", "must be between 0 and 30 days");
    }
  }
  if (!check.ok()) return check.Take();

  // Identities from an untrusted sender are claims (normalised above, like
  // any identity): they travel with the event but never link or merge.
  if (!trusted_identities) {
    for (omnicx::v1::Identity& id : *event->mutable_identities()) {
      *event->add_claimed_identities() = std::move(id);
    }
    event->clear_identities();
  }
  // Server-owned fields: set here, never taken from the client.
  event->clear_resolved_customer_id();
  *event->mutable_received_at() = time::ToProto(now);
  return {};
}

std::vector<FieldViolation> ValidateBatchLimits(
    const ValidationOptions& options,
    const omnicx::v1::TrackBatchRequest& request) {
  std::vector<FieldViolation> out;
  if (request.interactions_size() > options.max_batch_events) {
    out.push_back(
        {"interactions",
         absl::StrCat("must have at most ", options.max_batch_events,
                      " events (got ", request.interactions_size(), ")")});
  }
  if (request.ByteSizeLong() > options.max_batch_bytes) {
    out.push_back({"interactions",
                   absl::StrCat("must be at most ", options.max_batch_bytes,
                                " bytes in total")});
  }
  return out;
}

}  // namespace omnicx::ingestion
