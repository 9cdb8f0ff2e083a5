// chipgym workload: the GEMMs a model implies (an ONNX file or the zoo), with MACs, bytes and
// intensity per layer. (--workload, which runs a gemm task on them, is in cli/common.cpp.)
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "env/workload.h"

namespace chipgym::cli {

namespace {

std::string zoo_list() {
  std::string s;
  for (const auto& z : env::zoo()) s += "\n  " + z.name + std::string(z.name.size() < 14 ? 14 - z.name.size() : 1, ' ') + z.description;
  return s;
}

struct WorkloadCommand {
  std::string file, zoo_name, generated;
  bool as_json = false;
  WorkloadDims dims;
};

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<WorkloadCommand>();
  cmd.add_option("model", c->file, "an ONNX model (.onnx)");
  cmd.add_option("--zoo", c->zoo_name, "a model of the zoo instead of a file:" + zoo_list());
  cmd.add_option("--generate", c->generated,
                 "a generated workload instead, KIND:SEED: transformer (one layer) or cnn (a whole network), drawn "
                 "from stated ranges (env/zoo.cpp); --workload takes it as gen:KIND:SEED");
  add_workload_dims(&cmd, c->dims);
  cmd.add_flag("--json", c->as_json, "print JSON");
  cmd.footer("Counted: MatMul, MatMulInteger, QLinearMatMul, Gemm (transA/transB), batched matmuls (batch dims become\n"
             "a count), Conv/ConvInteger/QLinearConv as implicit GEMM (im2col: M = batch x output positions,\n"
             "K = in_channels/groups x window, N = out_channels/groups, times groups). Bytes: A and B int8, C as\n"
             "32-bit accumulators, each once. Other operators are listed as skipped.");
  return [c]() -> int {
    if (!c->file.empty() + !c->zoo_name.empty() + !c->generated.empty() != 1)
      throw hdl::ParamError("workload needs one of an ONNX file, --zoo NAME or --generate KIND:SEED; the zoo:" + zoo_list());
    const auto o = c->dims.options();
    env::Workload w = !c->generated.empty() ? env::load_workload("gen:" + c->generated, o)
                      : c->file.empty()     ? env::zoo_workload(c->zoo_name, o)
                                            : env::import_onnx_file(c->file, o);
    if (c->as_json) std::cout << w.to_json().dump(2) << "\n";
    else std::cout << w.to_text();
    if (!w.unsupported.empty() && c->as_json) {
      long long n = 0;
      for (const auto& [op, count] : w.unsupported) n += count;
      std::cerr << "note: " << n << " nodes imply MACs that are not lowered (see \"unsupported\"); the totals leave them out\n";
    }
    return 0;
  };
}

const CommandRegistration registered{
    {"workload", "list the GEMMs of a model (ONNX file or the zoo): MACs, bytes, intensity per layer", setup}};

}  // namespace

}  // namespace chipgym::cli
