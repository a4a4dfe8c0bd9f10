#include "libs/identity/read_mask.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/identity/normalize.h"

namespace omnicx::identity {
namespace {

// The masked form of `text` if it is, as a whole, an email address or a
// "+"-prefixed phone number; empty otherwise.
std::string MaskIfIdentity(absl::string_view text) {
  if (text.find('@') != absl::string_view::npos) {
    absl::StatusOr<std::string> email = NormalizeIdentity("email", text);
    if (email.ok()) return MaskIdentity("email", *email);
  }
  if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), "+")) {
    absl::StatusOr<std::string> phone = NormalizeIdentity("phone", text);
    if (phone.ok()) return MaskIdentity("phone", *phone);
  }
  return "";
}

bool IsSeparator(char c) {
  return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
         absl::string_view(",;:=<>()[]\"'/").find(c) != absl::string_view::npos;
}

// The identity type a Struct field's name says its values are, or "".
std::string TypeOfField(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (IsKnownIdentityType(lower)) return lower;
  if (absl::StrContains(lower, "email")) return "email";
  if (absl::StrContains(lower, "phone") || absl::StrContains(lower, "mobile")) {
    return "phone";
  }
  return "";
}

std::string MaskAs(absl::string_view type, absl::string_view value) {
  absl::StatusOr<std::string> normalized = NormalizeIdentity(type, value);
  return MaskIdentity(type, normalized.ok() ? *normalized : value);
}

void MaskValue(absl::string_view type, google::protobuf::Value* value) {
  switch (value->kind_case()) {
    case google::protobuf::Value::kStringValue:
      value->set_string_value(type.empty()
                                  ? MaskText(value->string_value())
                                  : MaskAs(type, value->string_value()));
      break;
    case google::protobuf::Value::kNumberValue:
      // A phone number or an id stored as a number.
      if (!type.empty()) {
        value->set_string_value(
            MaskAs(type, absl::StrFormat("%.0f", value->number_value())));
      }
      break;
    case google::protobuf::Value::kListValue:
      for (google::protobuf::Value& v :
           *value->mutable_list_value()->mutable_values()) {
        MaskValue(type, &v);
      }
      break;
    case google::protobuf::Value::kStructValue:
      for (auto& [name, v] : *value->mutable_struct_value()->mutable_fields()) {
        const std::string own = TypeOfField(name);
        MaskValue(own.empty() ? type : own, &v);
      }
      break;
    default:
      break;
  }
}

void MaskId(omnicx::v1::Identity* id) {
  id->set_value(MaskIdentity(id->type(), id->value()));
}

}  // namespace

std::string MaskText(absl::string_view text) {
  if (std::string whole = MaskIfIdentity(text); !whole.empty()) return whole;
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (IsSeparator(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = i;
    while (end < text.size() && !IsSeparator(text[end])) ++end;
    const absl::string_view token = text.substr(i, end - i);
    std::string masked = MaskIfIdentity(token);
    absl::StrAppend(&out, masked.empty() ? token : masked);
    i = end;
  }
  return out;
}

void MaskStructForRead(google::protobuf::Struct* fields) {
  for (auto& [name, value] : *fields->mutable_fields()) {
    MaskValue(TypeOfField(name), &value);
  }
}

void MaskInteractionForRead(omnicx::v1::Interaction* e) {
  omnicx::v1::CustomerRef* customer = e->mutable_customer();
  if (customer->has_identity()) MaskId(customer->mutable_identity());
  if (customer->ref_case() == omnicx::v1::CustomerRef::kAnonymousId) {
    customer->set_anonymous_id(
        MaskIdentity("anonymous_id", customer->anonymous_id()));
  }
  for (omnicx::v1::Identity& id : *e->mutable_identities()) MaskId(&id);
  for (omnicx::v1::Identity& id : *e->mutable_claimed_identities()) {
    MaskId(&id);
  }
  if (e->has_properties()) MaskStructForRead(e->mutable_properties());
  if (e->has_feedback() && !e->feedback().comment().empty()) {
    e->mutable_feedback()->set_comment(MaskText(e->feedback().comment()));
  }
}

void MaskConsentForRead(omnicx::v1::Consent* consent) {
  consent->set_source(MaskText(consent->source()));
}

void MaskProfileForRead(omnicx::v1::Profile* profile) {
  for (omnicx::v1::Identity& id : *profile->mutable_identities()) MaskId(&id);
  for (omnicx::v1::Identity& id : *profile->mutable_unverified_identities()) {
    MaskId(&id);
  }
  for (omnicx::v1::IdentityLink& link : *profile->mutable_links()) {
    MaskId(link.mutable_identity());
    link.set_source(MaskText(link.source()));
  }
  if (profile->has_traits()) MaskStructForRead(profile->mutable_traits());
  for (omnicx::v1::Consent& c : *profile->mutable_consents()) {
    MaskConsentForRead(&c);
  }
}

void MaskContextForRead(omnicx::v1::CustomerContext* context) {
  if (context->has_profile()) MaskProfileForRead(context->mutable_profile());
  for (omnicx::v1::Interaction& e : *context->mutable_recent()) {
    MaskInteractionForRead(&e);
  }
}

}  // namespace omnicx::identity
