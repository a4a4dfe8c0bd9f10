#include "libs/audit/audit_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/keys/digest.h"

namespace omnicx::audit {
namespace {

constexpr size_t kMinSecretBytes = 16;
constexpr size_t kMaxActionBytes = 64;
constexpr size_t kMaxDetailBytes = 512;
// XREVRANGE page size when a customer filter skips records.
constexpr int kReadPage = 500;
// Separates the audit hash from the identity index's HMACs, which use the
// same secret over "type:value".
constexpr absl::string_view kCustomerHashDomain = "omnicx-audit-customer:";

bool IsActionByte(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
         c == '.' || c == '-';
}

// Printable ASCII stays; everything else (and '\', the escape itself) is
// \xNN, so a value is one line and the escaping cannot be forged.
std::string Printable(absl::string_view in, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(in.size(), max_bytes));
  for (unsigned char c : in) {
    const bool plain = c >= 0x20 && c < 0x7f && c != '\\';
    if (out.size() + (plain ? 1 : 4) > max_bytes) break;
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// "1700000000123-0" for a time: the first stream id stored at or after it.
std::string StreamIdAtOrAfter(absl::Time t) {
  if (t <= absl::UnixEpoch()) return "-";
  return absl::StrCat(
      absl::ToUnixMillis(t) + (absl::FromUnixMillis(absl::ToUnixMillis(t)) < t),
      "-0");
}

absl::StatusOr<AuditRecord> ParseEntry(const redis::Reply& entry) {
  if (entry.elements().size() != 2) {
    return absl::FailedPreconditionError("audit: malformed stream entry");
  }
  AuditRecord r;
  r.id = entry.elements()[0].str();
  const std::vector<redis::Reply>& fields = entry.elements()[1].elements();
  const std::pair<absl::string_view, std::string*> slots[] = {
      {"ts", &r.ts},         {"tenant", &r.tenant}, {"actor", &r.actor},
      {"role", &r.role},     {"action", &r.action}, {"customer", &r.customer},
      {"detail", &r.detail},
  };
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    for (const auto& [name, slot] : slots) {
      if (fields[i].str() == name) *slot = fields[i + 1].str();
    }
  }
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(
    redis::Client* redis, keys::KeyBuilder keys, AuditOptions options) {
  if (options.max_entries < 1) {
    return absl::InvalidArgumentError(
        "invalid setting auth.audit_max_entries: must be at least 1");
  }
  if (!options.customer_secret.empty() &&
      options.customer_secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(
        "invalid setting identity_secret: at least 16 characters (it keys "
        "the audit log's customer hash)");
  }
  return std::unique_ptr<AuditLog>(
      new AuditLog(redis, std::move(keys), std::move(options)));
}

AuditLog::AuditLog(redis::Client* redis, keys::KeyBuilder keys,
                   AuditOptions options)
    : redis_(redis),
      keys_(std::move(keys)),
      options_(std::move(options)),
      stream_key_(keys_.AuditStream()) {}

std::string AuditLog::CustomerHash(absl::string_view customer_id) const {
  if (customer_id.empty() || options_.customer_secret.empty()) return "";
  return keys::HmacSha256Hex(options_.customer_secret,
                             absl::StrCat(kCustomerHashDomain, customer_id));
}

absl::Status AuditLog::Record(const auth::Principal& who,
                              absl::string_view action,
                              absl::string_view customer_id,
                              absl::string_view detail) const {
  if (who.tenant != keys_.tenant()) {
    return absl::InternalError(
        absl::StrCat("audit: a caller of tenant \"", Printable(who.tenant, 32),
                     "\" reached tenant \"", keys_.tenant(), "\"'s audit log"));
  }
  if (action.empty() || action.size() > kMaxActionBytes ||
      !std::all_of(action.begin(), action.end(), IsActionByte)) {
    return absl::InternalError(absl::StrCat(
        "audit: bad action name \"", Printable(action, kMaxActionBytes), "\""));
  }
  if (!customer_id.empty() && options_.customer_secret.empty()) {
    return absl::UnavailableError(
        "audit: no identity_secret configured to hash the customer id; the "
        "record was not written");
  }
  const std::string ts = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E3SZ", options_.clock(), absl::UTCTimeZone());
  absl::StatusOr<redis::Reply> reply = redis_->Command({
      "XADD",
      stream_key_,
      "MAXLEN",
      "~",
      absl::StrCat(options_.max_entries),
      "*",
      "ts",
      ts,
      "tenant",
      keys_.tenant(),
      "actor",
      Printable(who.AuditName(), kMaxDetailBytes),
      "role",
      std::string(auth::RoleName(who.role)),
      "action",
      std::string(action),
      "customer",
      CustomerHash(customer_id),
      "detail",
      Printable(detail, kMaxDetailBytes),
  });
  if (!reply.ok()) {
    return absl::UnavailableError(absl::StrCat("audit: record not written (",
                                               reply.status().message(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AuditRecord>> AuditLog::Read(
    const AuditQuery& query) const {
  if (query.count < 1) {
    return absl::InvalidArgumentError("audit: count must be at least 1");
  }
  std::string wanted;
  if (!query.customer_id.empty()) {
    wanted = CustomerHash(query.customer_id);
    if (wanted.empty()) {
      return absl::InvalidArgumentError(
          "audit: a customer filter needs the identity secret");
    }
  }
  const std::string floor = StreamIdAtOrAfter(query.since);
  std::vector<AuditRecord> out;  // newest first until reversed
  std::string ceiling = "+";
  while (static_cast<int>(out.size()) < query.count) {
    const int page =
        wanted.empty() ? query.count - static_cast<int>(out.size()) : kReadPage;
    absl::StatusOr<redis::Reply> reply =
        redis_->Command({"XREVRANGE", stream_key_, ceiling, floor, "COUNT",
                         absl::StrCat(page)});
    if (!reply.ok()) return reply.status();
    const std::vector<redis::Reply>& entries = reply->elements();
    for (const redis::Reply& entry : entries) {
      absl::StatusOr<AuditRecord> record = ParseEntry(entry);
      if (!record.ok()) return record.status();
      if (!wanted.empty() && record->customer != wanted) continue;
      out.push_back(*std::move(record));
      if (static_cast<int>(out.size()) == query.count) break;
    }
    if (static_cast<int>(entries.size()) < page) break;
    ceiling = absl::StrCat("(", entries.back().elements()[0].str());
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace omnicx::audit
