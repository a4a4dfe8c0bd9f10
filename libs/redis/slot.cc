#include "libs/redis/slot.h"

#include <array>

namespace omnicx::redis {
namespace {

constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

bool IsGlobChar(char c) {
  return c == '*' || c == '?' || c == '[' || c == '\\';
}

}  // namespace

uint16_t Crc16(absl::string_view data) {
  uint16_t crc = 0;
  for (char ch : data) {
    crc = static_cast<uint16_t>(
        (crc << 8) ^
        kCrc16Table[((crc >> 8) ^ static_cast<uint8_t>(ch)) & 0xff]);
  }
  return crc;
}

std::optional<absl::string_view> HashTag(absl::string_view key) {
  const size_t open = key.find('{');
  if (open == absl::string_view::npos) return std::nullopt;
  const size_t close = key.find('}', open + 1);
  if (close == absl::string_view::npos || close == open + 1) {
    return std::nullopt;
  }
  return key.substr(open + 1, close - open - 1);
}

int KeySlot(absl::string_view key) {
  const std::optional<absl::string_view> tag = HashTag(key);
  return Crc16(tag ? *tag : key) & (kClusterSlots - 1);
}

std::optional<int> PatternSlot(absl::string_view pattern) {
  const size_t open = pattern.find('{');
  if (open == absl::string_view::npos) return std::nullopt;
  const size_t close = pattern.find('}', open + 1);
  if (close == absl::string_view::npos || close == open + 1) {
    return std::nullopt;
  }
  for (size_t i = 0; i < close; ++i) {
    if (IsGlobChar(pattern[i])) return std::nullopt;
  }
  return Crc16(pattern.substr(open + 1, close - open - 1)) &
         (kClusterSlots - 1);
}

}  // namespace omnicx::redis
