// chipgym roofline: where each layer of a workload is bound on one gemm design.
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "runs/roofline.h"

namespace chipgym::cli {

namespace {

struct RooflineCommand {
  std::string task = "gemm-int8", assignments, out;
  double dram = 0;
  bool as_json = false;
};

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<RooflineCommand>();
  cmd.add_option("--task", c->task, "a gemm task (see chipgym tasks)")->capture_default_str();
  cmd.add_option("--set", c->assignments, "the design, as name=value,... (others take defaults)");
  add_workload_option(&cmd);
  cmd.add_option("--dram-bytes-per-cycle", c->dram, "an off-chip bandwidth ceiling, bytes per accelerator cycle")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--out", c->out, "directory for roofline.json/.dat/.gp/.svg/.png (default runs/roofline-<task>)");
  cmd.add_flag("--json", c->as_json, "print the table as JSON");
  return [c, &cmd]() -> int {
    runs::RooflineOptions o;
    o.task = env::task(c->task);
    apply_workload(o.task);
    o.params = o.task.design_family().space().parse_assignments(c->assignments);
    if (cmd.count("--dram-bytes-per-cycle")) o.dram_bytes_per_cycle = c->dram;
    o.out = c->out.empty() ? std::filesystem::path("runs") / ("roofline-" + o.task.name) : std::filesystem::path(c->out);
    auto r = runs::roofline(o);
    for (const auto& n : r.notices) std::cerr << "note: " << n << "\n";
    if (c->as_json) {
      std::cout << r.table.dump(2) << "\n";
    } else {
      std::cout << r.to_text() << "written:";
      for (const auto& f : r.files) std::cout << " " << f;
      std::cout << "\n";
    }
    return 0;
  };
}

const CommandRegistration registered{
    {"roofline", "per-layer roofline of a gemm design on a workload: compute- or memory-bound, table and plot", setup}};

}  // namespace

}  // namespace chipgym::cli
