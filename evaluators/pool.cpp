#include "evaluators/pool.h"

#include <atomic>
#include <stdexcept>
#include <thread>

#include "hdl/family.h"

namespace chipgym::evaluators {

json to_json(const EvalJob& job) {
  const EvalOptions& o = job.options;
  if (o.vcd) throw std::invalid_argument("an evaluation that writes a VCD runs where it is asked, not in a pool");
  json j = {{"family", job.family},
          {"params", job.params},
          {"workload", job.workload},
          {"options",
           {{"fidelity", o.fidelity}, {"flatten", o.flatten}, {"fpga", o.fpga}, {"synthesis", o.synthesis},
            {"use_cache", o.use_cache}, {"tool_timeout", o.tool_timeout}, {"sim_timeout", o.sim_timeout},
            {"tool_memory", o.tool_memory}}}};
  // Untrusted text travels as it came; the receiving pipeline screens it and sandboxes every
  // tool run on it, as this one would (evaluators/stage.h guard()).
  if (o.inject) j["options"]["inject"] = {{"file", o.inject->first}, {"text", o.inject->second}};
  return j;
}

EvalJob job_from_json(const json& j) {
  EvalJob job;
  job.family = j.at("family").get<std::string>();
  job.params = j.at("params");
  job.workload = j.at("workload");
  const json& o = j.at("options");
  job.options.fidelity = o.at("fidelity").get<std::string>();
  job.options.flatten = o.at("flatten").get<bool>();
  job.options.fpga = o.at("fpga").get<bool>();
  job.options.synthesis = o.at("synthesis").get<bool>();
  job.options.use_cache = o.at("use_cache").get<bool>();
  job.options.tool_timeout = o.at("tool_timeout").get<double>();
  job.options.sim_timeout = o.at("sim_timeout").get<double>();
  job.options.tool_memory = o.at("tool_memory").get<std::size_t>();
  if (o.contains("inject"))
    job.options.inject = std::make_pair(o.at("inject").at("file").get<std::string>(), o.at("inject").at("text").get<std::string>());
  return job;
}

Metrics evaluate_job(Pipeline& pipeline, const EvalJob& job) {
  const auto family = hdl::family_for(job.family, job.workload);
  hdl::Params params;
  try {
    // Constraints are checked by the pipeline, which makes a broken one an input error.
    params = family->space().from_json(job.params, false);
  } catch (const std::exception& e) {
    Metrics m;
    m.fidelity = job.options.fidelity;
    m.error = ErrorInfo{"input", e.what()};
    return m;
  }
  return pipeline.evaluate(*family, params, job.workload, job.options);
}

json in_process_launch() { return {{"mpi", false}, {"ranks", 1}, {"hosts", json::array()}}; }

namespace {

class ThreadPool final : public EvalPool {
 public:
  ThreadPool(std::shared_ptr<Pipeline> pipeline, int threads) : pipeline_(std::move(pipeline)), threads_(threads) {
    if (threads_ < 1) throw std::invalid_argument("a thread pool needs at least one thread");
  }

  std::vector<Metrics> evaluate(const std::vector<EvalJob>& jobs) override {
    std::vector<Metrics> out(jobs.size());
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t i; (i = next++) < jobs.size();) out[i] = evaluate_job(*pipeline_, jobs[i]);
    };
    std::vector<std::thread> threads;
    const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(threads_), jobs.size());
    for (std::size_t t = 1; t < n; ++t) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    return out;
  }

  json launch() const override { return in_process_launch(); }

 private:
  std::shared_ptr<Pipeline> pipeline_;
  int threads_;
};

}  // namespace

std::shared_ptr<EvalPool> thread_pool(std::shared_ptr<Pipeline> pipeline, int threads) {
  return std::make_shared<ThreadPool>(std::move(pipeline), threads);
}

}  // namespace chipgym::evaluators
