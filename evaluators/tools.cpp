#include "evaluators/tools.h"

#include <cstdlib>
#include <filesystem>
#include <map>

#include "evaluators/runner.h"

namespace chipgym::evaluators {

Toolchain Toolchain::from_env() {
  Toolchain t;
  if (const char* v = std::getenv("CHIPGYM_YOSYS")) t.yosys = v;
  if (const char* v = std::getenv("CHIPGYM_VERILATOR")) t.verilator = v;
  if (const char* v = std::getenv("CHIPGYM_IVERILOG")) t.iverilog = v;
  if (const char* v = std::getenv("CHIPGYM_VVP")) t.vvp = v;
  if (find_executable("ccache")) t.ccache = "ccache";
  return t;
}

std::string Toolchain::version(const std::string& tool) const {
  static std::mutex mu;
  static std::map<std::string, std::string> known;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = known.find(tool); it != known.end()) return it->second;
  RunRequest req;
  const bool dash_v = tool.find("yosys") != std::string::npos || tool.find("iverilog") != std::string::npos ||
                      tool.find("vvp") != std::string::npos;
  req.argv = {tool, dash_v ? "-V" : "--version"};
  req.cwd = std::filesystem::temp_directory_path();
  req.limits.wall_seconds = 10;
  RunResult r = run_process(req);
  std::string v;
  if (r.status == RunStatus::NotFound) v = "missing";
  else if (!r.ok()) v = "unknown";
  else v = r.out.substr(0, r.out.find('\n'));
  if (v == "unknown") return v;  // a slow or hung answer: ask again next time
  return known[tool] = v;
}

}  // namespace chipgym::evaluators
