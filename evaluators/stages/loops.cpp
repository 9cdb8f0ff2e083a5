// loops: Yosys `check` on a gate-level copy of the design (proc, flatten, techmap; no
// optimization), so that a combinational loop is found even where it reaches no output and
// synthesis would remove it, and a chain through the bits of one word is not taken for one
// (word-level cells would give false loops). A loop stops the evaluation
// (combinational_loop). A design with a latch passes here: the synthesize stage refuses it by
// name. Cached under "loops" by the source, top and Yosys version.
#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {
namespace {

constexpr const char* kLoopsVersion = "loops-v1";  // bump when the script or its reading changes

bool check_loops(Evaluation& e) {
  const auto t0 = std::chrono::steady_clock::now();
  const hdl::Rtl& rtl = e.rtl;
  Metrics& m = e.metrics;
  const Toolchain& tools = e.tools();
  Sha256 h;
  h.update(kLoopsVersion).update(rtl.source()).update(rtl.top).update(tools.version(tools.yosys));
  const std::string key = h.hex();
  json result;
  bool hit = false;
  if (auto c = e.cached("loops", key)) {
    result = *c;
    hit = true;
  } else {
    TempDir dir("chipgym-loops-");
    std::string read = "read_verilog -sv -nodpi";
    for (const auto& name : write_rtl(rtl, dir.path())) read += " " + name;
    // -nodpi: this Yosys would call DPI functions while it elaborates constants.
    write_file(dir.path() / "loops.ys", read + "\nhierarchy -check -top " + rtl.top +
                                            "\nproc\nflatten\ntechmap\ntee -q -o loops.txt check\n"
                                            "tee -q -o generic.json stat -json\n");
    RunRequest req;
    req.argv = {tools.yosys, "-q", "-l", "loops.log", "-s", "loops.ys"};
    req.cwd = dir.path();
    req.limits = limits_for(e.options);
    guard(e.options, req);
    RunResult r = run_process(req);
    if (no_sandbox(r, m)) return false;
    const std::string log = read_file(dir.path() / "loops.log") + r.err;
    m.stages["loops"] = {{"seconds", seconds_since(t0)}, {"cache_hit", false}};
    if (!r.ok()) {
      if (auto latch = latch_problem(log, "")) {  // always_comb that infers one: refused by name
        m.error = ErrorInfo{"latch", *latch};
      } else if (auto undefined = undefined_module(log, rtl)) {
        m.error = ErrorInfo{"undefined_module", *undefined};
      } else {
        m.error = tool_error("yosys", r, "synth", "tool_timeout", req.limits);
        if (m.error->category == "synth") m.error->message = "Yosys could not read the design: " + excerpt(log, 800);
      }
      return false;
    }
    const std::string loops = read_file(dir.path() / "loops.txt");
    std::string line;
    if (auto at = loops.find("logic loop"); at != std::string::npos) {
      const auto begin = loops.rfind('\n', at) + 1;  // npos + 1 == 0
      line = loops.substr(begin, loops.find('\n', at) - begin);
    }
    result = {{"loop", line}, {"latch", latch_problem(log, read_file(dir.path() / "generic.json")).has_value()}};
    e.store("loops", key, result);
  }
  m.stages["loops"] = {{"seconds", seconds_since(t0)}, {"cache_hit", hit}};
  const std::string line = result.value("loop", std::string());
  if (line.empty() || result.value("latch", false)) return true;  // a latch: refused by name in synthesize
  m.error = ErrorInfo{"combinational_loop", "Yosys `check` found a combinational loop (" + line +
                                                "), even if it reaches no output; every path from a signal back to "
                                                "itself must pass a register"};
  return false;
}

const StageRegistration stage{{"loops",
                               "Yosys check on a gate-level copy: combinational loops, even those that reach no output",
                               check_loops, true}};

}  // namespace
}  // namespace chipgym::evaluators
