// Shared helpers for the tests: a private cache in a temporary directory, and running the
// chipgym executable as a user would.
#pragma once
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluators/cache.h"
#include "evaluators/runner.h"

namespace test_support {

// Eight small gemm designs (rows, cols, dataflow): quick to synthesize, few enough to enumerate.
inline const char* kTinyTask = R"({"name": "gemm-tiny", "family": "gemm", "description": "8 small designs, for tests",
 "workload": {"shapes": [[4, 8, 4]], "seed": 1},
 "objective": "throughput per area", "budget": {"max_transistors": 20000000},
 "fidelity": "synth",
 "search": {"rows": [1, 2], "cols": [1, 2], "dataflow": ["os", "ws"]}})";

struct ScratchCache {
  chipgym::evaluators::TempDir dir{"chipgym-test-"};
  std::shared_ptr<chipgym::evaluators::Cache> cache =
      std::make_shared<chipgym::evaluators::Cache>(dir.path() / "cache" / "cache.sqlite");
};

// Runs the chipgym binary built beside the tests with `args`; extra environment on top.
inline chipgym::evaluators::RunResult run_chipgym(const std::vector<std::string>& args,
                                              const std::map<std::string, std::string>& env = {},
                                              double timeout = 600) {
  chipgym::evaluators::RunRequest req;
  req.argv = {CHIPGYM_BIN};
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  req.cwd = std::filesystem::temp_directory_path();
  req.env_extra = env;
  req.limits.wall_seconds = timeout;
  return chipgym::evaluators::run_process(req);
}

// The records of a JSON-lines file (events.jsonl, llm.jsonl), empty lines skipped.
inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& file) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace test_support
