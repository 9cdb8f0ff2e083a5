#pragma once
// splitmix64 (Steele, Lea and Flood, 2014): the one seeded draw of the tree. The same values
// from the same seed on every platform and standard library, which std:: distributions do not
// promise; test vectors, generated workloads and evolve's mutations all draw from it.

#include <cstdint>

namespace chipgym::hdl {

// The next draw; advances `state`.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace chipgym::hdl
