#include "kernels/evolve.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "env/kernel_task.h"
#include "hdl/param_space.h"
#include "kernels/diff.h"

#ifndef CHIPGYM_PROMPTS_DIR
#define CHIPGYM_PROMPTS_DIR "prompts"
#endif

namespace chipgym::kernels {

namespace fs = std::filesystem;
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

void write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

void append_line(const fs::path& path, const std::string& line) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << line << "\n";
  if (!out) throw std::runtime_error("cannot append to " + path.string());
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// One line a person or a model reads about a scored kernel.
std::string kernel_line(const json& report, double fitness, double latency) {
  if (report.value("verdict", "") == "pass") {
    const json& sim = report.at("simulation");
    const json& syn = report.at("synthesis");
    return "PASS: " + std::to_string(syn.at("transistors").get<long long>()) + " transistors (" +
           std::to_string(syn.at("cells").get<long long>()) + " cells), latency " +
           std::to_string(static_cast<long long>(latency)) + " cycles, throughput " +
           fixed(sim.value("throughput", 0.0), 3) + " elements/cycle, fitness " + fixed(fitness, 4);
  }
  return failure_line(report, fitness);
}

// The evaluator's detail on a failed program: lint warnings, the first mismatches.
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
  long long tokens = 0;
  int attempts = 0;
  double seconds = 0;
};

std::string kernel_objective_text() {
  return "Maximize fitness = 1000 * throughput / transistors (throughput in output elements per cycle, "
         "transistors from Yosys' CMOS estimate). Only a kernel that is bit-exact against the golden model on "
         "edge cases and random vectors, also under back-pressure, scores above zero; failures score -1 "
         "(synthesis) to -5 (no usable reply).";
}

}  // namespace

std::string failure_line(const json& report, double fitness) {
  return "FAIL at " + report.value("stage", std::string("?")) + " (" + report.value("category", std::string("?")) +
         "), fitness " + fixed(fitness, 1) + ": " + report.value("message", std::string());
}

Subject kernel_subject(const std::string& task_name, std::uint64_t seed, int random_vectors, double sim_timeout,
                       int verify_random_vectors) {
  const KernelTask& task = find_kernel_task(task_name);
  ScoreOptions so;
  so.seed = seed;
  so.random_vectors = random_vectors;
  so.eval.sim_timeout = sim_timeout;
  auto golden = std::make_shared<const GoldenSet>(task_golden(task, so.seed, so.random_vectors));
  // The best's second opinion: vectors the run never selected for (another hidden seed, also
  // another back-pressure pattern), many more of them.
  ScoreOptions vo = so;
  vo.seed = seed + kVerifySeedOffset;
  vo.random_vectors = verify_random_vectors;
  auto verify_golden = std::make_shared<const GoldenSet>(task_golden(task, vo.seed, vo.random_vectors));
  Subject s;
  s.kind = "kernel";
  s.language = "verilog";
  s.extension = "v";
  s.seed_code = task.canonical_verilog;
  s.slots = {{"task_name", task.name},
             {"task_description", task.description},
             {"module", task.iface.module},
             {"interface", task.iface.to_json()["ports"].dump()},
             {"vector_length", std::to_string(task.iface.vector_length)},
             {"objective", kernel_objective_text()}};
  s.settings = {{"seed", seed}, {"random_vectors", random_vectors}, {"sim_timeout", sim_timeout},
                {"vectors", golden->inputs.size()}, {"verify_random_vectors", verify_random_vectors},
                {"verify_vectors", verify_golden->inputs.size()}};
  auto scorer = [name = task.name](std::shared_ptr<const GoldenSet> set, ScoreOptions options) {
    return [set, options, name](const std::string& code) {
      json j = score_candidate(code, *set, options, name).to_json();
      json stages = j.contains("stages") ? j["stages"] : json::object();
      j.erase("stages");
      return std::pair{j, stages};
    };
  };
  s.score = [run = scorer(golden, so)](const std::string& code, bool) { return run(code); };
  s.verify = scorer(verify_golden, vo);
  s.figures = [](const json& report) {
    Figures f;
    f.passed = report.value("verdict", "") == "pass";
    f.fitness = fitness_of(report);
    if (f.passed) {
      f.area = report["synthesis"]["transistors"].get<double>();
      f.latency = report["simulation"].value("latency_cycles", 0.0);
    }
    f.line = kernel_line(report, f.fitness, f.latency);
    return f;
  };
  s.apply = [](const std::string& parent, const std::string& reply) { return apply_reply(parent, reply); };
  s.mutate = [](const std::string& code, std::uint64_t seed_, const std::function<bool(const std::string&)>& avoid,
                std::string* what) { return mutation_reply(code, seed_, avoid, what); };
  return s;
}

fs::path default_prompts_dir() {
  if (const char* env = std::getenv("CHIPGYM_PROMPTS"); env && *env) return env;
  return CHIPGYM_PROMPTS_DIR;
}

std::string render_template(const std::string& name, const std::string& text,
                            const std::map<std::string, std::string>& slots) {
  std::string out;
  std::size_t at = 0;
  while (true) {
    const auto open = text.find("{{", at);
    if (open == std::string::npos) break;
    const auto close = text.find("}}", open + 2);
    if (close == std::string::npos) throw ParamError("template " + name + ": '{{' without '}}'");
    const std::string slot = trim(text.substr(open + 2, close - open - 2));
    auto it = slots.find(slot);
    if (it == slots.end()) throw ParamError("template " + name + " uses the slot {{" + slot + "}}, which has no value");
    out += text.substr(at, open - at) + it->second;
    at = close + 2;
  }
  return out + text.substr(at);
}

json EvolveConfig::to_json() const {
  json j = {{"task", task},
            {"generations", generations},
            {"children", children},
            {"db", db.to_json()},
            {"proposer", use_llm ? "llm" : "mutation"},
            {"max_calls", max_calls},
            {"max_tokens", max_tokens},
            {"max_seconds", max_seconds},
            {"workers", workers},
            {"random_vectors", random_vectors},
            {"verify_random_vectors", verify_random_vectors},
            {"sim_timeout", sim_timeout}};
  if (!module.empty()) j["module"] = module;
  if (!fixed.empty()) j["fixed"] = fixed;
  if (!task_spec.is_null()) j["task_spec"] = task_spec;
  if (use_llm)
    j["llm"] = {{"base_url", llm.base_url}, {"model", llm.model}, {"api_key_env", llm.api_key_env},
                {"temperature", llm.temperature}, {"max_tokens", llm.max_tokens}, {"timeout", llm.timeout_seconds},
                {"max_retries", llm.max_retries}, {"max_in_flight", llm.max_in_flight}};
  return j;
}

json EvolveSummary::to_json() const {
  return {{"generations_done", generations_done}, {"subject", subject}, {"best_file", best_file},
          {"candidates", candidates}, {"edit_errors", edit_errors},
          {"best_id", best_id}, {"best_fitness", best_fitness}, {"seed_fitness", seed_fitness},
          {"stop_reason", stop_reason}, {"seconds", seconds}, {"reverify_failures", reverify_failures},
          {"best_verification", best_verification}};
}

// --- the offline mutation proposer ---------------------------------------------------------

std::string mutation_reply(const std::string& code, std::uint64_t seed,
                           const std::function<bool(const std::string&)>& avoid, std::string* what) {
  const auto lines = split_lines(code);
  // The body: after the header's closing ");" up to endmodule (the ports stay as they are).
  std::size_t body = 0;
  bool in_module = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (t.rfind("module", 0) == 0) in_module = true;
    if (in_module && t.rfind(");", 0) == 0) {
      body = i + 1;
      break;
    }
  }
  std::vector<std::size_t> eligible;
  for (std::size_t i = body; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (t.empty() || t.rfind("//", 0) == 0 || t == "endmodule" || t == "end" || t == "begin") continue;
    if (std::count(lines.begin(), lines.end(), lines[i]) != 1) continue;  // SEARCH must match once
    eligible.push_back(i);
  }
  if (eligible.empty()) return "";

  static const std::regex literal(R"((\d+)'([bdh])([0-9a-fA-F_]+))");
  static const std::regex bit_select(R"(\[(\d+)\])");
  static const std::regex range(R"(\[(\d+):(\d+)\])");
  static const std::regex operand_pair(R"(([A-Za-z_]\w*(?:\[[^\]]*\])?)\s*(&&|\|\|)\s*([A-Za-z_]\w*(?:\[[^\]]*\])?))");
  static const std::regex ternary(R"(\?\s*([^:;?]+?)\s*:\s*([^;]+?)\s*;)");

  std::uint64_t state = seed;
  for (int attempt = 0; attempt < 48; ++attempt) {
    const std::size_t li = eligible[splitmix64(state) % eligible.size()];
    const std::string& line = lines[li];
    // Mutate only the code part of the line, never its comment.
    const auto comment = line.find("//");
    const std::string head = line.substr(0, comment), tail = comment == std::string::npos ? "" : line.substr(comment);
    std::vector<std::pair<std::string, std::string>> variants;  // new line, what changed
    auto add = [&](std::size_t pos, std::size_t len, const std::string& by, const std::string& why) {
      variants.push_back({head.substr(0, pos) + by + head.substr(pos + len) + tail, why});
    };
    for (std::sregex_iterator it(head.begin(), head.end(), literal), end; it != end; ++it) {
      const std::string size = (*it)[1];
      for (const char* v : {"0", "1"})
        if ((*it).str() != size + "'d" + v && (*it).str() != size + "'b" + v)
          add(static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->length()), size + "'d" + v,
              "constant " + it->str() + " -> " + size + "'d" + v);
    }
    for (std::sregex_iterator it(head.begin(), head.end(), bit_select), end; it != end; ++it) {
      const int index = std::stoi((*it)[1]);
      for (int by : {index - 1, index + 1})
        if (by >= 0)
          add(static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->length()), "[" + std::to_string(by) + "]",
              "bit select " + it->str() + " -> [" + std::to_string(by) + "]");
    }
    for (std::sregex_iterator it(head.begin(), head.end(), range), end; it != end; ++it) {
      const int hi = std::stoi((*it)[1]);
      if (hi > 0)
        add(static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->length()),
            "[" + std::to_string(hi - 1) + ":" + (*it)[2].str() + "]", "range " + it->str() + " narrowed");
    }
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"&&", "||"}, {"||", "&&"}, {"==", "!="}, {"!=", "=="}, {" & ", " | "}, {" | ", " & "}, {" + ", " - "}, {" - ", " + "}})
      for (auto at = head.find(from); at != std::string::npos; at = head.find(from, at + 1))
        add(at, from.size(), to, "operator " + trim(from) + " -> " + trim(to));
    for (std::size_t at = 0; at < head.size(); ++at)
      if (head[at] == '!' && (at + 1 >= head.size() || head[at + 1] != '=')) add(at, 1, "", "negation dropped");
    for (std::sregex_iterator it(head.begin(), head.end(), operand_pair), end; it != end; ++it) {
      add(static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->length()), (*it)[1],
          "operand " + (*it)[3].str() + " dropped");
      add(static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->length()), (*it)[3],
          "operand " + (*it)[1].str() + " dropped");
    }
    for (std::sregex_iterator it(head.begin(), head.end(), ternary), end; it != end; ++it)
      add(static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->length()),
          "? " + (*it)[2].str() + " : " + (*it)[1].str() + ";", "branches of ?: swapped");
    if (!trim(head).empty() && trim(head).back() == ';') variants.push_back({"", "line deleted"});
    if (variants.empty()) continue;
    const auto& [new_line, why] = variants[splitmix64(state) % variants.size()];
    std::string next;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i == li) {
        if (!new_line.empty()) next += new_line + "\n";
      } else {
        next += lines[i] + "\n";
      }
    }
    if (next == code || (avoid && avoid(next))) continue;
    if (what) *what = why + " (line " + std::to_string(li + 1) + ")";
    return "<<<<<<< SEARCH\n" + line + "\n=======\n" + (new_line.empty() ? "" : new_line + "\n") + ">>>>>>> REPLACE\n";
  }
  return "";
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
  if (cfg.task_spec.is_null() && is_kernel_task(cfg.task)) {
    if (!cfg.module.empty() || !cfg.fixed.empty())
      throw ParamError(cfg.task + " is a kernel task: --module and --set apply to parametric design tasks only");
    return kernel_subject(cfg.task, cfg.db.seed, cfg.random_vectors, cfg.sim_timeout, cfg.verify_random_vectors);
  }
  if (!cfg.design_subject) find_kernel_task(cfg.task);  // throws, listing the kernel tasks
  return cfg.design_subject(cfg);
}

// The best program's code beside best.json (its record): best.v, or best_params.json.
std::string best_code_name(const Subject& subject) {
  return subject.extension == "json" ? "best_params.json" : "best." + subject.extension;
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
  const fs::path out = cfg.out, db_path = out / "db.json", events = out / "events.jsonl";

  ProgramDb db(cfg.db);
  if (cfg.resume) {
    if (!fs::exists(db_path)) throw ParamError("nothing to resume: " + db_path.string() + " does not exist");
    db = ProgramDb::load(db_path);
    const json stored = json::parse(read_text(out / "config.json"));
    if (stored.value("task", "") != cfg.task)
      throw ParamError("the run in " + out.string() + " is for task " + stored.value("task", std::string("?")) +
                       ", not " + cfg.task);
    // The run's own settings, whatever was passed this time: programs stay comparable.
    cfg.db = db.config();
    cfg.random_vectors = stored.value("random_vectors", cfg.random_vectors);
    cfg.verify_random_vectors = stored.value("verify_random_vectors", cfg.verify_random_vectors);
    cfg.sim_timeout = stored.value("sim_timeout", cfg.sim_timeout);
    cfg.module = stored.value("module", std::string());
    cfg.fixed = stored.value("fixed", json::object());
    cfg.task_spec = stored.value("task_spec", json());
  } else if (fs::exists(out) && !fs::is_empty(out)) {
    throw ParamError("run directory " + out.string() + " exists; pass --resume to continue it or choose another --out");
  }
  const Subject subject = make_subject(cfg);
  const Templates templates = load_templates(prompts_dir, subject);
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
      append_line(events, json{{"event", "reverify"}, {"program", best}, {"passed", f.passed},
                               {"verification", verification}, {"stages", stages}}.dump());
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
  auto write_best = [&] {
    const int best = verified_best();
    if (best < 0) return;
    write_text(out / best_code_name(subject), db.get(best).code);
    json b = db.get(best).to_json();
    b.erase("code");
    write_text(out / "best.json", b.dump(2) + "\n");
  };

  EvolveSummary summary;
  if (!cfg.resume) {
    for (const char* sub : {"prompts", "responses", "candidates", "templates"}) fs::create_directories(out / sub);
    json config = cfg.to_json();
    config["subject"] = subject.kind;
    config["settings"] = subject.settings;
    write_text(out / "config.json", config.dump(2) + "\n");
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
      write_text(candidate_file(id), subject.seed_code);
      append_line(events, json{{"generation", 0}, {"island", island}, {"event", "seed"}, {"program", id},
                               {"verdict", report["verdict"]}, {"fitness", db.get(id).fitness}, {"stages", stages}}
                              .dump());
    }
    if (!db.get(0).passed && log) *log << "warning: the seed program fails: " << metrics_line(subject, db.get(0)) << "\n";
    db.stats["next_generation"] = 0;
    db.save(db_path);
    write_best();
  }
  summary.seed_fitness = db.get(0).fitness;
  summary.subject = subject.kind;
  summary.best_file = (out / best_code_name(subject)).string();
  bump("sessions", 1);
  append_line(events, json{{"event", "session"}, {"session", stat("sessions")}, {"resume", cfg.resume},
                           {"proposer", cfg.use_llm ? "llm" : "mutation"}, {"generations", cfg.generations}}
                          .dump());
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
  auto finish = [&] {
    db.stats["seconds"] = seconds_before + elapsed();
    db.save(db_path);
    write_best();
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
        write_text(out / "prompts" / (rq.tag + ".txt"), "=== system\n" + rq.system + "=== user\n" + rq.user);
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
                                 [&](const std::string& code) { return db.find_code(code) >= 0; }, &p.what);
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
      write_text(out / "responses" / (requests[i].tag + ".txt"),
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
      append_line(events, json{{"generation", gen + 1}, {"event", "llm_error"}, {"error_kind", "unreachable"},
                               {"error", proposals[0].error}}.dump());
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
      else ev["mutation"] = p.what;
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
          write_text(candidate_file(id), c.code);
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
          ev["area"] = prog.area;
          ev["latency"] = prog.latency;
          ev["stages"] = c.stages.is_null() ? json::object() : c.stages;
          note += "Your previous candidate (program " + std::to_string(id) + ", from program " + std::to_string(rq.parent) +
                  ") " + (prog.passed ? metrics_line(subject, prog) + " (parent fitness " + fixed(db.get(rq.parent).fitness, 4) + ")"
                                      : metrics_line(subject, prog) + failure_extra(prog)) +
                  "\n";
        }
      }
      append_line(events, ev.dump());
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
        write_text(candidate_file(id), db.get(id).code);
        append_line(events, json{{"generation", gen + 1}, {"event", "migration"}, {"program", id},
                                 {"from", db.get(id).parent_id}, {"island", db.get(id).island}}
                                .dump());
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
  summary.seconds = elapsed();
  append_line(events, json{{"event", "stop"}, {"reason", summary.stop_reason}, {"summary", summary.to_json()}}.dump());
  return summary;
}

json replay_evolve(const fs::path& run, const std::function<Subject(const EvolveConfig&)>& design_subject) {
  const fs::path config_path = run / "config.json", best_path = run / "best.json";
  for (const auto& p : {config_path, best_path})
    if (!fs::exists(p)) throw ParamError("not an evolve run directory: " + p.string() + " is missing");
  json config, best;
  try {
    config = json::parse(read_text(config_path));
    best = json::parse(read_text(best_path));
  } catch (const json::exception& e) {
    throw ParamError("unreadable evolve run " + run.string() + ": " + e.what());
  }
  EvolveConfig cfg;
  try {
    cfg.task = config.at("task").get<std::string>();
    cfg.db.seed = config.at("db").at("seed").get<std::uint64_t>();
    cfg.random_vectors = config.value("random_vectors", cfg.random_vectors);
    cfg.verify_random_vectors = config.value("verify_random_vectors", cfg.verify_random_vectors);
    cfg.sim_timeout = config.value("sim_timeout", cfg.sim_timeout);
    cfg.module = config.value("module", std::string());
    cfg.fixed = config.value("fixed", json::object());
    cfg.task_spec = config.value("task_spec", json());
  } catch (const json::exception& e) {
    throw ParamError("unreadable evolve run configuration " + config_path.string() + ": " + e.what());
  }
  cfg.design_subject = design_subject;
  const Subject subject = make_subject(cfg);
  const fs::path code_path = run / best_code_name(subject);
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

}  // namespace chipgym::kernels
