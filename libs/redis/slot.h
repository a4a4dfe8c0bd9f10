// Redis Cluster's key -> hash slot function: CRC16 (XMODEM) of the key's
// hash tag modulo 16384, exactly as Redis computes it (CLUSTER KEYSLOT).
//
//   int slot = KeySlot("cx:default:{p:42}:profile");  // slot of "p:42"
//   std::optional<absl::string_view> tag = HashTag("a{b}c");  // "b"
#ifndef OMNICX_LIBS_REDIS_SLOT_H_
#define OMNICX_LIBS_REDIS_SLOT_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace omnicx::redis {

inline constexpr int kClusterSlots = 16384;

// CRC16/XMODEM (polynomial 0x1021, initial value 0), as in Redis's crc16.c.
uint16_t Crc16(absl::string_view data);

// The part of `key` that is hashed: the text between the first '{' and the
// first '}' after it when that is non-empty; nullopt otherwise (the whole
// key is hashed).
std::optional<absl::string_view> HashTag(absl::string_view key);

// The hash slot of `key`, 0..16383.
int KeySlot(absl::string_view key);

// The slot every key matching the SCAN/KEYS glob `pattern` hashes to, when
// the pattern pins one: it holds a non-empty hash tag and no glob character
// ('*', '?', '[', '\\') before the tag's '}'. nullopt otherwise.
std::optional<int> PatternSlot(absl::string_view pattern);

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_SLOT_H_
