// The evaluation pool: the one way a loop evaluates several designs at once. A batch of jobs
// goes in, their Metrics come out in the same order. Two implementations behind this one
// interface: threads over a shared Pipeline (one machine), and MPI ranks (evaluators/mpi_pool.h:
// rank 0 answers cache hits itself and sends the misses to worker ranks).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "evaluators/pipeline.h"

namespace chipgym::evaluators {

// One design to evaluate: what Pipeline::evaluate takes, by value, so that it can travel.
struct EvalJob {
  std::string family;             // a registered family, or one built from the workload (hdl::family_for)
  json params = json::object();   // hdl::Params::to_json()
  json workload = json::object();
  EvalOptions options;
};

// A job as JSON and back (the message an MPI worker receives). Injected Verilog (untrusted
// candidates: kernels, rewritten modules) travels with its job; a VCD, which is written where
// it is asked for, does not (std::invalid_argument).
json to_json(const EvalJob& job);
EvalJob job_from_json(const json& j);
// Evaluates one job on `pipeline` (the family looked up or built from the workload, the
// parameters parsed; a parameter error becomes an "input" error in the Metrics, as
// Pipeline::evaluate makes it).
Metrics evaluate_job(Pipeline& pipeline, const EvalJob& job);

class EvalPool {
 public:
  virtual ~EvalPool() = default;
  // Evaluates every job; Metrics in job order. Thread-safe: several loops may submit at once
  // (compare's runs share one pool). A tool failure is a Metrics::error, never an exception.
  virtual std::vector<Metrics> evaluate(const std::vector<EvalJob>& jobs) = 0;
  // How the evaluations run, for config.json: {"mpi": bool, "ranks": N, "hosts": [...]}.
  virtual json launch() const = 0;
  // What the pool did so far, one line for a person (MPI: designs per worker rank, retries);
  // empty when there is nothing to say (threads).
  virtual std::string usage() const { return ""; }
};

// The launch of a run that has no pool, or a pool of this process's threads:
// {"mpi": false, "ranks": 1, "hosts": []}.
json in_process_launch();

// `pool`'s launch, or in_process_launch() when there is none.
inline json launch_of(const EvalPool* pool) { return pool ? pool->launch() : in_process_launch(); }

// Up to `threads` evaluations at once on this process's threads, over `pipeline` (which
// caches). What train's batches did with std::async before.
std::shared_ptr<EvalPool> thread_pool(std::shared_ptr<Pipeline> pipeline, int threads);

}  // namespace chipgym::evaluators
