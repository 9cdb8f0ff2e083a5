// `chipgym evolve`: the loop (see runs/evolve.h).
#include "runs/evolve.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "agents/diff.h"
#include "agents/evolve_design.h"
#include "env/kernel_task.h"
#include "hdl/param_space.h"
#include "runs/recorder.h"
#include "runs/run_dir.h"

namespace chipgym::runs {

namespace fs = std::filesystem;
using namespace agents;
using env::find_kernel_task;
using env::kernel_tasks;
using hdl::ParamError;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string failure_extra(const Program& p) {
  std::string out;
  if (p.report.contains("lint"))
    for (const auto& w : p.report["lint"].value("first_warnings", json::array()))
      out += "\n  lint: " + (w.is_string() ? w.get<std::string>() : w.dump());
  if (p.report.contains("simulation")) {
    const json mismatches = p.report["simulation"].value("first_mismatches", json::array());
    for (std::size_t i = 1; i < mismatches.size(); ++i) {  // the message shows the first
      const json& m = mismatches[i];
      out += "\n  mismatch (" + m.value("origin", std::string()) + "): in=" + m["in"].dump() +
             " expected=" + m["expected"].dump() + " got=" + m["got"].dump();
    }
  }
  return out;
}

std::string metrics_line(const Subject& subject, const Program& p) { return subject.figures(p.report).line; }

std::string failure_detail(const Subject& subject, const Program& p) {
  return "Program " + std::to_string(p.id) + " " + metrics_line(subject, p) + failure_extra(p);
}

struct Templates {
  std::string system, user, inspiration;
};

Templates load_templates(const fs::path& dir, const Subject& subject) {
  Templates t;
  for (auto [name, slot] : {std::pair{subject.system_template, &t.system}, {subject.user_template, &t.user},
                            {std::string("inspiration.txt"), &t.inspiration}}) {
    const fs::path p = dir / name;
    if (!fs::exists(p))
      throw ParamError("prompt template " + p.string() + " not found (--prompts DIR or $CHIPGYM_PROMPTS name the folder)");
    *slot = read_text(p);
  }
  return t;
}

// What the proposer is asked for one child.
struct Request {
  int island = 0, child = 0, parent = -1;
  std::vector<int> inspirations;
  std::string system, user;
  std::uint64_t mutation_seed = 0;
  std::string tag;  // g<gen>_i<island>_c<child>
};

struct Proposal {
  bool ok = false;
  std::string reply, error, error_kind, what;
  std::string op;  // the offline proposer's operator (agents/evolve_ops.h)
  long long tokens = 0;
  int attempts = 0;
  double seconds = 0;
};

}  // namespace

json EvolveSummary::to_json() const {
  return {{"generations_done", generations_done}, {"subject", subject}, {"best_file", best_file},
          {"candidates", candidates}, {"edit_errors", edit_errors},
          {"best_id", best_id}, {"best_fitness", best_fitness}, {"seed_fitness", seed_fitness},
          {"stop_reason", stop_reason}, {"seconds", seconds}, {"reverify_failures", reverify_failures},
          {"best_verification", best_verification}, {"improvements_by_operator", improvements_by_operator}};
}

// --- the loop ---------------------------------------------------------------------------------

namespace {

bool is_kernel_task(const std::string& name) {
  for (const auto& k : kernel_tasks())
    if (k.name == name) return true;
  return false;
}

// The subject of a run with these settings.
Subject make_subject(const EvolveConfig& cfg) {
  if (cfg.custom_subject) return cfg.custom_subject(cfg);
  if (cfg.task_spec.is_null() && is_kernel_task(cfg.task)) {
    if (!cfg.module.empty() || !cfg.fixed.empty())
      throw ParamError(cfg.task + " is a kernel task: --module and --set apply to parametric design tasks only");
    return kernel_subject(cfg.task, cfg.db.seed, cfg.random_vectors, cfg.sim_timeout, cfg.verify_random_vectors,
                          cfg.pipeline ? cfg.pipeline->cache() : nullptr, cfg.pool);
  }
  return design_subject(cfg, cfg.pipeline ? cfg.pipeline : std::make_shared<evaluators::Pipeline>(nullptr));
}

// The best program's code in best/: program.v, or program.json.
std::string best_code_name(const Subject& subject) { return "program." + subject.extension; }

// The settings a run recorded in config.json that define its subject and its scores (resume
// and replay take them over whatever was passed).
void adopt_recorded_settings(const json& stored, EvolveConfig& cfg) {
  cfg.random_vectors = stored.value("random_vectors", cfg.random_vectors);
  cfg.verify_random_vectors = stored.value("verify_random_vectors", cfg.verify_random_vectors);
  cfg.sim_timeout = stored.value("sim_timeout", cfg.sim_timeout);
  cfg.module = stored.value("module", std::string());
  cfg.fixed = stored.value("fixed", json::object());
  cfg.task_spec = stored.value("task_spec", json());
}

// What an evolve candidate's event carries beside its own fields (runs/recorder.h): correct
// (null unless simulated), its area and latency as transistors and cycles, the scoring's
// seconds, and the error of a failing one.
json evaluation_metrics(const Figures& f, const json& report, const json& stages) {
  const std::string stage = report.value("stage", std::string());
  json m = {{"correct", f.passed ? json(true) : stage.rfind("sim", 0) == 0 ? json(false) : json(nullptr)},
            {"cycles", static_cast<long long>(f.latency)}, {"transistors", static_cast<long long>(f.area)},
            {"seconds", stages.is_object() ? stages.value("seconds", 0.0) : 0.0}};
  if (!f.passed)
    m["error"] = {{"category", report.value("category", std::string())}, {"message", report.value("message", std::string())}};
  return m;
}

std::string old_layout_message(const fs::path& run) {
  return run.string() + " is an evolve run of an older layout (db.json and best.* at its top); convert it with "
                        "`chipgym replay --convert " + run.string() + "` (it moves them into checkpoints/ and best/)";
}

}  // namespace

EvolveSummary run_evolve(const EvolveConfig& given, std::ostream* log) {
  const auto session_start = std::chrono::steady_clock::now();
  EvolveConfig cfg = given;
  if (cfg.generations < 1) throw ParamError("--generations must be >= 1");
  if (cfg.children < 1 || cfg.children > 64) throw ParamError("--children must be 1..64");
  if (cfg.workers < 1 || cfg.workers > 64) throw ParamError("--workers must be 1..64");
  if (cfg.out.empty()) throw ParamError("evolve needs a run directory (--out DIR)");
  if (cfg.max_calls < 0 || cfg.max_tokens < 0 || cfg.max_seconds < 0) throw ParamError("budgets must be >= 0");
  const fs::path prompts_dir = cfg.prompts_dir.empty() ? default_prompts_dir() : cfg.prompts_dir;
  const fs::path out = cfg.out, db_path = out / "checkpoints" / "db.json";

  ProgramDb db(cfg.db);
  std::optional<Recorder> rec;
  if (cfg.resume) {
    if (is_old_evolve_run(out)) throw ParamError("cannot resume: " + old_layout_message(out));
    if (!fs::exists(out / "config.json"))
      throw ParamError("nothing to resume: " + (out / "config.json").string() + " does not exist");
    rec.emplace(Recorder::resume(out));
    const json stored = rec->recorded_config();
    if (stored.value("kind", "") != "evolve")
      throw ParamError("cannot resume " + out.string() + " with evolve: it is a run of kind " +
                       stored.value("kind", std::string("train")) + " (chipgym train --resume continues it)");
    if (!fs::exists(db_path)) throw ParamError("nothing to resume: " + db_path.string() + " does not exist");
    if (stored.value("task", "") != cfg.task)
      throw ParamError("the run in " + out.string() + " is for task " + stored.value("task", std::string("?")) +
                       ", not " + cfg.task);
    db = ProgramDb::load(db_path);
    if (cfg.seed_given && cfg.db.seed != db.config().seed)
      throw ParamError("the run in " + out.string() + " has seed " + std::to_string(db.config().seed) + ", not " +
                       std::to_string(cfg.db.seed) + "; resume it without --seed (or with its own)");
    // The run's own settings, whatever was passed this time: programs stay comparable.
    cfg.db = db.config();
    adopt_recorded_settings(stored, cfg);
    // What was written after the checkpoint runs again (older runs did not count their events).
    if (db.stats.contains("events"))
      rec->keep_recorded_lines(static_cast<std::size_t>(db.stats["events"].get<double>()),
                         "after the last checkpoint (generation " + std::to_string(static_cast<int>(db.stats.value("next_generation", 0.0))) + ")");
  } else {
    std::error_code ec;
    if (!cfg.force && fs::exists(out, ec) && !fs::is_empty(out, ec))
      throw ParamError("run directory " + out.string() +
                       " exists; pass --resume to continue it, --force to start it over, or choose another --out");
  }
  // Bad settings are refused before anything is written.
  const Subject subject = make_subject(cfg);
  const Templates templates = load_templates(prompts_dir, subject);
  if (!cfg.resume) rec.emplace(Recorder::create(out, cfg.force));
  std::unique_ptr<LlmClient> client;
  if (cfg.use_llm) client = std::make_unique<LlmClient>(cfg.llm);
  auto candidate_file = [&](int id) { return out / "candidates" / ("p" + std::to_string(id) + "." + subject.extension); };
  auto stat = [&](const char* key) { return db.stats.value(key, 0.0); };
  auto bump = [&](const char* key, double by) { db.stats[key] = stat(key) + by; };

  auto score = [&](const std::string& code) { return subject.score(code, false); };
  auto make_program = [&](const std::string& code, const json& report, int parent, int generation, int island,
                          const std::string& origin) {
    Program p;
    p.code = code;
    p.report = report;
    p.parent_id = parent;
    p.generation = generation;
    p.island = island;
    p.origin = origin;
    const Figures f = subject.figures(report);
    p.passed = f.passed;
    p.fitness = f.fitness;
    p.area = f.area;
    p.latency = f.latency;
    p.feedback = p.passed ? "" : report.value("message", std::string());
    return p;
  };
  // The best passing program is re-verified with many more vectors before it is written as the
  // best: a kernel that passed the run's few random vectors by luck is demoted here (its
  // report becomes the failing re-verification, so it leaves its cell, is not migrated, and
  // its code is not taken as passing again) and the next best is tried. Each check is an event.
  auto verified_best = [&]() -> int {
    for (;;) {
      const int best = db.best();
      if (best < 0 || !subject.verify || !db.get(best).passed || !db.get(best).verification.is_null()) return best;
      const Program& candidate = db.get(best);
      auto [report, stages] = subject.verify(candidate.code);
      const Figures f = subject.figures(report);
      const json verification = {{"verdict", report.value("verdict", "")}, {"stage", report.value("stage", "")},
                                 {"category", report.value("category", "")}, {"message", report.value("message", "")},
                                 {"vectors", report.contains("simulation") ? report["simulation"].value("cases", json()) : json()}};
      rec->note(json{{"event", "reverify"}, {"program", best}, {"passed", f.passed},
                     {"verification", verification}, {"stages", stages}});
      if (log)
        *log << "re-verification of program " << best << ": " << (f.passed ? "passes" : "FAILS, not the best: " + f.line) << "\n";
      // What prompts may show of a failed re-verification: not its vectors, which would let a
      // model patch exactly those (the full message stays in `verification` and the event).
      json demoted = report;
      if (!f.passed) {
        demoted["message"] = "passed the run's vectors but not the re-verification with " + verification["vectors"].dump() +
                             " vectors from another hidden seed (" + report.value("stage", std::string()) + ": " +
                             report.value("category", std::string()) + "); those vectors stay hidden";
        if (demoted.contains("simulation") && demoted["simulation"].is_object()) demoted["simulation"].erase("first_mismatches");
      }
      const Figures demoted_figures = subject.figures(demoted);
      const std::string code = candidate.code;
      for (const Program& same : std::vector<Program>(db.programs())) {  // migrated copies share the verdict
        if (same.code != code) continue;
        Program p = same;
        p.verification = verification;
        if (!f.passed) {
          p.report = demoted;
          p.passed = false;
          p.fitness = demoted_figures.fitness;
          p.area = p.latency = 0;
          p.feedback = demoted["message"].get<std::string>();
        }
        db.replace(same.id, p);
      }
      if (!f.passed) {
        bump("reverify_failures", 1);
        db.island_feedback[db.get(best).island] += "Program " + std::to_string(best) + " " + demoted_figures.line + "\n";
      }
    }
  };
  // The evaluation event of each program's code (the first program with that code), by id.
  std::map<int, json> event_of;
  if (cfg.resume)
    for (const json& e : rec->recorded_events())
      if (e.contains("eval") && e.contains("program")) event_of.emplace(e["program"].get<int>(), e);
  // best/ holds the database's best program (after its re-verification); its event is the
  // evaluation of its code, with its own program id.
  auto write_best = [&] {
    const int best = verified_best();
    if (best < 0) return;
    const Program& p = db.get(best);
    const auto first = event_of.find(db.find_code(p.code));
    // A program of an older run, whose events had no eval: eval -1.
    json event = first != event_of.end() ? first->second : json{{"eval", -1}};
    event["program"] = p.id;
    event["reward"] = p.fitness;
    rec->set_best(event, p.report);
  };
  auto export_best = [&](RunDir& d, const json& event, const json&) {
    const Program& p = db.get(event["program"].get<int>());
    json record = p.to_json();
    record.erase("code");
    record["eval"] = event["eval"];
    const std::string report = "# Best program of an evolve run\n\nTask " + cfg.task + ", subject " + subject.kind +
                               ", program " + std::to_string(p.id) + " (generation " + std::to_string(p.generation) +
                               ", island " + std::to_string(p.island) + ").\n\n" + metrics_line(subject, p) + "\n";
    d.export_best(record, {{best_code_name(subject), p.code}}, p.report, report);
  };
  // A seed or candidate program: an evaluation of the run.
  auto record_program = [&](json ev, const Program& prog, const json& stages, bool cache_hit) {
    Evaluation e;
    e.design = nullptr;
    e.params = nullptr;
    if (subject.extension == "json") {
      try {
        e.params = json::parse(prog.code);
      } catch (const json::exception&) {
      }
    }
    e.reward = prog.fitness;
    e.metrics = evaluation_metrics(subject.figures(prog.report), prog.report, stages);
    e.cache_hit = cache_hit || (stages.is_object() && stages.value("cache_hit", false));
    e.where = std::move(ev);
    const json recorded = rec->record(e);
    event_of.emplace(prog.id, recorded);
  };
  rec->own_best();
  const long long planned = static_cast<long long>(cfg.generations) * cfg.children * db.config().islands;

  EvolveSummary summary;
  if (!cfg.resume) {
    json config = cfg.to_json();
    config["subject"] = subject.kind;
    config["settings"] = subject.settings;
    config["kind"] = "evolve";
    // How the run was launched, as train records it (an MPI pool's ranks and hosts).
    config["launch"] = evaluators::launch_of(cfg.pool.get());
    rec->start(config, planned, export_best);
    for (const char* sub : {"prompts", "responses", "candidates", "templates"}) fs::create_directories(out / sub);
    for (const auto& name : {subject.system_template, subject.user_template, std::string("inspiration.txt")})
      fs::copy_file(prompts_dir / name, out / "templates" / name);
    auto [report, stages] = score(subject.seed_code);
    if (subject.kind != "kernel") {
      // Cells in half octaves around the seed design's area and cycles.
      const Figures f = subject.figures(report);
      ProgramDbConfig c = cfg.db;
      c.area_origin = f.area > 0 ? f.area : 1;
      c.latency_origin = f.latency > 0 ? f.latency : 1;
      db = ProgramDb(c);
    }
    for (int island = 0; island < db.config().islands; ++island) {
      const int id = db.add(make_program(subject.seed_code, report, -1, 0, island, "seed"));
      write_atomically(candidate_file(id), subject.seed_code);
      json ev = {{"generation", 0}, {"island", island}, {"event", "seed"}, {"program", id},
                 {"verdict", report["verdict"]}, {"fitness", db.get(id).fitness}, {"stages", stages}};
      if (island > 0) ev["same_code_as"] = 0;  // one score for every island's copy
      record_program(ev, db.get(id), stages, island > 0);
    }
    if (!db.get(0).passed && log) *log << "warning: the seed program fails: " << metrics_line(subject, db.get(0)) << "\n";
    db.stats["next_generation"] = 0;
    write_best();
    db.stats["events"] = static_cast<double>(rec->events_written());
    db.save(db_path);
  } else {
    rec->start(rec->recorded_config(), planned, export_best);
  }
  summary.seed_fitness = db.get(0).fitness;
  summary.subject = subject.kind;
  summary.best_file = (out / "best" / best_code_name(subject)).string();
  bump("sessions", 1);
  rec->note(json{{"event", "session"}, {"session", stat("sessions")}, {"resume", cfg.resume},
                 {"proposer", cfg.use_llm ? "llm" : "mutation"}, {"generations", cfg.generations}});
  const double seconds_before = stat("seconds");
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - session_start).count();
  };
  auto budget_left = [&]() -> std::string {
    if (cfg.max_seconds > 0 && seconds_before + elapsed() >= cfg.max_seconds) return "max_seconds";
    if (cfg.use_llm && cfg.max_calls > 0 && stat("calls") >= static_cast<double>(cfg.max_calls)) return "max_calls";
    if (cfg.use_llm && cfg.max_tokens > 0 && stat("tokens") >= static_cast<double>(cfg.max_tokens)) return "max_tokens";
    return "";
  };
  // The checkpoint: the best re-verified and exported, then the database with the number of
  // events it accounts for (a resume drops those written after it).
  auto finish = [&] {
    write_best();
    db.stats["seconds"] = seconds_before + elapsed();
    db.stats["events"] = static_cast<double>(rec->events_written());
    db.save(db_path);
  };

  int consecutive_failures = 0;
  int gen = static_cast<int>(stat("next_generation"));
  summary.stop_reason = "generations";
  for (; gen < cfg.generations; ++gen) {
    if (auto why = budget_left(); !why.empty()) {
      summary.stop_reason = why;
      break;
    }
    // 1. Prompts, in a fixed order (the sampling is seeded).
    std::vector<Request> requests;
    for (int island = 0; island < db.config().islands; ++island) {
      const std::string island_note = db.island_feedback.count(island) ? db.island_feedback[island] : "";
      for (int child = 0; child < cfg.children; ++child) {
        Request rq;
        rq.island = island;
        rq.child = child;
        rq.parent = db.sample_parent(island);
        rq.inspirations = db.sample_inspirations(island, rq.parent);
        rq.mutation_seed = db.next_random();
        rq.tag = "g" + std::to_string(gen) + "_i" + std::to_string(island) + "_c" + std::to_string(child);
        const Program& parent = db.get(rq.parent);
        std::string feedback;
        if (!parent.passed) feedback += "The current program fails. " + failure_detail(subject, parent) + "\n";
        if (!island_note.empty()) feedback += island_note;
        if (feedback.empty()) feedback = "The current program passes every check; make it smaller or faster.";
        std::string inspirations;
        for (int id : rq.inspirations)
          inspirations += render_template("inspiration.txt", templates.inspiration,
                                          {{"id", std::to_string(id)}, {"metrics", metrics_line(subject, db.get(id))},
                                           {"code", db.get(id).code}, {"language", subject.language}});
        if (inspirations.empty()) inspirations = "(none yet)";
        rq.system = render_template(subject.system_template, templates.system, {});
        std::map<std::string, std::string> slots = subject.slots;
        slots.insert({{"language", subject.language},
                      {"parent_id", std::to_string(parent.id)},
                      {"parent_generation", std::to_string(parent.generation)},
                      {"parent_code", parent.code},
                      {"parent_metrics", metrics_line(subject, parent)},
                      {"feedback", feedback},
                      {"inspirations", inspirations}});
        rq.user = render_template(subject.user_template, templates.user, slots);
        write_atomically(out / "prompts" / (rq.tag + ".txt"), "=== system\n" + rq.system + "=== user\n" + rq.user);
        requests.push_back(std::move(rq));
      }
    }
    // The call budget may allow fewer requests than planned.
    if (cfg.use_llm && cfg.max_calls > 0)
      requests.resize(std::min<std::size_t>(requests.size(), static_cast<std::size_t>(cfg.max_calls - static_cast<long long>(stat("calls")))));

    // 2. Proposals.
    std::vector<Proposal> proposals(requests.size());
    if (cfg.use_llm) {
      std::vector<std::vector<ChatMessage>> conversations;
      for (const auto& rq : requests) conversations.push_back({{"system", rq.system}, {"user", rq.user}});
      const auto results = client->chat_many(conversations);
      for (std::size_t i = 0; i < results.size(); ++i) {
        const ChatResult& r = results[i];
        Proposal& p = proposals[i];
        p.ok = r.ok;
        p.reply = r.content;
        p.error = r.error;
        p.error_kind = r.error_kind;
        p.attempts = r.attempts;
        p.seconds = r.seconds;
        p.what = "llm";
        p.tokens = r.prompt_tokens + r.completion_tokens;
        if (p.tokens == 0 && r.ok)  // the server reported no usage: estimate 4 characters per token
          p.tokens = static_cast<long long>((conversations[i][0].content.size() + conversations[i][1].content.size() + r.content.size()) / 4);
        bump("calls", 1);
        bump("tokens", static_cast<double>(p.tokens));
      }
    } else {
      for (std::size_t i = 0; i < requests.size(); ++i) {
        Proposal& p = proposals[i];
        p.reply = subject.mutate(db.get(requests[i].parent).code, requests[i].mutation_seed,
                                 [&](const std::string& code) { return db.find_code(code) >= 0; }, &p.what, &p.op);
        p.ok = true;
        if (p.reply.empty()) p.what = "no new mutation found";
      }
    }

    // 3. Edits, then scoring (in parallel; results go into the database in request order).
    struct Child {
      bool has_code = false;
      std::string code, kind, edit_error;
      int reused = -1;
      json report, stages;
    };
    std::vector<Child> children(requests.size());
    std::vector<std::size_t> to_score;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const Proposal& p = proposals[i];
      write_atomically(out / "responses" / (requests[i].tag + ".txt"),
                 p.ok ? p.reply : "(no reply: " + p.error_kind + ": " + p.error + ")\n");
      if (!p.ok) continue;
      if (!cfg.use_llm && p.reply.empty()) {
        children[i].kind = "mutation";
        children[i].edit_error = "the mutation proposer found no new mutation of program " + std::to_string(requests[i].parent);
        continue;
      }
      const EditResult edit = subject.apply(db.get(requests[i].parent).code, p.reply);
      children[i].kind = edit.kind;
      if (!edit.ok) {
        children[i].edit_error = edit.error;
        continue;
      }
      children[i].has_code = true;
      children[i].code = edit.code;
      children[i].reused = db.find_code(edit.code);
      if (children[i].reused < 0) {
        // The same code twice in one generation is scored once.
        bool twin = false;
        for (std::size_t k : to_score) twin = twin || children[k].code == edit.code;
        if (!twin) to_score.push_back(i);
      }
    }
    {
      std::atomic<std::size_t> next{0};
      std::vector<std::thread> pool;
      std::exception_ptr failure;
      std::mutex failure_mu;
      const int n = std::min<int>(cfg.workers, static_cast<int>(to_score.size()));
      for (int w = 0; w < n; ++w)
        pool.emplace_back([&] {
          for (std::size_t k; (k = next++) < to_score.size();) {
            try {
              auto [report, stages] = score(children[to_score[k]].code);
              children[to_score[k]].report = report;
              children[to_score[k]].stages = stages;
            } catch (...) {
              std::lock_guard<std::mutex> lock(failure_mu);
              if (!failure) failure = std::current_exception();
            }
          }
        });
      for (auto& t : pool) t.join();
      if (failure) std::rethrow_exception(failure);
    }

    // A server that never answered in this run: stop with its URL rather than burn the generations.
    if (cfg.use_llm && stat("llm_ok") == 0 && !proposals.empty() &&
        std::all_of(proposals.begin(), proposals.end(), [](const Proposal& p) { return !p.ok && p.error_kind == "unreachable"; })) {
      rec->note(json{{"generation", gen + 1}, {"event", "llm_error"}, {"error_kind", "unreachable"},
                     {"error", proposals[0].error}});
      finish();
      throw std::runtime_error("cannot reach the LLM at " + cfg.llm.base_url + ": " + proposals[0].error +
                               " (the run is saved; --resume continues it)");
    }

    // 4. Into the database, with feedback for each island's next prompt.
    std::map<int, std::string> notes;
    std::string llm_failure;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const Request& rq = requests[i];
      const Proposal& p = proposals[i];
      Child& c = children[i];
      json ev = {{"generation", gen + 1}, {"island", rq.island}, {"child", rq.child}, {"parent", rq.parent},
                 {"inspirations", rq.inspirations}, {"proposer", cfg.use_llm ? "llm" : "mutation"}, {"tag", rq.tag}};
      if (cfg.use_llm) ev["llm"] = {{"ok", p.ok}, {"attempts", p.attempts}, {"tokens", p.tokens}, {"seconds", p.seconds}};
      else {
        ev["mutation"] = p.what;
        if (!p.op.empty()) ev["operator"] = p.op;
      }
      std::string& note = notes[rq.island];
      if (!p.ok) {
        ev["event"] = "llm_error";
        ev["error"] = p.error;
        ev["error_kind"] = p.error_kind;
        ++consecutive_failures;
        llm_failure = p.error;
      } else {
        if (cfg.use_llm) {
          consecutive_failures = 0;
          bump("llm_ok", 1);
        }
        if (!c.has_code) {
          ev["event"] = "edit_error";
          ev["kind"] = c.kind;
          ev["error"] = c.edit_error.empty() ? p.what : c.edit_error;
          ev["fitness"] = kNoCandidatePenalty;
          ++summary.edit_errors;
          bump("edit_errors", 1);
          note += "Your previous reply (on program " + std::to_string(rq.parent) +
                  ") could not be applied, nothing was evaluated (fitness " + fixed(kNoCandidatePenalty, 1) +
                  "): " + ev["error"].get<std::string>() + "\n";
        } else {
          if (c.reused < 0 && c.report.is_null())  // a twin scored earlier in this generation
            for (std::size_t k = 0; k < i; ++k)
              if (children[k].has_code && children[k].code == c.code && !children[k].report.is_null()) c.report = children[k].report;
          const bool reused = c.reused >= 0;
          const json report = reused ? db.get(c.reused).report : c.report;
          const int id = db.add(make_program(c.code, report, rq.parent, gen + 1, rq.island, cfg.use_llm ? "llm" : "mutation"));
          const Program& prog = db.get(id);
          write_atomically(candidate_file(id), c.code);
          ++summary.candidates;
          bump("candidates", 1);
          ev["event"] = "candidate";
          ev["kind"] = c.kind;
          ev["program"] = id;
          if (reused) ev["same_code_as"] = c.reused;
          ev["verdict"] = report["verdict"];
          ev["stage"] = report["stage"];
          ev["category"] = report["category"];
          ev["message"] = report["message"];
          ev["fitness"] = prog.fitness;
          if (prog.passed) ev["cell"] = {db.cell_of(prog).first, db.cell_of(prog).second};
          // An accepted improvement: a new child that passes and beats its parent, by operator
          // (summed across sessions in the checkpoint's stats).
          if (!reused && prog.passed && prog.fitness > db.get(rq.parent).fitness) {
            json& by_op = db.stats["improvements_by_operator"];
            if (!by_op.is_object()) by_op = json::object();
            const std::string key = cfg.use_llm ? "llm" : p.op.empty() ? "mutation" : p.op;
            by_op[key] = by_op.value(key, 0) + 1;
            ev["improvement"] = true;
          }
          ev["area"] = prog.area;
          ev["latency"] = prog.latency;
          ev["stages"] = c.stages.is_null() ? json::object() : c.stages;
          note += "Your previous candidate (program " + std::to_string(id) + ", from program " + std::to_string(rq.parent) +
                  ") " + (prog.passed ? metrics_line(subject, prog) + " (parent fitness " + fixed(db.get(rq.parent).fitness, 4) + ")"
                                      : metrics_line(subject, prog) + failure_extra(prog)) +
                  "\n";
        }
      }
      if (ev["event"] == "candidate") {
        const Program& prog = db.get(ev["program"].get<int>());
        record_program(ev, prog, c.stages, c.reused >= 0);
      } else {
        rec->note(ev);
      }
      if (log) {
        std::string line = ev["event"] == "candidate"
                               ? "program " + ev["program"].dump() + " " + metrics_line(subject, db.get(ev["program"].get<int>()))
                               : ev["event"].get<std::string>() + ": " + ev["error"].get<std::string>();
        std::replace(line.begin(), line.end(), '\n', ' ');
        *log << "generation " << gen + 1 << " island " << rq.island << ": " << line.substr(0, 200) << "\n";
      }
    }
    for (const auto& [island, note] : notes)
      if (!note.empty()) db.island_feedback[island] = note;
    if (db.config().migration_interval > 0 && (gen + 1) % db.config().migration_interval == 0)
      for (int id : db.migrate(gen + 1)) {
        write_atomically(candidate_file(id), db.get(id).code);
        rec->note(json{{"generation", gen + 1}, {"event", "migration"}, {"program", id},
                       {"from", db.get(id).parent_id}, {"island", db.get(id).island}});
      }
    db.stats["next_generation"] = gen + 1;
    finish();
    if (cfg.use_llm && consecutive_failures >= cfg.max_llm_failures)
      throw std::runtime_error("the LLM at " + cfg.llm.base_url + " failed " + std::to_string(consecutive_failures) +
                               " times in a row (last: " + llm_failure + "); the run is saved, --resume continues it");
  }
  finish();
  summary.generations_done = static_cast<int>(stat("next_generation"));
  summary.best_id = db.best();
  summary.best_fitness = db.get(summary.best_id).fitness;
  summary.best_verification = db.get(summary.best_id).verification;
  summary.reverify_failures = static_cast<int>(stat("reverify_failures"));
  summary.improvements_by_operator = db.stats.value("improvements_by_operator", json::object());
  summary.seconds = elapsed();
  rec->note(json{{"event", "stop"}, {"reason", summary.stop_reason}, {"summary", summary.to_json()}});
  db.stats["events"] = static_cast<double>(rec->events_written());  // the stop is kept on resume
  db.save(db_path);
  rec->finish([&](const json&) { return db.get(summary.best_id).report; });
  rec->write_summary(summary.to_json(), summary.generations_done >= cfg.generations);
  summary.notices = rec->notices();
  return summary;
}

json replay_evolve(const fs::path& run, std::shared_ptr<evaluators::Pipeline> pipeline) {
  if (is_old_evolve_run(run)) throw ParamError("cannot replay: " + old_layout_message(run));
  const fs::path config_path = run / "config.json", best_path = run / "best" / "design.json";
  for (const auto& p : {config_path, best_path})
    if (!fs::exists(p)) throw ParamError("not an evolve run directory: " + p.string() + " is missing");
  json config, best;
  try {
    config = json::parse(read_text(config_path));
    best = json::parse(read_text(best_path));
  } catch (const json::exception& e) {
    throw ParamError("unreadable evolve run " + run.string() + ": " + e.what());
  }
  if (config.value("kind", "") != "evolve")
    throw ParamError("not an evolve run directory: " + config_path.string() + " has no kind \"evolve\"");
  EvolveConfig cfg;
  try {
    cfg.task = config.at("task").get<std::string>();
    cfg.db.seed = config.at("db").at("seed").get<std::uint64_t>();
    adopt_recorded_settings(config, cfg);
  } catch (const json::exception& e) {
    throw ParamError("unreadable evolve run configuration " + config_path.string() + ": " + e.what());
  }
  cfg.pipeline = std::move(pipeline);
  const Subject subject = make_subject(cfg);
  const fs::path code_path = run / "best" / best_code_name(subject);
  if (!fs::exists(code_path)) throw ParamError("not an evolve run directory: " + code_path.string() + " is missing");
  json now = subject.score(read_text(code_path), true).first;
  const json& recorded = best.at("report");
  json differences = json::array();
  for (auto it = recorded.begin(); it != recorded.end(); ++it)
    if (!now.contains(it.key()) || now[it.key()] != it.value()) differences.push_back(it.key());
  for (auto it = now.begin(); it != now.end(); ++it)
    if (!recorded.contains(it.key())) differences.push_back(it.key());
  return {{"task", cfg.task}, {"subject", subject.kind}, {"program", best.at("id")}, {"code", code_path.string()},
          {"recorded", recorded}, {"fresh", now}, {"fitness", subject.figures(now).fitness},
          {"recorded_fitness", best.at("fitness")}, {"differences", differences}};
}

bool is_old_evolve_run(const fs::path& run) {
  std::error_code ec;
  return fs::exists(run / "db.json", ec) && fs::exists(run / "config.json", ec) &&
         !fs::exists(run / "checkpoints" / "db.json", ec);
}

std::vector<std::string> convert_evolve_run(const fs::path& run) {
  if (!is_old_evolve_run(run))
    throw ParamError(run.string() + " is not an evolve run of the older layout (it has no db.json at its top)");
  json config, record;
  try {
    config = json::parse(read_text(run / "config.json"));
    record = json::parse(read_text(run / "best.json"));
  } catch (const std::exception& e) {
    throw ParamError("cannot convert " + run.string() + ": " + e.what());
  }
  const bool params = fs::exists(run / "best_params.json");
  const fs::path code = run / (params ? "best_params.json" : "best.v");
  if (!fs::exists(code)) throw ParamError("cannot convert " + run.string() + ": " + code.string() + " is missing");
  std::vector<std::string> moved;
  fs::create_directories(run / "checkpoints");
  fs::create_directories(run / "best");
  auto move = [&](const fs::path& from, const fs::path& to) {
    fs::rename(from, to);
    moved.push_back(fs::relative(from, run).string() + " -> " + fs::relative(to, run).string());
  };
  write_atomically(run / "best" / "metrics.json", record.value("report", json::object()).dump(2) + "\n");
  write_atomically(run / "best" / "report.md", "# Best program of an evolve run\n\nConverted from the older layout.\n");
  move(code, run / "best" / (params ? "program.json" : "program.v"));
  move(run / "best.json", run / "best" / "design.json");
  config["kind"] = "evolve";
  write_atomically(run / "config.json", config.dump(2) + "\n");
  moved.push_back("config.json: kind \"evolve\"");
  move(run / "db.json", run / "checkpoints" / "db.json");  // last: until it moves, the run reads as old
  return moved;
}

}  // namespace chipgym::runs
