// chipgym workload, and the --workload option of eval, train and compare (cli/workload.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "env/task.h"

namespace chipgym::cli {

// Adds `chipgym workload FILE.onnx | --zoo NAME`; the returned function runs it once parsed
// (throws hdl::ParamError on bad input: exit 2).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};
Command add_workload_command(CLI::App& app);

// Adds `chipgym roofline --task T --set ... [--workload ...]` (cli/roofline.cpp).
Command add_roofline_command(CLI::App& app);

// Adds --workload FILE.onnx|zoo:NAME (with --batch, --seq) to a subcommand of a gemm task.
void add_workload_option(CLI::App* subcommand);
// The task with the parsed --workload in place of its built-in shapes (unchanged without one):
// the task JSON then records the GEMM list and where it came from.
void apply_workload(env::Task& task);
// Refuses (hdl::ParamError) RTL simulation of a workload larger than RTL simulation takes,
// naming the fidelities that do.
void check_fidelity(const env::Task& task, const std::string& fidelity);

}  // namespace chipgym::cli
