// What several commands share: exit codes, the cache options, reading a task or a JSON file,
// the sandbox flag, and --workload for the commands that evaluate gemm tasks.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/task.h"
#include "env/workload.h"
#include "evaluators/cache.h"
#include "evaluators/pool.h"
#include "evaluators/stage.h"

namespace chipgym::cli {

using json = nlohmann::json;

// Exit codes: 0 success, 1 the design failed (tool error or wrong results), 2 bad input,
// 3 (train, RL agents) training stopped on a non-finite loss: not a success, but nothing is
// lost; the run directory is consistent and its last good checkpoint is named on stderr
// (compare: some run stopped so; the leaderboard is written, counting it as far as it got).
// main.cpp maps exceptions: hdl::ParamError and evaluators::CacheError are bad input, any
// other exception a failure.
constexpr int kDesignFailed = 1;
constexpr int kBadInput = 2;
constexpr int kTrainingStopped = 3;

// The fidelities evaluators::Pipeline::evaluate runs, cheapest first (the registered ones,
// evaluators/stage.h; env::Task::from_json refuses others). A function: the registry fills at start-up.
inline std::vector<std::string> fidelities() { return evaluators::design_fidelity_names(); }

// --cache-dir and --no-cache (each command adds them with its own help).
struct CacheOptions {
  std::string dir;
  bool off = false;
};
// nullptr with --no-cache; a cache warning (e.g. a corrupt file moved aside) goes to stderr.
std::shared_ptr<evaluators::Cache> open_cache(const CacheOptions& c);

// Where a command's batches of evaluations run: under MPI with worker ranks, the MPI pool (its
// results kept in `pipeline`'s cache); else `workers` threads over `pipeline`. Under MPI,
// --workers keeps its meaning, the evaluations in flight at once (a black-box agent's batch),
// so a run gives the same events with or without MPI; not given, it becomes the number of
// worker ranks. Notes on stderr say so, and say that `mpirun -np 1` has no workers.
// `what` is what --workers counts in this command ("evaluations", "runs").
std::shared_ptr<evaluators::EvalPool> make_pool(std::shared_ptr<evaluators::Pipeline> pipeline, int& workers,
                                                bool workers_given, const std::string& what);

// A user's JSON file; `what` names it in errors ("task file", "parameter file").
json read_json_file(const std::string& file, const std::string& what);
// A task by name, or from a JSON file (a task is a value: see `chipgym tasks --json`).
env::Task load_task(const std::string& name, const std::string& file);

// "kernel task: relu-int8 (...); gelu-int8 (...);" for the --task help of score and evolve.
std::string kernel_tasks_help();

// Adds --unsafe-no-sandbox to `cmd` and returns `action` preceded by what the flag says.
// Untrusted Verilog (score, evolve's kernels and modules, eval --inject-verilog, their replays)
// only runs in bubblewrap; this is the one, loud, way around it.
std::function<int()> with_unsafe_no_sandbox_flag(CLI::App& cmd, std::function<int()> action);
// Before any untrusted text is touched: throws hdl::ParamError saying why the sandbox does not
// work here (and so how to fix it), unless it works or --unsafe-no-sandbox was given.
void require_sandbox();

// --workload FILE.onnx|zoo:NAME, with --batch and --seq, on a subcommand of a gemm task.
// One subcommand is parsed per invocation, so one choice is kept.
void add_workload_option(CLI::App* subcommand);
// --workloads LIST (train): one policy across several workloads (env::load_workloads' forms);
// apply_workload() then sets Task::workloads, the first of them as the task's workload.
void add_workloads_option(CLI::App* subcommand);
// --batch and --seq of `chipgym workload` and of --workload.
struct WorkloadDims {
  long long batch = 0, seq = 0;  // 0: not given
  env::ImportOptions options() const;
};
void add_workload_dims(CLI::App* cmd, WorkloadDims& dims);
// Whether --workload, --workloads, --batch or --seq was given.
bool workload_given();
// The task with the parsed --workload in place of its built-in shapes (unchanged without one):
// the task JSON then records the GEMM list and where it came from.
void apply_workload(env::Task& task);
// Refuses (hdl::ParamError) RTL simulation of a workload larger than RTL simulation takes,
// naming the fidelities that do.
void check_fidelity(const env::Task& task, const std::string& fidelity);

// A Verilog file of at most evaluators::kMaxVerilogBytes, refused without reading more;
// `what` names it in errors ("the candidate"). Throws hdl::ParamError.
std::string read_verilog(const std::string& path, const std::string& what);

}  // namespace chipgym::cli
