// bench_eval: figures for the core engine, measured side by side in one run.
//   1. flattened vs hierarchical (per-module) Yosys synthesis of int8 arrays
//   2. evaluation cache-hit latency
//   3. time per design of the architectural cycle model vs the RTL simulation
// Usage: bench_eval [--sizes 4,8,16] [--hits 2000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "env/task.h"
#include "evaluators/pipeline.h"
#include "evaluators/runner.h"

using namespace chipgym;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
  std::vector<int> sizes = {4, 8, 16};
  int hits = 2000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--sizes") && i + 1 < argc) {
      sizes.clear();
      std::stringstream ss(argv[++i]);
      for (std::string item; std::getline(ss, item, ',');) {
        int n = std::atoi(item.c_str());
        if (n < 1 || n > 32) {
          std::fprintf(stderr, "bench_eval: sizes must be in 1..32\n");
          return 2;
        }
        sizes.push_back(n);
      }
    } else if (!std::strcmp(argv[i], "--hits") && i + 1 < argc) {
      hits = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_eval [--sizes 4,8,16] [--hits N]\n");
      return 2;
    }
  }
  const auto& task = env::task("gemm-int8");
  const auto& family = task.design_family();
  evaluators::TempDir scratch("chipgym-bench-");
  auto cache = std::make_shared<evaluators::Cache>(scratch.path() / "cache.sqlite");
  evaluators::Pipeline pipeline(cache);
  std::printf("tools: %s\n\n", pipeline.tools().versions().c_str());

  // 1. Synthesis: the same design, flattened and per module, caches off. First the whole
  // synthesis stage as chipgym runs it (Yosys synth plus ltp and the CMOS estimate; per
  // module: one Yosys process per unique module, side by side), then Yosys' `synth`
  // command alone in one process, hierarchical vs -flatten.
  std::printf("1. Yosys synthesis of int8 output-stationary arrays (generic gates, no cache)\n");
  std::printf("   %-7s %-26s %10s %12s %9s %12s %12s\n", "array", "what", "flat s", "per-module s", "speed-up",
              "cells flat", "cells hier");
  for (int n : sizes) {
    auto params = family.space().parse_assignments("rows=" + std::to_string(n) + ",cols=" + std::to_string(n));
    evaluators::EvalOptions o;
    o.fidelity = "synth";
    o.fpga = false;
    o.use_cache = false;
    o.tool_timeout = 3600;
    o.flatten = false;
    auto hier = pipeline.evaluate(family, params, task.workload, o);
    o.flatten = true;
    auto flat = pipeline.evaluate(family, params, task.workload, o);
    if (!hier.ok() || !flat.ok()) {
      std::printf("   %dx%d failed: %s\n", n, n, (hier.ok() ? flat : hier).error->message.c_str());
      continue;
    }
    double th = hier.stages["synthesize"]["seconds"], tf = flat.stages["synthesize"]["seconds"];
    std::printf("   %2dx%-4d %-26s %10.2f %12.2f %8.1fx %12lld %12lld\n", n, n, "chipgym synthesis stage", tf, th,
                tf / th, flat.cells, hier.cells);
    // Yosys `synth` alone, one process each.
    auto rtl = family.emit(params);
    evaluators::TempDir dir("chipgym-bench-synth-");
    std::string read = "read_verilog -sv";
    for (const auto& [name, text] : rtl.files) {
      std::FILE* f = std::fopen((dir.path() / name).c_str(), "w");
      std::fputs(text.c_str(), f);
      std::fclose(f);
      read += " " + name;
    }
    double seconds[2];
    for (int flatten = 0; flatten < 2; ++flatten) {
      evaluators::RunRequest req;
      req.argv = {pipeline.tools().yosys, "-q", "-p",
                  read + "; synth -top " + rtl.top + (flatten ? " -flatten" : "")};
      req.cwd = dir.path();
      req.limits.wall_seconds = 3600;
      req.limits.cpu_seconds = 3600;
      auto t0 = Clock::now();
      auto r = evaluators::run_process(req);
      seconds[flatten] = seconds_since(t0);
      if (!r.ok()) std::printf("   yosys failed: %s\n", r.describe("yosys").c_str());
    }
    std::printf("   %2dx%-4d %-26s %10.2f %12.2f %8.1fx\n", n, n, "yosys synth, one process", seconds[1], seconds[0],
                seconds[1] / seconds[0]);
  }

  // 2. Cache hits: evaluate once (miss), then the same design again and again.
  std::printf("\n2. Evaluation cache (SQLite, WAL)\n");
  auto params = family.space().parse_assignments("rows=4,cols=4");
  evaluators::EvalOptions o;
  auto t0 = Clock::now();
  auto first = pipeline.evaluate(family, params, task.workload, o);
  double miss = seconds_since(t0);
  if (!first.ok()) {
    std::printf("   evaluation failed: %s\n", first.error->message.c_str());
    return 1;
  }
  t0 = Clock::now();
  int hit_count = 0;
  for (int i = 0; i < hits; ++i) hit_count += pipeline.evaluate(family, params, task.workload, o).cache_hit;
  double per_hit = seconds_since(t0) / hits;
  std::printf("   full evaluation (miss, lint+sim+synth of 4x4): %8.3f s\n", miss);
  std::printf("   cache hit: %8.1f us per evaluation (%d of %d hits), %.0fx faster than the miss\n", per_hit * 1e6,
              hit_count, hits, miss / per_hit);

  // 3. Cycle model vs RTL simulation, per design, on the task's workload.
  std::printf("\n3. Cycles of the task workload (%s): cycle model vs RTL simulation\n", task.workload["shapes"].dump().c_str());
  std::printf("   %-26s %10s %10s %12s %12s %12s %10s\n", "design", "model cyc", "RTL cyc", "model us", "sim run s",
              "build+run s", "ratio");
  for (const char* set : {"rows=4,cols=4", "rows=8,cols=8,dataflow=ws", "rows=16,cols=16"}) {
    auto p = family.space().parse_assignments(set);
    const int reps = 20000;
    t0 = Clock::now();
    long long cycles = 0;
    for (int i = 0; i < reps; ++i) cycles = family.model_cycles(p, task.workload);
    double model_s = seconds_since(t0) / reps;
    evaluators::EvalOptions r;
    r.use_cache = false;  // build the Verilator model, then simulate
    r.synthesis = false;
    auto full = pipeline.evaluate(family, p, task.workload, r);
    double build_s = full.stages.contains("build") ? full.stages["build"]["seconds"].get<double>() : 0;
    double run_s = full.stages.contains("simulate") ? full.stages["simulate"]["run_seconds"].get<double>() : 0;
    std::printf("   %-26s %10lld %10lld %12.2f %12.3f %12.3f %9.0fx\n", set, cycles, full.cycles, model_s * 1e6, run_s,
                build_s + run_s, (build_s + run_s) / model_s);
    if (!full.ok()) std::printf("   %s failed: %s\n", set, full.error->message.c_str());
    else if (full.cycles != cycles) std::printf("   MISMATCH: the cycle model disagrees with the RTL for %s\n", set);
  }
  std::printf("\n   ratio = RTL build+simulation time / cycle-model time for the same design\n");
  return 0;
}
