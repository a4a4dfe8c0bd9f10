#include "libs/identity/normalize.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/keys/digest.h"

namespace omnicx::identity {
namespace {

constexpr size_t kMaxIdLength = 128;

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(why);
}

absl::StatusOr<std::string> NormalizeEmail(absl::string_view raw) {
  const std::string email =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(raw));
  if (email.empty()) return Invalid("must be a non-empty email address");
  if (email.size() > 254) return Invalid("must be at most 254 characters");
  const size_t at = email.find('@');
  if (at == std::string::npos || email.find('@', at + 1) != std::string::npos) {
    return Invalid("must be an email address with exactly one '@'");
  }
  const absl::string_view local = absl::string_view(email).substr(0, at);
  const absl::string_view domain = absl::string_view(email).substr(at + 1);
  if (local.empty() || local.size() > 64) {
    return Invalid("must have 1-64 characters before '@'");
  }
  for (unsigned char c : local) {
    if (c <= 0x20 || c == 0x7F) {
      return Invalid("must not contain spaces or control characters");
    }
  }
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.');
  if (labels.size() < 2) return Invalid("must have a domain with a dot");
  for (absl::string_view label : labels) {
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-') {
      return Invalid("must have a valid domain");
    }
    for (unsigned char c : label) {
      if (!(absl::ascii_isalnum(c) || c == '-')) {
        return Invalid("must have a valid domain");
      }
    }
  }
  return email;
}

absl::StatusOr<std::string> NormalizePhone(absl::string_view raw) {
  absl::string_view s = absl::StripAsciiWhitespace(raw);
  std::string digits;
  bool international = false;
  if (absl::ConsumePrefix(&s, "+")) {
    international = true;
  } else if (absl::ConsumePrefix(&s, "00")) {
    international = true;
  }
  for (char c : s) {
    if (absl::ascii_isdigit(c)) {
      digits.push_back(c);
    } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
      continue;
    } else {
      return Invalid(
          "must be a phone number in international format "
          "(+<country code><number>)");
    }
  }
  if (!international) {
    return Invalid(
        "must be in international format, starting with + and the country "
        "code");
  }
  if (digits.size() < 8 || digits.size() > 15 || digits[0] == '0') {
    return Invalid("must be an E.164 number: + then 8-15 digits");
  }
  return absl::StrCat("+", digits);
}

}  // namespace

bool IsKnownIdentityType(absl::string_view type) {
  return type == "email" || type == "phone" || type == "crm_id" ||
         type == "device_id" || type == "loyalty_id" || type == "anonymous_id";
}

bool IsVisibleAsciiId(absl::string_view id, size_t max_len) {
  if (id.empty() || id.size() > max_len) return false;
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

absl::StatusOr<std::string> NormalizeIdentity(absl::string_view type,
                                              absl::string_view value) {
  if (type == "email") return NormalizeEmail(value);
  if (type == "phone") return NormalizePhone(value);
  if (!IsKnownIdentityType(type)) {
    return Invalid(
        "must be one of email, phone, crm_id, device_id, loyalty_id, "
        "anonymous_id");
  }
  const absl::string_view id = absl::StripAsciiWhitespace(value);
  if (!IsVisibleAsciiId(id, kMaxIdLength)) {
    return Invalid("must be 1-128 visible ASCII characters");
  }
  return std::string(id);
}

std::string IdentityDigest(absl::string_view secret, absl::string_view type,
                           absl::string_view value) {
  return keys::HmacSha256Hex(secret, absl::StrCat(type, ":", value));
}

std::string MaskIdentity(absl::string_view type, absl::string_view value) {
  if (type == "email") {
    const size_t at = value.find('@');
    if (at == absl::string_view::npos || at == 0) return "***";
    return absl::StrCat(value.substr(0, 1), "***", value.substr(at));
  }
  if (type == "phone") {
    if (value.size() < 7) return "***";
    // Keep "+" and the first country-code digit, and the last four digits.
    return absl::StrCat(value.substr(0, 2), std::string(value.size() - 6, '*'),
                        value.substr(value.size() - 4));
  }
  if (value.size() <= 4) return std::string(value.size(), '*');
  return absl::StrCat(std::string(value.size() - 4, '*'),
                      value.substr(value.size() - 4));
}

}  // namespace omnicx::identity
