// The evaluation pool on MPI ranks against threads, on this machine. Run under mpirun with 3
// ranks (rank 0 and two workers), e.g.
//   mpirun --oversubscribe -np 3 --mca btl self,tcp --mca btl_tcp_if_include lo \
//          --mca oob_tcp_if_include lo build/bench_mpi [synth designs, default 4]
// Prints, in one run: the idle CPU of a waiting worker rank, the dispatch overhead per
// evaluation (cycle-model jobs, which take microseconds, so the round trip is what is timed;
// with rank 0's SQLite cache and without), evaluations per second at synth with one and two
// worker ranks busy against one and two threads, and the efficiency these figures imply at 64,
// 256 and 1,024 ranks for evaluations of 1 and 10 s (an estimate: each evaluation is longer by
// the overhead, and rank 0 handles one result at a time, so it saturates when the worker ranks
// times rank 0's CPU per evaluation reach the evaluation time).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "env/env.h"
#include "evaluators/mpi_pool.h"
#include "evaluators/runner.h"

using namespace chipgym;
using json = nlohmann::json;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// utime + stime of a process, in seconds.
double cpu_seconds(long long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stod(f);
    if (i == 15) {
      stime = std::stod(f);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

evaluators::EvalJob model_job(long long i, bool use_cache) {
  evaluators::EvalJob job;
  job.family = "gemm";
  job.params = {{"rows", 2}, {"cols", 2}};
  job.workload = {{"shapes", {{4, 8, 4}}}, {"seed", i}};  // a new workload each: a new key
  job.options.fidelity = "model";
  job.options.use_cache = use_cache;
  return job;
}

// Seconds per evaluation, one job per batch (one in flight, as a worst case for the overhead).
double per_eval(evaluators::EvalPool& pool, long long first, int n, bool use_cache) {
  const double t0 = now();
  for (int i = 0; i < n; ++i) pool.evaluate({model_job(first + i, use_cache)});
  return (now() - t0) / n;
}

// Evaluations per second of `jobs`, `in_flight` at a time.
double rate(evaluators::EvalPool& pool, const std::vector<evaluators::EvalJob>& jobs, std::size_t in_flight) {
  const double t0 = now();
  for (std::size_t i = 0; i < jobs.size(); i += in_flight) {
    std::vector<evaluators::EvalJob> batch(jobs.begin() + static_cast<long>(i),
                                           jobs.begin() + static_cast<long>(std::min(jobs.size(), i + in_flight)));
    for (const auto& m : pool.evaluate(batch))
      if (m.error) std::cerr << "bench_mpi: an evaluation failed: " << m.error->message << "\n";
  }
  return static_cast<double>(jobs.size()) / (now() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  evaluators::mpi::Session session(argc, argv);
  if (session.worker()) return session.serve();
  if (session.refused()) return 2;
  if (!session.active() || session.size() < 3) {
    std::cerr << "bench_mpi: run it under mpirun with -np 3 (rank 0 and two worker ranks)\n";
    return 2;
  }
  const int designs = argc > 1 ? std::atoi(argv[1]) : 4;
  evaluators::TempDir dir("chipgym-bench-mpi-");
  auto mpi_pipeline = std::make_shared<evaluators::Pipeline>(std::make_shared<evaluators::Cache>(dir.path() / "mpi" / "cache.sqlite"));
  auto thread_pipeline = std::make_shared<evaluators::Pipeline>(std::make_shared<evaluators::Cache>(dir.path() / "threads" / "cache.sqlite"));
  auto mpi = session.pool(mpi_pipeline);

  // 1. A waiting worker: nothing sent for 3 s.
  const double wait = 3;
  std::vector<double> before;
  for (int r = 1; r < session.size(); ++r) before.push_back(cpu_seconds(session.pids()[static_cast<std::size_t>(r)]));
  std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  double idle = 0;
  for (int r = 1; r < session.size(); ++r)
    idle = std::max(idle, (cpu_seconds(session.pids()[static_cast<std::size_t>(r)]) - before[static_cast<std::size_t>(r - 1)]) / wait);
  std::printf("idle worker rank: %.2f%% of a core (CPU time over %.0f s without jobs; probe, then sleep up to %lld ms)\n",
              100 * idle, wait, static_cast<long long>(evaluators::mpi::kMaxIdleSleep.count()));

  // 2. Dispatch overhead: cycle-model jobs, one in flight.
  const int n = 1000;
  auto threads1 = evaluators::thread_pool(thread_pipeline, 1);
  per_eval(*mpi, 0, 50, false);  // warm up the connections
  const double mpi_nocache = per_eval(*mpi, 100000, n, false), thr_nocache = per_eval(*threads1, 100000, n, false);
  const double cpu0 = cpu_seconds(::getpid());
  const double mpi_cache = per_eval(*mpi, 200000, n, true);
  // What rank 0 spends per evaluation (its dispatcher and the cache): the serial part, which
  // decides when rank 0 saturates. The latency (round trip, sleeps between probes included)
  // only adds to each evaluation.
  const double rank0_cpu = (cpu_seconds(::getpid()) - cpu0) / n;
  const double thr_cache = per_eval(*threads1, 200000, n, true);
  const double overhead = mpi_cache - thr_cache;
  std::printf("dispatch: %.3f ms per evaluation on a worker rank vs %.3f ms on a thread, without cache (round trip %.3f ms)\n",
              1e3 * mpi_nocache, 1e3 * thr_nocache, 1e3 * (mpi_nocache - thr_nocache));
  std::printf("          %.3f ms vs %.3f ms with rank 0's SQLite cache (a miss, then the result kept): overhead %.3f ms\n",
              1e3 * mpi_cache, 1e3 * thr_cache, 1e3 * overhead);
  std::printf("          rank 0 CPU per evaluation (dispatcher, cache, JSON): %.3f ms\n", 1e3 * rank0_cpu);

  // 3. Evaluations per second at synth, no cache: distinct designs of gemm (rows x cols x dataflow).
  const env::Task task = env::Task::from_json(json::parse(R"({"name": "gemm-bench", "family": "gemm", "description": "bench",
    "workload": {"shapes": [[4, 8, 4]], "seed": 1}, "objective": "throughput per area", "budget": {"max_transistors": 20000000},
    "fidelity": "synth", "search": {"rows": [1, 2, 3, 4], "cols": [1, 2], "dataflow": ["os", "ws"]}})"));
  const env::Env env(task, {}, nullptr);
  std::vector<evaluators::EvalJob> jobs;
  for (int i = 0; i < designs; ++i) {
    auto job = env.job({i % 4, (i / 4) % 2, (i / 8) % 2});
    job.options.use_cache = false;
    jobs.push_back(job);
  }
  auto threads2 = evaluators::thread_pool(thread_pipeline, 2);
  const double t1 = rate(*threads1, jobs, 1), t2 = rate(*threads2, jobs, 2);
  const double m1 = rate(*mpi, jobs, 1), m2 = rate(*mpi, jobs, 2);
  std::printf("synth, %d designs, no cache: threads 1: %.3f eval/s, 2: %.3f eval/s; worker ranks 1: %.3f eval/s, 2: %.3f eval/s "
              "(%u cores here)\n",
              designs, t1, t2, m1, m2, std::thread::hardware_concurrency());

  // 4. The estimate at scale.
  for (double t_eval : {1.0, 10.0}) {
    std::printf("estimate, %.0f s evaluations:", t_eval);
    for (int ranks : {64, 256, 1024}) {
      const double workers = ranks - 1;
      const double saturation = std::min(1.0, t_eval / (workers * rank0_cpu));  // rank 0 keeps up?
      std::printf("  %d ranks %.2f%%", ranks, 100 * saturation * t_eval / (t_eval + overhead));
    }
    std::printf("\n");
  }
  return 0;
}
