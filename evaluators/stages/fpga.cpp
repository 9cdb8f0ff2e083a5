// fpga: Yosys synth_ice40 -dsp: LUTs, flip-flops, DSPs, block RAMs and carries on an iCE40.
// After the synthesize stage (every fidelity that runs Yosys), its run was part of that stage's
// batch and cache entry, and this stage reports the figures. On its own it runs Yosys itself
// and caches the figures under "fpga".
#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {

std::string ice40_script(const hdl::Rtl& rtl, const std::vector<std::string>& files, bool flatten) {
  std::string read = "read_verilog -sv -nodpi";
  for (const auto& name : files) read += " " + name;
  return read + "\nsynth_ice40 -dsp -top " + rtl.top + (flatten ? "" : " -noflatten") +
         "\ntee -q -o ice40.json stat -json\n";
}

json ice40_figures(const std::string& stat_json_text, const std::string& top) {
  long long luts = 0, ffs = 0, dsps = 0, brams = 0, carries = 0;
  for (const auto& [type, n] : aggregate_stat(stat_json_text, top)) {
    if (type == "SB_LUT4") luts += n;
    else if (type.rfind("SB_DFF", 0) == 0) ffs += n;
    else if (type == "SB_MAC16") dsps += n;
    else if (type.rfind("SB_RAM40", 0) == 0) brams += n;
    else if (type == "SB_CARRY") carries += n;
  }
  return {{"luts", luts}, {"ffs", ffs}, {"dsps", dsps}, {"brams", brams}, {"carries", carries}};
}

void set_ice40(Metrics& m, const json& f) {
  m.luts = f["luts"];
  m.ffs = f["ffs"];
  m.dsps = f["dsps"];
  m.brams = f["brams"];
  m.carries = f["carries"];
}

namespace {

constexpr const char* kFpgaVersion = "fpga-v1";

bool fpga(Evaluation& e) {
  if (e.shared.contains("ice40")) {  // ran in the synthesize stage's batch
    set_ice40(e.metrics, e.shared["ice40"]);
    return true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Toolchain& tools = e.tools();
  Sha256 h;
  h.update(kFpgaVersion).update(e.rtl.source()).update(e.rtl.top).update(e.options.flatten ? "flat" : "hier");
  h.update(tools.version(tools.yosys));
  const std::string key = h.hex();
  json figures;
  bool hit = false;
  if (auto c = e.cached("fpga", key)) {
    figures = *c;
    hit = true;
  } else {
    TempDir dir("chipgym-fpga-");
    write_file(dir.path() / "ice40.ys", ice40_script(e.rtl, write_rtl(e.rtl, dir.path()), e.options.flatten));
    RunRequest req;
    req.argv = {tools.yosys, "-q", "-l", "ice40.ys.log", "-s", "ice40.ys"};
    req.cwd = dir.path();
    req.limits = limits_for(e.options);
    guard(e.options, req);
    RunResult r = run_process(req);
    if (no_sandbox(r, e.metrics)) return false;
    if (!r.ok()) {
      e.metrics.error = tool_error("yosys", r, "synth", "synth_timeout", req.limits);
      return false;
    }
    try {
      figures = ice40_figures(read_file(dir.path() / "ice40.json"), e.rtl.top);
    } catch (const std::exception& ex) {
      e.metrics.error = ErrorInfo{"environment", std::string("could not read Yosys statistics: ") + ex.what()};
      return false;
    }
    e.store("fpga", key, figures);
  }
  set_ice40(e.metrics, figures);
  e.metrics.stages["fpga"] = {{"seconds", seconds_since(t0)}, {"cache_hit", hit}};
  return true;
}

const StageRegistration stage{{"fpga", "Yosys synth_ice40 -dsp: iCE40 LUTs, flip-flops, DSPs, block RAMs", fpga, true}};

}  // namespace
}  // namespace chipgym::evaluators
