// One subcommand of chipgym. Each file in cli/ registers its command as Yosys registers a pass:
//
//   namespace { const CommandRegistration tasks{{"tasks", "list benchmark tasks, ...", setup}}; }
//
// main.cpp adds a subcommand per entry (in name order), lets `setup` add its options, and runs
// the action of the one that parsed. It knows no command by name: a new command is one new
// file here plus one line in CMakeLists.txt.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "hdl/registry.h"

namespace chipgym::cli {

struct Command {
  std::string name;  // chipgym <name>
  std::string help;  // one line, in `chipgym --help`
  // Adds the options to `cmd` (already named and described) and returns the action, run once
  // the command line parsed. The action returns the exit code; a failure it does not expect to
  // report itself it throws (main.cpp maps exceptions to messages and exit codes).
  std::function<std::function<int()>(CLI::App& cmd)> setup;
};

using CommandRegistration = Registration<Command>;

}  // namespace chipgym::cli
