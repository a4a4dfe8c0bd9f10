// Append-only audit trail of the operations that touch customers' rights or
// the suite's behaviour: exports, erasures, consent changes, merges, links,
// catalog changes, dead-letter replays. Each record says who (the caller's
// AuditName and role), in which tenant, did what, when, and about which
// customer — as a keyed hash of the customer id, never the id itself.
//
//   AuditOptions options;
//   options.max_entries = cfg.auth().audit_max_entries();
//   options.customer_secret = cfg.identity_secret();
//   auto audit = AuditLog::Create(redis, keys, std::move(options));
//   ...
//   absl::Status s = (*audit)->Record(*who, "erase", customer_id);
//   if (!s.ok()) return Done(context, s);  // UNAVAILABLE: do not erase
//   ... erase, answer ...
//
// Audited operations fail closed: Record is called before the operation acts
// (and so before it answers), and an operation whose record was not written
// is not performed. Every failure to write is UNAVAILABLE (retryable), so the
// handler returns Record's status unchanged.
//
// Storage: one Redis stream per tenant (KeyBuilder::AuditStream), one XADD
// with `MAXLEN ~ max_entries` per record (retention: roughly the newest
// max_entries records are kept; Redis trims whole stream nodes, so a few more
// may remain). Fields, all printable ASCII:
//   ts        RFC 3339 UTC with milliseconds, from the injected clock
//   tenant    the tenant the record belongs to
//   actor     Principal::AuditName(), e.g. "ops" or "profile (for agent-7)"
//   role      RoleName, e.g. "admin"
//   action    export, erase, consent, merge, link, catalog_upsert,
//             dlq_replay, ... ([a-z0-9_.-], at most 64 bytes)
//   customer  CustomerHash(customer_id): HMAC-SHA-256 hex keyed with the
//             identity secret; empty when the record is about no customer
//   detail    free text without personal data, e.g.
//             "purpose=marketing granted=false" (cut at 512 bytes)
// Control bytes, non-ASCII bytes and '\' in actor and detail are written as
// \xNN escapes so a record is always one line. Thread-safe.
#ifndef OMNICX_LIBS_AUDIT_AUDIT_LOG_H_
#define OMNICX_LIBS_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/auth/principal.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"

namespace omnicx::audit {

// One record as read back from the stream.
struct AuditRecord {
  std::string id;  // stream entry id ("<redis ms>-<seq>")
  std::string ts;
  std::string tenant;
  std::string actor;
  std::string role;
  std::string action;
  std::string customer;
  std::string detail;
};

// Which records Read returns: the newest `count` stored at or after `since`
// (by the time Redis stored them), about `customer_id` if it is set.
struct AuditQuery {
  absl::Time since = absl::InfinitePast();
  int count = 100;
  std::string customer_id;
};

struct AuditOptions {
  // Records kept per tenant (setting auth.audit_max_entries); at least 1.
  int64_t max_entries = 1000000;
  // Key of the customer-id hash: the identity secret (setting
  // identity_secret, at least 16 characters). Empty where the service has
  // none (recommendation): records about no customer (catalog changes) are
  // still written, records naming a customer are refused.
  std::string customer_secret;
  std::function<absl::Time()> clock = absl::Now;
};

class AuditLog {
 public:
  // InvalidArgument (naming the setting) for max_entries < 1 or a non-empty
  // secret shorter than 16 characters.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(redis::Client* redis,
                                                          keys::KeyBuilder keys,
                                                          AuditOptions options);

  // Appends one record. `customer_id` empty = about no customer. Errors:
  //   Unavailable  the record was not written (Redis down, timeout, OOM,
  //                any Redis error), or a customer is named but no secret
  //                is configured; the caller must not perform the operation;
  //   Internal     `who` belongs to another tenant than this log, or
  //                `action` is not a short lower-case token (caller bugs).
  absl::Status Record(const auth::Principal& who, absl::string_view action,
                      absl::string_view customer_id,
                      absl::string_view detail = "") const;

  // The `customer` field a record about `customer_id` carries; lets a
  // caller name a second customer in `detail` (e.g. "merged=<hash>") and an
  // operator find the records about one customer. Empty for an empty id.
  // Requires a configured secret (empty result otherwise).
  std::string CustomerHash(absl::string_view customer_id) const;

  // Records matching `query`, oldest first. InvalidArgument for count < 1 or
  // a customer filter without a secret; Redis errors as the client returns
  // them.
  absl::StatusOr<std::vector<AuditRecord>> Read(const AuditQuery& query) const;

  const std::string& stream_key() const { return stream_key_; }

 private:
  AuditLog(redis::Client* redis, keys::KeyBuilder keys, AuditOptions options);

  redis::Client* const redis_;
  const keys::KeyBuilder keys_;
  const AuditOptions options_;
  const std::string stream_key_;
};

}  // namespace omnicx::audit

#endif  // OMNICX_LIBS_AUDIT_AUDIT_LOG_H_
