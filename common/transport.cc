#include "common/transport.h"

#include <algorithm>

#include "absl/time/clock.h"

#include "absl/strings/str_cat.h"

namespace moeserve {

std::string AddressToHex(std::span<const std::byte> address) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(address.size() * 2);
  for (std::byte b : address) {
    hex.push_back(kDigits[static_cast<uint8_t>(b) >> 4]);
    hex.push_back(kDigits[static_cast<uint8_t>(b) & 15]);
  }
  return hex;
}

absl::StatusOr<std::vector<std::byte>> AddressFromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("transport address: odd number of hex digits (", hex.size(), ")"));
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::byte> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "transport address: not a hex digit at offset ", hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<std::byte>(hi * 16 + lo);
  }
  return out;
}

void Transport::WaitForEvent(absl::Duration timeout) {
  absl::SleepFor(std::min(timeout, absl::Microseconds(20)));
}

}  // namespace moeserve
