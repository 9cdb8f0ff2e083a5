// bench_eval: figures for the core engine, measured side by side in one run.
//   1. flattened vs hierarchical (per-module) Yosys synthesis of int8 arrays
//   2. evaluation cache-hit latency
//   3. time per design of the architectural cycle model vs the RTL simulation
//   4. a cold sweep of gemm-int8 at synth fidelity: cost per design without the per-module
//      synthesis cache vs with it, measured on designs spread over the grid, and the Yosys
//      runs the whole 2,700-design sweep needs, counted from the generated Verilog
// Usage: bench_eval [--sizes 4,8,16] [--hits 2000] [--sweep 20] [--only-sweep]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "env/task.h"
#include "evaluators/pipeline.h"
#include "evaluators/runner.h"
#include "evaluators/sha256.h"

using namespace chipgym;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds of the child processes (Yosys) that have finished so far.
static double children_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Every design of the task's searched grid, in grid order (the last parameter fastest).
static std::vector<hdl::Params> grid(const env::Task& task) {
  const auto& space = task.design_family().space();
  std::vector<hdl::Params> out = {space.defaults()};
  for (const auto& [name, values] : task.search_domains()) {
    std::vector<hdl::Params> next;
    for (const auto& base : out)
      for (const auto& v : values) {
        hdl::Params p = base;
        p.set(name, v);
        next.push_back(p);
      }
    out = std::move(next);
  }
  return out;
}

// 4. The cost of a cold exhaustive sweep, with and without the per-module synthesis cache.
static void sweep_figures(const env::Task& task, int designs) {
  const auto& family = task.design_family();
  const auto all = grid(task);
  std::printf("\n4. Cold sweep of %s (%zu designs, fidelity synth, no iCE40): cost per design\n", task.name.c_str(),
              all.size());
  // Measured: designs spread evenly over the grid (every k-th), so that neighbours share
  // less than in the sweep itself, which walks the grid in order.
  std::vector<hdl::Params> sample;
  const std::size_t stride = std::max<std::size_t>(1, all.size() / static_cast<std::size_t>(designs));
  for (std::size_t i = 0; i < all.size() && sample.size() < static_cast<std::size_t>(designs); i += stride)
    sample.push_back(all[i]);
  evaluators::TempDir scratch("chipgym-bench-sweep-");
  auto cache = std::make_shared<evaluators::Cache>(scratch.path() / "cache.sqlite");
  evaluators::Pipeline pipeline(cache);
  std::printf("   %zu designs, every %zu-th of the grid, one at a time (each Yosys run side by side on the cores)\n",
              sample.size(), stride);
  std::printf("   %-44s %9s %9s %10s %10s %8s\n", "", "wall s", "CPU s", "wall/dsgn", "CPU/dsgn", "modules");
  double wall[2] = {0, 0}, cpu[2] = {0, 0};
  long long runs[2] = {0, 0}, mismatches = 0;
  std::vector<evaluators::Metrics> before;
  for (int with_cache = 0; with_cache < 2; ++with_cache) {
    evaluators::EvalOptions o;
    o.fidelity = "synth";
    o.fpga = false;
    o.tool_timeout = 3600;
    o.use_cache = with_cache == 1;  // before: every module of every design is synthesized
    const double cpu0 = children_cpu_seconds();
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < sample.size(); ++i) {
      auto m = pipeline.evaluate(family, sample[i], task.workload, o);
      if (!m.ok()) {
        std::printf("   %s failed: %s\n", sample[i].to_assignments().c_str(), m.error->message.c_str());
        continue;
      }
      const json modules = m.stages["synthesize"].value("modules", json::object());
      for (const auto& [module, stage] : modules.items())
        runs[with_cache] += stage.value("cache_hit", false) ? 0 : 1;
      if (!with_cache) before.push_back(m);
      else if (i < before.size() && (m.transistors != before[i].transistors || m.cells != before[i].cells ||
                                     m.depth != before[i].depth))
        ++mismatches;
    }
    wall[with_cache] = seconds_since(t0);
    cpu[with_cache] = children_cpu_seconds() - cpu0;
    const double n = static_cast<double>(sample.size());
    std::printf("   %-44s %9.1f %9.1f %10.2f %10.2f %8lld\n",
                with_cache ? "after: per-module cache (fresh, cold)" : "before: no module cache (every module)", wall[with_cache],
                cpu[with_cache], wall[with_cache] / n, cpu[with_cache] / n, runs[with_cache]);
  }
  std::printf("   speed-up: %.2fx wall, %.2fx Yosys CPU; figures (cells, transistors, depth) differing: %lld of %zu\n",
              wall[0] / wall[1], cpu[0] / cpu[1], mismatches, sample.size());

  // Counted, no Yosys: what the whole sweep synthesizes. Whole-design synthesis is cached by
  // the Verilog text; a module by its own text and those of the files its run reads.
  std::set<std::string> sources;
  std::map<std::string, std::set<std::string>> module_keys;  // module -> distinct keys
  long long module_runs_all = 0;
  for (const auto& p : all) {
    auto rtl = family.emit(p);
    module_runs_all += static_cast<long long>(rtl.modules.size());
    if (!sources.insert(evaluators::sha256_hex(rtl.source())).second) continue;
    for (const auto& unit : rtl.modules) {
      evaluators::Sha256 h;
      h.update(rtl.files.at(unit + ".v"));
      for (const auto& lib : evaluators::synthesis_libraries(rtl, unit + ".v")) h.update(lib).update(rtl.files.at(lib));
      module_keys[unit.rfind("gemm_buf_", 0) == 0 && unit != "gemm_buf_c" ? "gemm_buf_<depth>x<width>" : unit].insert(h.hex());
    }
  }
  long long module_runs_unique = 0;
  std::string per_module;
  for (const auto& [module, keys] : module_keys) {
    module_runs_unique += static_cast<long long>(keys.size());
    per_module += " " + module + " " + std::to_string(keys.size());
  }
  std::printf("   whole sweep: %zu designs, %zu distinct Verilog designs; module Yosys runs: %lld if every design is\n"
              "   synthesized, %lld with the per-module cache (distinct module keys:%s)\n",
              all.size(), sources.size(), module_runs_all, module_runs_unique, per_module.c_str());
}

int main(int argc, char** argv) {
  std::vector<int> sizes = {4, 8, 16};
  int hits = 2000;
  int sweep = 20;
  bool only_sweep = false;
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
    } else if (!std::strcmp(argv[i], "--sweep") && i + 1 < argc) {
      sweep = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--only-sweep")) {
      only_sweep = true;
    } else {
      std::fprintf(stderr, "usage: bench_eval [--sizes 4,8,16] [--hits N] [--sweep N] [--only-sweep]\n");
      return 2;
    }
  }
  const auto& task = env::task("gemm-int8");
  const auto& family = task.design_family();
  if (only_sweep) {
    sweep_figures(task, sweep);
    return 0;
  }
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
  sweep_figures(task, sweep);
  return 0;
}
