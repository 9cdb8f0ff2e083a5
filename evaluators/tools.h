// The external tools (Yosys, Verilator) and their versions, which are part of every cache key.
#pragma once
#include <mutex>
#include <string>

namespace chipgym::evaluators {

struct Toolchain {
  std::string yosys = "yosys";          // $CHIPGYM_YOSYS overrides
  std::string verilator = "verilator";  // $CHIPGYM_VERILATOR overrides
  std::string ccache;                   // "ccache" if on PATH: Verilator builds share object files
  std::string iverilog = "iverilog";    // Icarus Verilog, 4-state (families with a Verilog testbench); $CHIPGYM_IVERILOG
  std::string vvp = "vvp";              // its runtime; $CHIPGYM_VVP

  static Toolchain from_env();
  // First line of `tool --version` (or -V), or "missing" / "unknown" when it cannot be run.
  // Asked once per process and tool (again after an "unknown").
  std::string version(const std::string& tool) const;
  // Part of every evaluation's cache key (Icarus' version is part of the keys of its own runs only).
  std::string versions() const { return version(yosys) + " | " + version(verilator); }
};

}  // namespace chipgym::evaluators
