// chipgym pareto: the Pareto fronts (transistors vs workload cycles) of a run or a comparison.
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "runs/pareto.h"

namespace chipgym::cli {

namespace {

struct ParetoCommand {
  std::string dir, out;
  bool as_json = false;
};

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<ParetoCommand>();
  cmd.add_option("dir", c->dir, "a run directory, or a comparison's (chipgym compare --out)")->required();
  cmd.add_option("--out", c->out, "directory for pareto.dat/.gp/.svg/.png (default: DIR)");
  cmd.add_flag("--json", c->as_json, "print the fronts as JSON");
  return [c]() -> int {
    const std::filesystem::path out = c->out.empty() ? std::filesystem::path(c->dir) : std::filesystem::path(c->out);
    auto r = runs::pareto(c->dir, out);
    for (const auto& n : r.notices) std::cerr << "note: " << n << "\n";
    if (c->as_json) {
      std::cout << r.to_json().dump(2) << "\n";
    } else {
      std::cout << r.to_text() << "written:";
      for (const auto& f : r.files) std::cout << " " << f;
      std::cout << "\n";
    }
    return 0;
  };
}

const CommandRegistration registered{
    {"pareto", "the Pareto fronts (transistors vs workload cycles) of a run or a comparison: table and plot", setup}};

}  // namespace

}  // namespace chipgym::cli
