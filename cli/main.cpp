// chipgym: the command line, a thin front over hdl/, evaluators/, env/, agents/ and runs/.
// Every command is a file in cli/ that registers itself (cli/command.h); this file builds the
// app from the entries, runs the one that parsed, and is the one place that turns exceptions
// into messages and exit codes (cli/common.h).
#include <iostream>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "cli/common.h"
#include "evaluators/cache.h"
#include "evaluators/mpi_pool.h"
#include "hdl/param_space.h"

int main(int argc, char** argv) {
  using chipgym::cli::Command;
  // Started by mpirun or srun: ranks 1..N-1 only evaluate (evaluators/mpi_pool.h) and never
  // parse the command; rank 0 runs it. Without a launcher nothing of MPI is touched.
  chipgym::evaluators::mpi::Session mpi(argc, argv);
  if (mpi.worker()) return mpi.serve();
  if (mpi.refused()) return chipgym::cli::kBadInput;

  CLI::App app{"chipgym: agents design hardware, scored by real EDA tools (Yosys, Verilator)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "chipgym 0.1.0");

  std::vector<std::pair<CLI::App*, std::function<int()>>> commands;
  for (const Command* c : chipgym::Registry<Command>::instance().entries()) {
    CLI::App* cmd = app.add_subcommand(c->name, c->help);
    commands.emplace_back(cmd, c->setup(*cmd));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; a value that does not parse, an unknown option or command is
    // bad input like any other: exit 2 (CLI11's own codes run from 101 to 115).
    const int code = app.exit(e);
    return code == 0 ? 0 : chipgym::cli::kBadInput;
  }

  try {
    for (const auto& [cmd, run] : commands)
      if (cmd->parsed()) {
        const int code = run();
        if (const std::string usage = mpi.usage(); !usage.empty()) std::cerr << "note: " << usage << "\n";
        return code;
      }
  } catch (const chipgym::hdl::ParamError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return chipgym::cli::kBadInput;
  } catch (const chipgym::evaluators::CacheError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return chipgym::cli::kBadInput;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return chipgym::cli::kDesignFailed;
  }
  return 0;
}
