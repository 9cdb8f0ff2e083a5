// The evaluation pipeline: generate, then the stages of the fidelity (evaluators/stage.h:
// screen -> lint -> simulate against golden -> synthesize -> fpga), each cached by content hash,
// and the whole evaluation cached too. Tool failures become Metrics::error, never exceptions.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <vector>
#include <optional>
#include <string>

#include "evaluators/cache.h"
#include "evaluators/metrics.h"
#include "evaluators/tools.h"
#include "hdl/family.h"

namespace chipgym::evaluators {

struct EvalOptions {
  std::string fidelity = "rtl";  // a registered fidelity (stage.h): model, synth, rtl, untrusted
  bool flatten = false;          // synthesize the flattened design instead of each module once
  bool fpga = true;              // also synthesize for iCE40 (LUT, FF, DSP, BRAM counts)
  bool synthesis = true;         // false: stop after simulation (tests of the golden check)
  bool use_cache = true;         // false: neither read nor write the cache (replay --verify)
  // The limits of every tool run (they change no result, so they are not part of cache keys).
  double tool_timeout = 600;     // wall-clock seconds per tool run
  double sim_timeout = 0;        // wall-clock seconds of the simulation run; 0: tool_timeout
  std::size_t tool_memory = 8ull << 30;  // address space per tool process (RLIMIT_AS)
  // Test hook: Verilog that replaces the generated text of one file (by file name, e.g.
  // "gemm_pe.v"), to inject a design that does not compile.
  std::optional<std::pair<std::string, std::string>> inject;
  // Write a VCD waveform of the simulation here (the model is built with --trace; the
  // simulation result is then not cached).
  std::optional<std::filesystem::path> vcd;

  json stage_options() const;  // the options that change results (part of cache keys)
};

class Pipeline {
 public:
  // cache may be null (no caching). Compiled Verilator models are kept beside the cache file.
  explicit Pipeline(std::shared_ptr<Cache> cache, Toolchain tools = Toolchain::from_env());

  Metrics evaluate(const hdl::Family& family, const hdl::Params& params, const json& workload,
                   const EvalOptions& options);

  // What evaluate() returns without running any tool, or nullopt: an input error (unknown
  // fidelity, parameters outside the space) or a cache hit. For a pool that answers hits
  // where the cache is and sends the rest elsewhere.
  std::optional<Metrics> answer_without_tools(const hdl::Family& family, const hdl::Params& params, const json& workload,
                                              const EvalOptions& options);
  // Keeps the result of an evaluation made elsewhere (an MPI worker without a cache) as
  // evaluate() keeps its own: the eval-level entry, if the result may be cached.
  void keep(const hdl::Family& family, const hdl::Params& params, const json& workload, const EvalOptions& options,
            const Metrics& metrics);
  // What the eval-level cache value records of its design beside the metrics (under "design"):
  // family, version, params, the workload's hash and the stage options, so that a cache can be
  // exported as a dataset (chipgym cache export). Not part of the key.
  static json design_record(const hdl::Family& family, const hdl::Params& params, const json& workload,
                            const EvalOptions& options);

  // The eval-level cache key (family, version, parameters, workload, options, tool versions).
  std::string design_key(const hdl::Family& family, const hdl::Params& params, const json& workload,
                         const EvalOptions& options) const;
  const Toolchain& tools() const { return tools_; }
  const std::shared_ptr<Cache>& cache() const { return cache_; }  // null: none
  // Compiled Verilator models, by the hash of their source (empty without a cache).
  const std::filesystem::path& models_dir() const { return models_dir_; }

  // A stage's cache entry (none without a cache, or with use_cache off; an unreadable entry is
  // a miss), and storing one (a failed write is reported in Metrics::stages.cache_warnings).
  std::optional<json> cached(const EvalOptions& o, const std::string& stage, const std::string& key);
  void store(const EvalOptions& o, const std::string& stage, const std::string& key, const json& value);

 private:
  // What every evaluation does before any tool: the fidelity known, the parameters valid, the
  // cycle model and derived figures into `m`. False: `m.error` says what was wrong (input).
  bool prepare(const hdl::Family& family, const hdl::Params& params, const json& workload, const EvalOptions& options,
               Metrics& m) const;

  std::shared_ptr<Cache> cache_;
  Toolchain tools_;
  std::filesystem::path models_dir_;
  std::mutex warnings_mu_;
  std::vector<std::string> cache_warnings_;  // cache writes that failed, reported in Metrics::stages
};

// Parses Yosys `stat -json` text (tolerating the hierarchy lines Yosys 0.23 prints inside
// the JSON when a top module is set) and aggregates cell counts over the hierarchy from
// `top`: cells of a submodule count once per instance. Returns type -> count, plus the
// transistor estimate under the key "__transistors" when `-tech cmos` was given.
std::map<std::string, long long> aggregate_stat(const std::string& stat_json_text, const std::string& top);
// The same in two steps: modules (name -> stat entry) from several Yosys runs can be merged
// before aggregating.
std::map<std::string, json> parse_stat_modules(const std::string& stat_json_text);
std::map<std::string, long long> aggregate_modules(const std::map<std::string, json>& modules, const std::string& top);

// The files that the per-module Yosys run of `unit_file` reads as black-box libraries besides
// its own, in name order: those declaring a module that the unit instantiates, transitively (a
// name mention, comments included, counts as an instance: an extra file only costs cache
// hits). Files whose modules cannot be told (no plain `module NAME`) are always read, and
// every file is when any file uses a preprocessor directive other than `default_nettype and
// `timescale (a macro could name a module or reach across files). A module's synthesis
// result is cached under its script and the texts of these files.
std::vector<std::string> synthesis_libraries(const hdl::Rtl& rtl, const std::string& unit_file);

// After the generic statistics: flip-flops made plain D flip-flops, so that Yosys' CMOS
// transistor estimate covers every cell. An asynchronous reset becomes a synchronous one
// (async2sync: its reset logic is counted, a close upper bound on an async flip-flop), enables
// and synchronous resets become logic. Latches are refused before (latch_problem).
inline constexpr const char* kCmosMeasure = "async2sync\ndfflegalize -cell $_DFF_P_ 01\n";

// Latches are refused, not costed (Yosys' CMOS estimate has no latch cell, and an inferred
// latch is nearly always a bug): a message that says "latch" and names the signal or count,
// from the Yosys log ("Latch inferred ... from always_comb") or the generic statistics.
std::optional<std::string> latch_problem(const std::string& yosys_log, const std::string& generic_stat_json);

// The longest "length=N" among ltp's "Longest topological path in M (length=N)" lines.
long long parse_ltp_depth(const std::string& ltp_text);

// The lines of a tool's output that say what went wrong (errors first), at most `max_chars`.
std::string excerpt(const std::string& text, std::size_t max_chars = 1200);

}  // namespace chipgym::evaluators
