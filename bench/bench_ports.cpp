// bench_ports: what scoring a small module at its ports costs with Icarus Verilog (the
// simulator of `chipgym score --ref`, env/port_score.h) against what Verilator would cost,
// side by side per problem, in one run.
//   icarus     the whole scoring of a candidate against its reference, cache off, every tool
//              sandboxed: both texts screened and preprocessed, the reference simulated, the
//              candidate checked, compiled and simulated on the same stimulus (no synthesis)
//   verilator  only the build of a Verilator model of the candidate (verilator --cc --exe
//              --build, not sandboxed) and one run of it for as many cycles: the part Icarus
//              replaces; its screening and a reference run would come on top. Twice: with
//              ccache (Verilator drops comments, so the generated C++ repeats and every object
//              comes from ccache: the best case) and without (every object compiled: a novel
//              candidate, as most samples of a problem set are)
// The candidate is the reference itself, with a comment that changes per run (so that no
// cache, and no ccache entry of Verilator's generated C++, gives an earlier result).
// Usage: bench_ports [--runs N] [--cycles C]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "env/port_score.h"
#include "evaluators/runner.h"
#include "evaluators/tools.h"

namespace {

struct Problem {
  const char* name;
  const char* verilog;
};

const Problem kProblems[] = {
    {"popcount8",
     "module top_module(input [7:0] in, output [3:0] out);\n  assign out = in[0]+in[1]+in[2]+in[3]+in[4]+in[5]+in[6]+in[7];\nendmodule\n"},
    {"mux256", "module top_module(input [255:0] in, input [7:0] sel, output out);\n  assign out = in[sel];\nendmodule\n"},
    {"counter", "module top_module(input clk, input reset, output reg [3:0] q);\n"
                "  always @(posedge clk) if (reset) q <= 4'd0; else q <= q + 4'd1;\nendmodule\n"},
    {"fsm101", "module top_module(input clk, input reset, input x, output z);\n  reg [1:0] s;\n"
               "  always @(posedge clk) if (reset) s <= 0; else case (s)\n    0: s <= x ? 1 : 0;\n    1: s <= x ? 1 : 2;\n"
               "    2: s <= x ? 1 : 0;\n    default: s <= 0;\n  endcase\n  assign z = s == 2 && x;\nendmodule\n"},
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3, cycles = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--cycles")) cycles = std::atoi(argv[i + 1]);
  }
  const chipgym::evaluators::Toolchain tools = chipgym::evaluators::Toolchain::from_env();
  std::printf("%s\n%s\n%d runs per problem, %d cycles\n\n", tools.version(tools.iverilog).c_str(),
              tools.version(tools.verilator).c_str(), runs, cycles);
  std::printf("%-10s %10s %16s %8s %18s %8s\n", "problem", "icarus s", "verilator+ccache", "ratio", "verilator no ccache",
              "ratio");
  double sum_icarus = 0, sum_verilator = 0, sum_cold = 0;
  int serial = 0;
  for (const auto& p : kProblems) {
    double icarus = 0, verilator = 0, cold = 0;
    for (int r = 0; r < runs; ++r) {
      const std::string text = std::string(p.verilog) + "// run " + std::to_string(getpid()) + "-" + std::to_string(serial++) + "\n";
      chipgym::env::PortScoreOptions o;
      o.stimulus.cycles = cycles;
      o.eval.synthesis = false;
      auto t0 = std::chrono::steady_clock::now();
      const auto report = chipgym::env::score_against_reference(p.verilog, text, "", o);
      icarus += seconds_since(t0);
      if (report.verdict != "pass") {
        std::fprintf(stderr, "%s: %s\n", p.name, report.message.c_str());
        return 1;
      }
      for (const bool use_ccache : {true, false}) {
        chipgym::evaluators::TempDir dir("chipgym-bench-ports-");
        std::ofstream(dir.path() / "top_module.v") << text;
        std::ofstream(dir.path() / "main.cpp")
            << "#include \"Vtop_module.h\"\n#include \"verilated.h\"\nint main(int argc, char** argv) {\n"
               "  Verilated::commandArgs(argc, argv);\n  Vtop_module top;\n  for (int i = 0; i < "
            << 2 * cycles << "; ++i) top.eval();\n  return 0;\n}\n";
        chipgym::evaluators::RunRequest req;
        req.argv = {tools.verilator, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                    "--top-module", "top_module", "-Mdir", "obj", "-o", "sim", "-CFLAGS", "-O1", "top_module.v", "main.cpp"};
        req.cwd = dir.path();
        req.limits.wall_seconds = 300;
        if (use_ccache && !tools.ccache.empty()) req.env_extra["OBJCACHE"] = tools.ccache;
        t0 = std::chrono::steady_clock::now();
        auto built = chipgym::evaluators::run_process(req);
        chipgym::evaluators::RunRequest run;
        run.argv = {(dir.path() / "obj" / "sim").string()};
        run.cwd = dir.path();
        auto ran = chipgym::evaluators::run_process(run);
        (use_ccache ? verilator : cold) += seconds_since(t0);
        if (!built.ok() || !ran.ok()) {
          std::fprintf(stderr, "%s: the Verilator build failed: %s\n", p.name, built.err.substr(0, 400).c_str());
          return 1;
        }
      }
    }
    icarus /= runs;
    verilator /= runs;
    cold /= runs;
    sum_icarus += icarus;
    sum_verilator += verilator;
    sum_cold += cold;
    std::printf("%-10s %10.3f %16.3f %7.1fx %18.3f %7.1fx\n", p.name, icarus, verilator, verilator / icarus, cold,
                cold / icarus);
  }
  const double n = static_cast<double>(std::size(kProblems));
  std::printf("%-10s %10.3f %16.3f %7.1fx %18.3f %7.1fx\n", "mean", sum_icarus / n, sum_verilator / n,
              sum_verilator / sum_icarus, sum_cold / n, sum_cold / sum_icarus);
  std::printf("\n150 problems x 10 samples at the mean Icarus time, 2 samples at once: %.1f min (extrapolated)\n",
              150 * 10 * (sum_icarus / n) / 2 / 60);
  return 0;
}
