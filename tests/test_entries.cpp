// Compiled into every test binary that links the task registry (tests/CMakeLists.txt): the
// libraries holding entries are linked whole, so every built-in family and task registers
// itself in this binary too, though nothing here names them; and when the binary links the
// agents, every agent does.
#include <catch2/catch.hpp>
#include <set>

#include "env/task.h"
#include "hdl/family.h"
#include "hdl/registry.h"
#ifdef CHIPGYM_TEST_AGENTS
#include "agents/agent.h"
#endif

namespace {

template <class Entry>
std::set<std::string> registered() {
  const auto names = chipgym::Registry<Entry>::instance().names();
  return {names.begin(), names.end()};
}

bool includes(const std::set<std::string>& all, const std::set<std::string>& some) {
  return std::includes(all.begin(), all.end(), some.begin(), some.end());
}

}  // namespace

TEST_CASE("every built-in family and task is registered in " CHIPGYM_TEST_BINARY) {
  CHECK(includes(registered<chipgym::hdl::FamilyEntry>(),
                 {"codesign", "gelu", "gemm", "layernorm", "rmsnorm", "sha256", "softmax"}));
  CHECK(includes(registered<chipgym::env::Task>(),
                 {"codesign-gemm", "gelu-int8", "gemm-int8", "gemm-int8-ice40", "gemm-int8-small", "gemm-int8-target", "layernorm-int8",
                  "relu-int8", "rmsnorm-int8", "sha256-miner", "softmax-int8"}));
#ifdef CHIPGYM_TEST_AGENTS
  CHECK(includes(registered<chipgym::agents::Agent>(),
                 {"dqn", "evolve", "ga", "grid", "ippo", "llm", "mappo", "ppo", "random", "sa", "tpe"}));
#endif
}
