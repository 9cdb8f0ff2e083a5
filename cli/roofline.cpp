// chipgym roofline: where each layer of a workload is bound on one gemm design.
#include <iostream>

#include "cli/workload.h"
#include "runs/roofline.h"

namespace chipgym::cli {

Command add_roofline_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("roofline", "per-layer roofline of a gemm design on a workload: compute- or memory-bound, table and plot");
  struct State {
    std::string task = "gemm-int8", assignments, out;
    double dram = 0;
    bool as_json = false;
  };
  auto state = std::make_shared<State>();
  cmd->add_option("--task", state->task, "a gemm task (see chipgym tasks)")->capture_default_str();
  cmd->add_option("--set", state->assignments, "the design, as name=value,... (others take defaults)");
  add_workload_option(cmd);
  cmd->add_option("--dram-bytes-per-cycle", state->dram, "an off-chip bandwidth ceiling, bytes per accelerator cycle")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", state->out, "directory for roofline.json/.dat/.gp/.svg/.png (default runs/roofline-<task>)");
  cmd->add_flag("--json", state->as_json, "print the table as JSON");
  auto run = [state, cmd]() -> int {
    runs::RooflineOptions o;
    o.task = env::task(state->task);
    apply_workload(o.task);
    o.params = o.task.design_family().space().parse_assignments(state->assignments);
    if (cmd->count("--dram-bytes-per-cycle")) o.dram_bytes_per_cycle = state->dram;
    o.out = state->out.empty() ? std::filesystem::path("runs") / ("roofline-" + o.task.name) : std::filesystem::path(state->out);
    auto r = runs::roofline(o);
    for (const auto& n : r.notices) std::cerr << "note: " << n << "\n";
    if (state->as_json) {
      std::cout << r.table.dump(2) << "\n";
    } else {
      std::cout << r.to_text() << "written:";
      for (const auto& f : r.files) std::cout << " " << f;
      std::cout << "\n";
    }
    return 0;
  };
  return {cmd, run};
}

}  // namespace chipgym::cli
