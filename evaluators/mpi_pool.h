// Evaluations on MPI ranks (Open MPI; mpirun, or Slurm's srun --mpi=pmix). Rank 0 runs the
// command as without MPI: the agent, the run directory and the SQLite cache. The other ranks
// never parse a command: they only evaluate designs, each with its own Pipeline without a
// cache and its own temporary directories, and send the Metrics back.
//
// The messages are JSON text: a job (evaluators/pool.h to_json) to a worker, its Metrics back.
// Rank 0 answers cache hits and input errors itself and keeps every result a worker sends in
// its cache. Waiting ranks do not spin: they probe and sleep (up to kMaxIdleSleep between probes).
//
// A timeout on a worker says nothing about the design (a loaded node): the job runs once more
// on another rank, and only then is recorded as a timeout, naming the ranks and hosts. (Test
// hook: $CHIPGYM_TEST_TIMEOUT_ON_RANK=R makes rank R answer every job with a tool timeout
// without evaluating it, so the retry can be tested; nothing else sets it.)
//
// At start every worker reports its host, chipgym version and tool versions to rank 0; a
// worker whose versions differ from rank 0's (its cache keys would differ) or that lacks a
// tool is refused, naming its rank and host, and the job ends with exit code 2. (Test hook:
// $CHIPGYM_TEST_CHIPGYM_VERSION=V makes a rank report chipgym version V, so that a rank of
// another chipgym can be tested with one build; nothing else sets it.)
//
// This header and mpi_pool.cpp are the only places that know MPI (mpi.h is included in the
// .cpp only); the chipgym executable links it, the libraries do not.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evaluators/pool.h"

namespace chipgym::evaluators::mpi {

inline constexpr std::chrono::milliseconds kMaxIdleSleep{5};

// Whether an MPI launcher started this process (its environment: OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_RANK), decided without initializing anything.
bool launched();

// The MPI life of the process, one object in main(): nothing happens unless launched().
class Session {
 public:
  Session(int& argc, char**& argv);  // MPI_Init_thread, then the version handshake
  ~Session();                        // rank 0: stops the workers; MPI_Finalize
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  bool active() const { return active_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool worker() const { return active_ && rank_ > 0; }
  // Rank 0: the handshake refused a worker (the message is printed): exit with 2.
  const std::optional<std::string>& refused() const { return refused_; }
  // A worker: evaluates jobs until rank 0 ends the session; returns the exit code.
  int serve();
  // Rank 0 with workers: the pool over ranks 1..N-1, keeping results in `pipeline`'s cache
  // (one pool per session; a second call returns it). Null without workers (-np 1).
  std::shared_ptr<EvalPool> pool(std::shared_ptr<Pipeline> pipeline);
  // The pool's usage line (EvalPool::usage), empty if no pool was made.
  std::string usage() const { return pool_ ? pool_->usage() : ""; }
  // The host of every rank, rank 0 first.
  const std::vector<std::string>& hosts() const { return hosts_; }
  // The process id of every rank (on its host), rank 0 first (bench/bench_mpi.cpp reads the
  // CPU time of waiting workers on this host from /proc).
  const std::vector<long long>& pids() const { return pids_; }

  // The session of this process, if one was made.
  static Session* current();

 private:
  void handshake();
  bool active_ = false;
  int rank_ = 0, size_ = 1;
  std::optional<std::string> refused_;
  std::vector<std::string> hosts_;
  std::vector<long long> pids_;
  std::shared_ptr<EvalPool> pool_;
};

// This process's host name.
std::string host_name();
// What must agree between ranks for their results to be interchangeable: "chipgym 0.1.0 |
// <yosys version> | <verilator version>".
std::string version_line(const Toolchain& tools);

}  // namespace chipgym::evaluators::mpi
