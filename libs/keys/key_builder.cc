#include "libs/keys/key_builder.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/keys/digest.h"

namespace omnicx::keys {
namespace {

constexpr size_t kMaxRawIdBytes = 96;
constexpr size_t kMaxTenantBytes = 32;

bool IsSafeIdByte(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-';
}

}  // namespace

std::string EncodeId(absl::string_view id) {
  if (id.size() > kMaxRawIdBytes) return absl::StrCat("h", Sha256Hex(id));
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "r";
  out.reserve(1 + id.size() * 3);
  for (unsigned char c : id) {
    if (IsSafeIdByte(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

absl::StatusOr<KeyBuilder> KeyBuilder::Create(absl::string_view tenant) {
  if (tenant.empty() || tenant.size() > kMaxTenantBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tenant must be 1-", kMaxTenantBytes, " characters"));
  }
  for (unsigned char c : tenant) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
          c == '-')) {
      return absl::InvalidArgumentError(
          absl::StrCat("tenant \"", absl::CHexEscape(tenant),
                       "\" may only contain a-z, 0-9, '_' and '-'"));
    }
  }
  return KeyBuilder(std::string(tenant));
}

KeyBuilder::KeyBuilder(std::string tenant)
    : tenant_(std::move(tenant)), prefix_(absl::StrCat("cx:", tenant_, ":")) {}

std::string KeyBuilder::EventShard(int shard) const {
  return absl::StrCat(prefix_, "{ev:", shard, "}:stream");
}

std::string KeyBuilder::ResolvedShard(int shard) const {
  return absl::StrCat(prefix_, "{rv:", shard, "}:stream");
}

std::string KeyBuilder::DedupBucket(int shard, int64_t bucket) const {
  return absl::StrCat(prefix_, "{ev:", shard, "}:dd:", bucket);
}

std::string KeyBuilder::DeadLetter(absl::string_view consumer_group) const {
  return absl::StrCat(prefix_, "dlq:", EncodeId(consumer_group));
}

std::string KeyBuilder::IdentityIndex(absl::string_view identity_hmac) const {
  return absl::StrCat(prefix_, "{id:", EncodeId(identity_hmac), "}:owner");
}

std::string KeyBuilder::ErasedIdentity(absl::string_view identity_hmac) const {
  return absl::StrCat(prefix_, "{id:", EncodeId(identity_hmac), "}:erased");
}

int KeyBuilder::Partition(absl::string_view customer_id) {
  return static_cast<int>(StableHash64(customer_id) % kPartitions);
}

std::string KeyBuilder::PartitionTag(int partition) {
  return absl::StrCat("{p:", partition, "}");
}

std::string KeyBuilder::ErasedCustomer(absl::string_view customer_id) const {
  return absl::StrCat(prefix_, "{p:", Partition(customer_id),
                      "}:erased:", Sha256Hex(customer_id));
}

std::string KeyBuilder::Outbox(int partition) const {
  return absl::StrCat(prefix_, PartitionTag(partition), ":outbox");
}

std::string KeyBuilder::StageDue(int partition) const {
  return absl::StrCat(prefix_, PartitionTag(partition), ":due");
}

std::string KeyBuilder::ChurnExamples(int partition) const {
  return absl::StrCat(prefix_, PartitionTag(partition), ":examples");
}

std::string KeyBuilder::ChurnModel() const {
  return absl::StrCat(prefix_, "{model}:churn");
}

std::string KeyBuilder::AggregateShard(int shard,
                                       absl::string_view kind) const {
  return absl::StrCat(prefix_, "{agg:", shard, "}:", kind);
}

std::string KeyBuilder::CustomerKeyPattern(
    absl::string_view customer_id) const {
  // EncodeId emits only [A-Za-z0-9_.%-]: nothing a glob treats specially,
  // and no ':', so `c:<enc>:` is no other customer's prefix.
  return CustomerKey(customer_id, "*");
}

std::string KeyBuilder::CustomerKey(absl::string_view customer_id,
                                    absl::string_view kind) const {
  return absl::StrCat(prefix_, "{p:", Partition(customer_id),
                      "}:c:", EncodeId(customer_id), ":", kind);
}

}  // namespace omnicx::keys
