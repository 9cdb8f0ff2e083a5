// Helpers shared by the commands of cli/.
#include "cli/common.h"

#include <fstream>
#include <sstream>
#include <iostream>

#include "evaluators/mpi_pool.h"
#include "evaluators/sandbox.h"
#include "evaluators/screen.h"
#include "hdl/gemm.h"
#include "env/kernel_task.h"

namespace chipgym::cli {

std::shared_ptr<evaluators::Cache> open_cache(const CacheOptions& c) {
  if (c.off) return nullptr;
  auto file = c.dir.empty() ? evaluators::Cache::default_file() : std::filesystem::path(c.dir) / "cache.sqlite";
  auto cache = std::make_shared<evaluators::Cache>(file);
  if (!cache->warning().empty()) std::cerr << "warning: " << cache->warning() << "\n";
  return cache;
}

std::shared_ptr<evaluators::EvalPool> make_pool(std::shared_ptr<evaluators::Pipeline> pipeline, int& workers,
                                                bool workers_given, const std::string& what) {
  auto* session = evaluators::mpi::Session::current();
  if (!session || !session->active()) return evaluators::thread_pool(std::move(pipeline), std::max(1, workers));
  if (session->size() < 2) {
    std::cerr << "note: MPI with one rank (mpirun -np 1): there are no worker ranks, so evaluations run in this "
                 "process, on --workers " << workers << " thread(s); give -np 2 or more for worker ranks\n";
    return evaluators::thread_pool(std::move(pipeline), std::max(1, workers));
  }
  const int ranks = session->size() - 1;
  if (!workers_given) {
    workers = ranks;
    std::cerr << "note: MPI: " << ranks << " worker rank(s); --workers (" << what << " in flight at once) set to " << ranks
              << "\n";
  } else if (workers < ranks) {
    std::cerr << "note: MPI: --workers " << workers << " keeps " << workers << " " << what << " in flight at once, so "
              << ranks - workers << " of the " << ranks << " worker ranks wait; the events are those of --workers "
              << workers << " without MPI\n";
  } else if (workers > ranks) {
    std::cerr << "note: MPI: --workers " << workers << " " << what << " in flight at once queue for " << ranks
              << " worker rank(s); the events are those of --workers " << workers << " without MPI\n";
  }
  return session->pool(std::move(pipeline));
}

json read_json_file(const std::string& file, const std::string& what) {
  std::ifstream in(file);
  if (!in) throw hdl::ParamError("cannot read " + what + " " + file);
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw hdl::ParamError(what + " " + file + " is not valid JSON: " + e.what());
  }
}

env::Task load_task(const std::string& name, const std::string& file) {
  if (file.empty()) return env::task(name);
  auto t = env::Task::from_json(read_json_file(file, "task file"));
  t.design_family();   // unknown family: names the known ones
  t.search_domains();  // searched values outside the family's domain
  return t;
}

std::string kernel_tasks_help() {
  std::string help = "kernel task:";
  for (const auto& t : env::kernel_tasks()) help += " " + t.name + " (" + t.description + ");";
  return help;
}

std::function<int()> with_unsafe_no_sandbox_flag(CLI::App& cmd, std::function<int()> action) {
  auto unsafe = std::make_shared<bool>(false);
  cmd.add_flag("--unsafe-no-sandbox", *unsafe,
               "run untrusted Verilog and the models built from it WITHOUT the bubblewrap sandbox (host files, "
               "network and environment in reach); only for text you trust, never the default");
  return [unsafe, action = std::move(action)] {
    if (*unsafe) evaluators::allow_unsandboxed(true);
    return action();
  };
}

void require_sandbox() {
  if (evaluators::unsandboxed_allowed()) return;
  if (auto problem = evaluators::sandbox_problem()) throw hdl::ParamError("cannot score untrusted Verilog: " + *problem);
}

// --- --workload -----------------------------------------------------------------------------

namespace {

struct WorkloadChoice {
  std::string spec, list;
  const CLI::Option* list_option = nullptr;  // --workloads, when the subcommand has it
  WorkloadDims dims;
};
WorkloadChoice& choice() {
  static WorkloadChoice c;
  return c;
}

}  // namespace

env::ImportOptions WorkloadDims::options() const {
  env::ImportOptions o;
  if (batch > 0) o.batch = batch;
  if (seq > 0) o.seq = seq;
  return o;
}

void add_workload_dims(CLI::App* cmd, WorkloadDims& dims) {
  cmd->add_option("--batch", dims.batch, "value of a dynamic batch dim (ONNX), or the zoo model's batch (default 1)")
      ->check(CLI::Range(1LL, 1LL << 20));
  cmd->add_option("--seq", dims.seq, "value of dynamic sequence (and other) dims (ONNX), or the zoo model's sequence (default 128)")
      ->check(CLI::Range(1LL, 1LL << 20));
}

void add_workload_option(CLI::App* subcommand) {
  subcommand->add_option("--workload", choice().spec,
                         "gemm tasks: run the GEMMs of FILE.onnx or zoo:NAME (see chipgym workload) instead of the task's");
  add_workload_dims(subcommand, choice().dims);
}

void add_workloads_option(CLI::App* subcommand) {
  choice().list_option = subcommand->add_option(
      "--workloads", choice().list,
      "RL agents: train one policy across these workloads (each episode draws one), comma-separated: FILE.onnx, a "
      "folder of them, zoo:NAME, gen:KIND:SEED, or gen:KIND:A..B (seeds A to B); best/ is the first workload's");
}

bool workload_given() {
  const auto& c = choice();
  return !c.spec.empty() || (c.list_option && c.list_option->count()) || c.dims.batch || c.dims.seq;
}

void apply_workload(env::Task& task) {
  const auto& c = choice();
  const bool list = c.list_option && c.list_option->count();
  if (list && !c.spec.empty())
    throw hdl::ParamError("--workload and --workloads: give one (--workloads trains across several, --workload designs for one)");
  if (c.spec.empty() && !list) {
    if (c.dims.batch || c.dims.seq) throw hdl::ParamError("--batch and --seq go with --workload or --workloads");
    return;
  }
  if (task.family != "gemm" && task.family != "codesign") {
    std::string gemm_tasks;
    for (const env::Task* t : env::tasks())
      if (t->family == "gemm" || t->family == "codesign") gemm_tasks += (gemm_tasks.empty() ? "" : ", ") + t->name;
    throw hdl::ParamError("--workload gives GEMMs, for the gemm tasks (" + gemm_tasks + "), not " + task.name);
  }
  const json patterns = task.workload.value("patterns", json::array({"random"}));
  const long long seed = task.workload.value("seed", 1LL);
  if (list) {
    task.workloads = json::array();
    for (const auto& w : env::load_workloads(c.list, c.dims.options())) task.workloads.push_back(w.task_workload(patterns, seed));
    task.workload = task.workloads.front();
    task.description += " [" + std::to_string(task.workloads.size()) + " workloads from " +
                        task.workload.value("source", std::string()) + "]";
    return;
  }
  const env::Workload w = env::load_workload(c.spec, c.dims.options());
  task.workload = w.task_workload(patterns, seed);
  task.description += " [workload " + w.source + "]";
}

void check_fidelity(const env::Task& task, const std::string& fidelity) {
  if (fidelity != "rtl" || (task.family != "gemm" && task.family != "codesign")) return;
  if (auto why = hdl::gemm_rtl_refusal(task.workload); !why.empty()) throw hdl::ParamError("--fidelity rtl: " + why);
  for (const auto& w : task.workloads)
    if (auto why = hdl::gemm_rtl_refusal(w); !why.empty())
      throw hdl::ParamError("--fidelity rtl: workload " + w.value("source", std::string("?")) + ": " + why);
}

// A Verilog file of at most kMaxVerilogBytes, refused without reading more.
std::string read_verilog(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw hdl::ParamError("cannot read " + what + " " + path + ": no such file");
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > evaluators::kMaxVerilogBytes)
    throw hdl::ParamError(what + " " + path + " is " + std::to_string(size) + " bytes; at most " +
                          std::to_string(evaluators::kMaxVerilogBytes) + " bytes of Verilog are accepted");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw hdl::ParamError("cannot read " + what + " " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace chipgym::cli
