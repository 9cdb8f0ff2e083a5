// chipgym workload: the GEMMs a model implies (an ONNX file or the zoo), and --workload for
// the commands that evaluate a gemm task on them.
#include "cli/workload.h"

#include <iostream>

#include "env/workload.h"
#include "hdl/gemm.h"

namespace chipgym::cli {

namespace {

using json = nlohmann::json;

// What --workload, --batch and --seq parsed to; one subcommand is parsed per invocation.
struct WorkloadChoice {
  std::string spec;
  long long batch = 0, seq = 0;  // 0: not given
  env::ImportOptions options() const {
    env::ImportOptions o;
    if (batch > 0) o.batch = batch;
    if (seq > 0) o.seq = seq;
    return o;
  }
};
WorkloadChoice& choice() {
  static WorkloadChoice c;
  return c;
}

void add_dims(CLI::App* cmd, WorkloadChoice& c) {
  cmd->add_option("--batch", c.batch, "value of a dynamic batch dim (ONNX), or the zoo model's batch (default 1)")
      ->check(CLI::Range(1LL, 1LL << 20));
  cmd->add_option("--seq", c.seq, "value of dynamic sequence (and other) dims (ONNX), or the zoo model's sequence (default 128)")
      ->check(CLI::Range(1LL, 1LL << 20));
}

std::string zoo_list() {
  std::string s;
  for (const auto& z : env::zoo()) s += "\n  " + z.name + std::string(z.name.size() < 14 ? 14 - z.name.size() : 1, ' ') + z.description;
  return s;
}

}  // namespace

Command add_workload_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("workload", "list the GEMMs of a model (ONNX file or the zoo): MACs, bytes, intensity per layer");
  struct State {
    std::string file, zoo_name;
    bool as_json = false;
    WorkloadChoice dims;
  };
  auto state = std::make_shared<State>();
  cmd->add_option("model", state->file, "an ONNX model (.onnx)");
  cmd->add_option("--zoo", state->zoo_name, "a model of the zoo instead of a file:" + zoo_list());
  add_dims(cmd, state->dims);
  cmd->add_flag("--json", state->as_json, "print JSON");
  cmd->footer("Counted: MatMul, MatMulInteger, QLinearMatMul, Gemm (transA/transB), batched matmuls (batch dims become\n"
              "a count), Conv/ConvInteger/QLinearConv as implicit GEMM (im2col: M = batch x output positions,\n"
              "K = in_channels/groups x window, N = out_channels/groups, times groups). Bytes: A and B int8, C as\n"
              "32-bit accumulators, each once. Other operators are listed as skipped.");
  auto run = [state]() -> int {
    if (state->file.empty() == state->zoo_name.empty())
      throw hdl::ParamError("workload needs an ONNX file or --zoo NAME (not both); the zoo:" + zoo_list());
    const auto o = state->dims.options();
    env::Workload w = state->file.empty() ? env::zoo_workload(state->zoo_name, o) : env::import_onnx_file(state->file, o);
    if (state->as_json) std::cout << w.to_json().dump(2) << "\n";
    else std::cout << w.to_text();
    if (!w.unsupported.empty() && state->as_json) {
      long long n = 0;
      for (const auto& [op, c] : w.unsupported) n += c;
      std::cerr << "note: " << n << " nodes imply MACs that are not lowered (see \"unsupported\"); the totals leave them out\n";
    }
    return 0;
  };
  return {cmd, run};
}

void add_workload_option(CLI::App* subcommand) {
  subcommand->add_option("--workload", choice().spec,
                         "gemm tasks: run the GEMMs of FILE.onnx or zoo:NAME (see chipgym workload) instead of the task's");
  add_dims(subcommand, choice());
}

void apply_workload(env::Task& task) {
  const auto& c = choice();
  if (c.spec.empty()) {
    if (c.batch || c.seq) throw hdl::ParamError("--batch and --seq go with --workload");
    return;
  }
  if (task.family != "gemm" && task.family != "codesign") {
    std::string gemm_tasks;
    for (const env::Task* t : env::tasks())
      if (t->family == "gemm" || t->family == "codesign") gemm_tasks += (gemm_tasks.empty() ? "" : ", ") + t->name;
    throw hdl::ParamError("--workload gives GEMMs, for the gemm tasks (" + gemm_tasks + "), not " + task.name);
  }
  const env::Workload w = env::load_workload(c.spec, c.options());
  task.workload = w.task_workload(task.workload.value("patterns", json::array({"random"})), task.workload.value("seed", 1LL));
  task.description += " [workload " + w.source + "]";
}

void check_fidelity(const env::Task& task, const std::string& fidelity) {
  if (fidelity != "rtl" || (task.family != "gemm" && task.family != "codesign")) return;
  if (auto why = hdl::gemm_rtl_refusal(task.workload); !why.empty()) throw hdl::ParamError("--fidelity rtl: " + why);
}

}  // namespace chipgym::cli
