// Content hashing for the evaluation cache (FIPS 180-4 SHA-256, written here).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace chipgym::evaluators {

class Sha256 {
 public:
  Sha256();
  Sha256& update(std::string_view bytes);
  Sha256& update(const void* data, std::size_t size);
  std::array<std::uint8_t, 32> digest();  // finalizes; the object must not be updated after
  std::string hex();                      // digest() as 64 lower-case hex characters

 private:
  void compress(const std::uint8_t* block);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// One-shot helper: lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace chipgym::evaluators
