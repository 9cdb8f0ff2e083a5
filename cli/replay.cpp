// chipgym replay: rebuild a design from a run directory and evaluate it again, cache off. The
// run's kind (config.json) decides how: an evolve run scores its best program again; a train
// run (black-box or RL; older ones have no kind) rebuilds its best design or step.
#include <iomanip>
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "runs/evolve.h"
#include "runs/replay.h"
#include "runs/run_dir.h"

namespace chipgym::cli {

namespace {

struct ReplayCommand {
  std::string dir, vcd_file;
  long long step = -1;
  bool best = false, verify = false, policy = false, as_json = false, convert = false;
};

// An evolve run: score its best kernel again with the run's seed and vectors.
int replay_evolve_run(const ReplayCommand& c, const CLI::App& cmd) {
  if (cmd.count("--step") || !c.vcd_file.empty())
    throw hdl::ParamError("an evolve run replays its best kernel only (no --step, --vcd)");
  require_sandbox();
  auto r = runs::replay_evolve(c.dir, std::make_shared<evaluators::Pipeline>(nullptr));
  if (c.as_json) std::cout << r.dump(2) << "\n";
  else
    std::cout << "replayed evolve program " << r["program"] << " (" << r["subject"].get<std::string>() << ") of "
              << r["task"].get<std::string>() << ": " << r["fresh"]["verdict"].get<std::string>() << ", fitness "
              << r["fitness"] << " (recorded " << r["recorded_fitness"] << ")\n"
              << (r["differences"].empty() ? "every recorded figure reproduced\n"
                                           : "DIFFERENT: " + r["differences"].dump() + "\n");
  return !r["differences"].empty() && c.verify ? kDesignFailed : (r["fresh"]["verdict"] == "pass" ? 0 : kDesignFailed);
}

int replay_run(const ReplayCommand& c, const CLI::App& cmd) {
  const bool step = cmd.count("--step") > 0;
  if (c.best && step) throw hdl::ParamError("choose --best or --step N, not both");
  if (c.policy && (c.best || step)) throw hdl::ParamError("choose one of --best, --step N and --policy");
  // The fresh evaluation never reads the cache; with --policy, the policy's own steps may.
  auto pipeline = std::make_shared<evaluators::Pipeline>(c.policy ? open_cache(CacheOptions{}) : nullptr);
  auto r = runs::replay(c.dir, step ? std::optional<long long>(c.step) : std::nullopt, pipeline,
                        c.vcd_file.empty() ? std::nullopt : std::optional<std::filesystem::path>(c.vcd_file), c.policy);
  if (c.as_json) {
    std::cout << json{{"design", r.design}, {"metrics", r.fresh}, {"recorded", r.recorded}, {"differences", r.differences}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "replayed " << r.design["source"].get<std::string>() << ": " << r.design["params"].dump() << "\n";
    const auto& now = r.fresh;
    for (auto it = r.recorded.begin(); it != r.recorded.end(); ++it)
      if (now.contains(it.key()))
        std::cout << "  " << std::left << std::setw(13) << it.key() << now[it.key()].dump() << "  (recorded "
                  << it.value().dump() << ")\n";
    if (r.metrics.error) std::cout << "  error        [" << r.metrics.error->category << "] " << r.metrics.error->message << "\n";
    if (c.verify) std::cout << (r.differences.empty() ? "verify: every recorded metric reproduced\n" : "verify: DIFFERENT\n");
    if (c.verify && r.fresh.contains("verified"))
      std::cout << (r.fresh["verified"] == true ? "verify: the best design is bit-exact at rtl\n"
                                                : "verify: the best design FAILS at rtl\n");
  }
  for (const auto& d : r.differences) std::cerr << "differs: " << d << "\n";
  if (r.waveform) {
    if (r.waveform->ok())
      std::cerr << "waveform of one tile (" << r.waveform->cycles << " cycles, "
                << (r.waveform->correct ? "bit-exact" : "NOT bit-exact") << ") written to " << c.vcd_file << "\n";
    else
      std::cerr << "no waveform: [" << r.waveform->error->category << "] " << r.waveform->error->message << "\n";
  }
  if (r.waveform && !r.waveform->ok()) return kDesignFailed;
  if (c.verify && r.fresh.value("verified", true) == false) return kDesignFailed;
  return c.verify && !r.differences.empty() ? kDesignFailed : (r.metrics.ok() ? 0 : kDesignFailed);
}

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<ReplayCommand>();
  cmd.add_option("run", c->dir, "the run directory")->required();
  cmd.add_flag("--best", c->best, "the best design (the default)");
  cmd.add_option("--step", c->step, "the design of evaluation N of events.jsonl");
  cmd.add_flag("--policy", c->policy, "RL runs: the design the saved policy picks, acting greedily");
  cmd.add_flag("--verify", c->verify, "exit 1 if any recorded metric differs from the new evaluation");
  cmd.add_flag("--json", c->as_json, "print JSON");
  cmd.add_option("--vcd", c->vcd_file, "also write a waveform (VCD) of the design running one workload tile");
  cmd.add_flag("--convert", c->convert,
               "an evolve run of the older layout (db.json at its top): move it into the current one, then replay");
  return with_unsafe_no_sandbox_flag(cmd, [c, &cmd]() -> int {
    const std::filesystem::path dir = c->dir;
    if (c->convert) {
      for (const auto& line : runs::convert_evolve_run(dir)) std::cerr << "converted: " << line << "\n";
    }
    if (runs::is_old_evolve_run(dir)) return replay_evolve_run(*c, cmd);  // refused with how to convert
    if (std::filesystem::exists(dir / "config.json") &&
        runs::RunDir::open(dir).read_config().value("kind", std::string()) == "evolve")
      return replay_evolve_run(*c, cmd);
    return replay_run(*c, cmd);
  });
}

const CommandRegistration registered{
    {"replay", "rebuild a design from a run directory and evaluate it again, cache off", setup}};

}  // namespace

}  // namespace chipgym::cli
