// The canonical relu-int8 kernel, and copies of it with one piece of text replaced: the
// candidates of the score and sandbox tests (Catch2 must be included first).
#pragma once
#include <string>

#include "env/kernel_task.h"

namespace test_support {

inline const std::string& relu() { return chipgym::env::find_kernel_task("relu-int8").canonical_verilog; }

// The canonical relu with one piece of text replaced (the test fails if it is not there).
inline std::string relu_with(const std::string& from, const std::string& to) {
  std::string s = relu();
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace test_support
