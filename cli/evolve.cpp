// chipgym evolve: programs evolved from a MAP-Elites database by an LLM (or, offline, a
// mutation proposer): a kernel task's Verilog, a design task's parameter set, or one module of
// its accelerator (the agent: agents/evolve.h, agents/evolve_design.h; the loop: runs/evolve.h).
#include <cstdlib>
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "evaluators/mpi_pool.h"
#include "env/kernel_task.h"
#include "runs/evolve.h"

namespace chipgym::cli {

namespace {

struct EvolveCommand {
  agents::EvolveConfig evolve;
  std::string out, llm, prompts, set, task_file;
  bool as_json = false;
  CacheOptions cache;
};

bool is_kernel_task(const std::string& name) {
  const env::Task* t = Registry<env::Task>::instance().find(name);
  return t && t->has_kernel();
}

bool is_design_task(const std::string& name) {
  const env::Task* t = Registry<env::Task>::instance().find(name);
  return t && t->has_design();
}

// --llm, --model and the key: $CHIPGYM_LLM_KEY when set, else $OPENAI_API_KEY (none sent when
// neither is).
void configure_llm(EvolveCommand& c) {
  auto& evolve = c.evolve;
  if (!c.llm.empty()) {
    if (evolve.llm.model.empty()) throw hdl::ParamError("--llm needs --model NAME");
    evolve.use_llm = true;
    evolve.llm.base_url = c.llm;
    const char* own = std::getenv("CHIPGYM_LLM_KEY");
    evolve.llm.api_key_env = own && *own ? "CHIPGYM_LLM_KEY" : "OPENAI_API_KEY";
  } else if (!evolve.llm.model.empty()) {
    throw hdl::ParamError("--model needs --llm URL");
  }
}

// --task or --task-file; an unknown name lists both kinds of task.
void resolve_task(EvolveCommand& c) {
  auto& evolve = c.evolve;
  if (!c.task_file.empty()) {
    if (!evolve.task.empty()) throw hdl::ParamError("give --task or --task-file, not both");
    const auto t = load_task("", c.task_file);
    evolve.task = t.name;
    evolve.task_spec = t.to_json();
  }
  if (evolve.task.empty()) throw hdl::ParamError("evolve needs --task NAME (or --task-file FILE)");
  if (evolve.task_spec.is_null()) env::task(evolve.task);  // unknown: names every task, and the nearest
}

int run_command(EvolveCommand& c, const CLI::App& cmd) {
  auto& evolve = c.evolve;
  evolve.seed_given = cmd.count("--seed") > 0;
  if (evolve.resume && c.out.empty()) throw hdl::ParamError("--resume needs --out DIR, the run to continue");
  configure_llm(c);
  evolve.prompts_dir = c.prompts;
  resolve_task(c);
  if (!c.set.empty()) {
    if (evolve.module.empty()) throw hdl::ParamError("--set fixes the accelerator around --module; give --module too");
    if (evolve.task_spec.is_null() && !is_design_task(evolve.task))
      throw hdl::ParamError("--set and --module apply to design tasks (chipgym tasks), not " + evolve.task);
    const auto& space =
        (evolve.task_spec.is_null() ? env::task(evolve.task) : env::Task::from_json(evolve.task_spec)).design_family().space();
    evolve.fixed = space.parse_assignments(c.set).to_json();  // throws ParamError naming the parameter
  }
  // Kernels and rewritten modules are untrusted text; parameter sets are not.
  if (is_kernel_task(evolve.task) || !evolve.module.empty()) require_sandbox();
  // Candidates are evaluated through the pipeline and its cache.
  evolve.pipeline = std::make_shared<evaluators::Pipeline>(open_cache(c.cache));
  // Under mpirun, candidates (parameter sets, and Verilog with its text) go to the worker ranks.
  if (auto* mpi = evaluators::mpi::Session::current(); mpi && mpi->active())
    evolve.pool = make_pool(evolve.pipeline, evolve.workers, cmd.count("--workers") > 0, "candidates");
  evolve.out = c.out.empty() ? std::filesystem::path("runs") / ("evolve-" + evolve.task +
                                                                (evolve.module.empty() ? "" : "-" + evolve.module) +
                                                                "-s" + std::to_string(evolve.db.seed))
                             : std::filesystem::path(c.out);
  auto summary = runs::run_evolve(evolve, &std::cerr);
  for (const auto& n : summary.notices) std::cerr << "note: " << n << "\n";
  if (c.as_json) std::cout << summary.to_json().dump(2) << "\n";
  else
    std::cout << "evolve " << evolve.task << ": " << summary.generations_done << " generations, " << summary.candidates
              << " candidates this session (" << summary.edit_errors << " replies without a candidate), best program "
              << summary.best_id << " fitness " << summary.best_fitness << " (seed " << summary.seed_fitness
              << "), stopped by " << summary.stop_reason << "\nwritten: " << summary.best_file << " "
              << (evolve.out / "checkpoints" / "db.json").string() << " " << (evolve.out / "events.jsonl").string()
              << "\nevaluate the best again: chipgym replay " << evolve.out.string() << "\n";
  return 0;
}

std::function<int()> setup(CLI::App& cmd) {
  auto c = std::make_shared<EvolveCommand>();
  auto& e = c->evolve;
  e.task.clear();  // --task or --task-file is required
  cmd.add_option("--task", e.task, kernel_tasks_help() + " or a design task (see chipgym tasks): its parameter set as JSON, or with --module one module of its accelerator");
  cmd.add_option("--task-file", c->task_file, "a design task as JSON (the form `chipgym tasks --json` prints) instead of --task");
  cmd.add_option("--module", e.module, "design tasks: rewrite this generated module (e.g. gemm_pe) while the rest of the accelerator is generated; the whole design is simulated against golden and synthesized");
  cmd.add_option("--set", c->set, "with --module: parameters of the accelerator around it, as name=value,... (others: defaults)");
  cmd.add_option("--generations", e.generations, "generations in total (a resumed run continues up to this)")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd.add_option("--out", c->out, "run directory (default: runs/evolve-<task>[-<module>]-s<seed>)");
  cmd.add_option("--seed", e.db.seed, "seed of sampling, mutations and the scoring vectors")->capture_default_str();
  cmd.add_flag("--resume", e.resume, "continue the run in --out from its checkpoints/db.json (its own seed and settings)");
  cmd.add_flag("--force", e.force, "start over: empty an existing run directory --out first");
  cmd.add_option("--llm", c->llm, "base URL of an OpenAI-compatible server (e.g. https://api.openai.com/v1); without it, the offline mutation proposer");
  cmd.add_option("--model", e.llm.model, "model name for --llm");
  cmd.add_option("--temperature", e.llm.temperature, "sampling temperature for --llm")->capture_default_str();
  cmd.add_option("--llm-timeout", e.llm.timeout_seconds, "seconds per model request")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--in-flight", e.llm.max_in_flight, "model requests at once")->capture_default_str()->check(CLI::Range(1, 64));
  cmd.add_option("--islands", e.db.islands, "islands of the program database")->capture_default_str()->check(CLI::Range(1, 64));
  cmd.add_option("--inspirations", e.db.inspirations, "programs shown beside the parent in each prompt")->capture_default_str()->check(CLI::Range(0, 32));
  cmd.add_option("--children", e.children, "candidates per island per generation")->capture_default_str()->check(CLI::Range(1, 64));
  cmd.add_option("--migrate-every", e.db.migration_interval, "generations between migrations (0: never)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--workers", e.workers, "candidates scored at once")->capture_default_str()->check(CLI::Range(1, 64));
  cmd.add_option("--max-calls", e.max_calls, "budget: model calls (0: unlimited)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--max-tokens", e.max_tokens, "budget: prompt + completion tokens (0: unlimited)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--max-seconds", e.max_seconds, "budget: wall seconds (0: unlimited)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--random", e.random_vectors, "random vectors per candidate besides the edge cases and the fixed coverage vectors")->capture_default_str()->check(CLI::Range(0, 10000));
  cmd.add_option("--verify-random", e.verify_random_vectors, "kernel tasks: random vectors (another hidden seed) of the re-verification a best must pass before it is written")->capture_default_str()->check(CLI::Range(0, 100000));
  cmd.add_option("--prompts", c->prompts, "folder of prompt templates (default: $CHIPGYM_PROMPTS, else the source tree's prompts/)");
  cmd.add_flag("--json", c->as_json, "print the summary as JSON");
  cmd.add_option("--cache-dir", c->cache.dir, "cache directory (default: as for eval)");
  cmd.add_flag("--no-cache", c->cache.off, "neither read nor write the evaluation cache");
  return with_unsafe_no_sandbox_flag(cmd, [c, &cmd]() -> int { return run_command(*c, cmd); });
}

const CommandRegistration registered{
    {"evolve",
     "evolve programs: an LLM (or, offline, a mutation proposer) edits programs from a MAP-Elites database: a kernel "
     "task's Verilog (scored like chipgym score), a design task's parameter set, or one module of its accelerator "
     "(--module)",
     setup}};

}  // namespace

}  // namespace chipgym::cli
