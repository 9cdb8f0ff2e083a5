#include "kernels/score.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <regex>
#include <set>
#include <sstream>

#include "evaluators/pipeline.h"
#include "evaluators/runner.h"
#include "evaluators/sandbox.h"
#include "evaluators/screen.h"
#include "evaluators/sha256.h"
#include "evaluators/tools.h"
#include "hdl/param_space.h"
#include "kernels/salt.h"

namespace chipgym::kernels {

namespace fs = std::filesystem;
using evaluators::RunRequest;
using evaluators::RunResult;
using evaluators::RunStatus;
using evaluators::TempDir;
using hdl::ParamError;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

using evaluators::read_file;
using evaluators::write_file;

long long sign_extend(unsigned long long v, int bits, bool is_signed) {
  v &= bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
  if (!is_signed || bits >= 64) return static_cast<long long>(v);
  const unsigned long long m = 1ULL << (bits - 1);
  return static_cast<long long>((v ^ m) - m);
}

json vec_json(const Vector& v) { return json(v); }

// --- module header parsing -------------------------------------------------------------

// Constant expressions in a range: integers, parameters, + - * / and parentheses.
struct ExprParser {
  const std::string& s;
  const std::map<std::string, long long>& params;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  long long primary() {
    ws();
    if (i < s.size() && s[i] == '(') {
      ++i;
      long long v = sum();
      ws();
      if (i >= s.size() || s[i] != ')') throw ParamError("')' expected");
      ++i;
      return v;
    }
    if (i < s.size() && s[i] == '-') {
      ++i;
      return -primary();
    }
    std::size_t k = i;
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      while (k < s.size() && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
      std::string digits = s.substr(i, k - i);
      digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
      i = k;
      return std::stoll(digits);
    }
    while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
    std::string name = s.substr(i, k - i);
    auto it = params.find(name);
    if (name.empty() || it == params.end()) throw ParamError("cannot evaluate '" + s.substr(i) + "'");
    i = k;
    return it->second;
  }
  long long product() {
    long long v = primary();
    for (ws(); i < s.size() && (s[i] == '*' || s[i] == '/'); ws()) {
      const char op = s[i++];
      const long long r = primary();
      if (op == '/' && r == 0) throw ParamError("division by zero");
      v = op == '*' ? v * r : v / r;
    }
    return v;
  }
  long long sum() {
    long long v = product();
    for (ws(); i < s.size() && (s[i] == '+' || s[i] == '-'); ws()) {
      const char op = s[i++];
      const long long r = product();
      v = op == '+' ? v + r : v - r;
    }
    return v;
  }
  long long all() {
    long long v = sum();
    ws();
    if (i != s.size()) throw ParamError("cannot evaluate '" + s + "'");
    return v;
  }
};

long long eval_expr(const std::string& text, const std::map<std::string, long long>& params) {
  ExprParser p{text, params};
  return p.all();
}

// The text inside the balanced parenthesis that opens at code[open]; `end` is set past it.
std::string balanced(const std::string& code, std::size_t open, std::size_t& end) {
  int depth = 0;
  for (std::size_t k = open; k < code.size(); ++k) {
    if (code[k] == '(') ++depth;
    else if (code[k] == ')' && --depth == 0) {
      end = k + 1;
      return code.substr(open + 1, k - open - 1);
    }
  }
  throw ParamError("unbalanced parentheses in the module header");
}

std::vector<std::string> split_top_level(const std::string& s) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (cur.find_first_not_of(" \t\r\n") != std::string::npos) parts.push_back(cur);
  return parts;
}

}  // namespace

std::map<std::string, int> parse_module_ports(const std::string& code, const std::string& module) {
  static const std::regex module_re(R"(\b(module|macromodule)\s+([A-Za-z_][A-Za-z0-9_]*))");
  std::size_t at = std::string::npos;
  std::string found;
  for (std::sregex_iterator it(code.begin(), code.end(), module_re), end; it != end; ++it) {
    if ((*it)[2] == module) at = it->position(0) + it->length(0);
    found += (found.empty() ? "" : ", ") + (*it)[2].str();
  }
  if (at == std::string::npos)
    throw ParamError("no module '" + module + "' in the candidate" +
                     (found.empty() ? std::string(" (it defines no module)") : " (it defines: " + found + ")"));
  auto skip_ws = [&] {
    while (at < code.size() && std::isspace(static_cast<unsigned char>(code[at]))) ++at;
  };
  std::map<std::string, long long> params;
  skip_ws();
  if (at < code.size() && code[at] == '#') {
    ++at;
    skip_ws();
    if (at >= code.size() || code[at] != '(') throw ParamError("module " + module + ": '(' expected after '#'");
    std::string list = balanced(code, at, at);
    static const std::regex param_re(
        R"(^\s*(?:parameter\s+)?(?:(?:integer|int|logic|signed|unsigned|\[[^\]]*\])\s*)*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$)");
    for (const auto& entry : split_top_level(list)) {
      std::smatch m;
      if (!std::regex_match(entry, m, param_re)) continue;
      try {
        params[m[1]] = eval_expr(m[2], params);
      } catch (const std::exception&) {
        // a parameter that is not a plain number cannot size a port we check
      }
    }
    skip_ws();
  }
  if (at >= code.size() || code[at] != '(') throw ParamError("module " + module + " has no port list");
  const std::string list = balanced(code, at, at);
  static const std::regex port_re(
      R"(^\s*(input|output|inout)?\s*((?:(?:wire|reg|logic|var|signed|unsigned)\s+)*)(\[[^\]]*\])?\s*(?:(?:signed|unsigned)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$)");
  std::map<std::string, int> ports;
  std::string dir;
  int width = 1;
  for (const auto& entry : split_top_level(list)) {
    std::smatch m;
    if (!std::regex_match(entry, m, port_re))
      throw ParamError("module " + module + ": cannot read the port declaration '" +
                       std::regex_replace(entry, std::regex(R"(\s+)"), " ") +
                       "'; declare ports ANSI-style: input wire [7:0] name");
    if (m[1].matched) {
      dir = m[1];
      width = 1;
      if (m[3].matched) {
        const std::string range = m[3].str().substr(1, m[3].length() - 2);
        const auto colon = range.find(':');
        if (colon == std::string::npos) throw ParamError("module " + module + ": range " + m[3].str() + " has no ':'");
        try {
          width = static_cast<int>(std::llabs(eval_expr(range.substr(0, colon), params) -
                                              eval_expr(range.substr(colon + 1), params)) + 1);
        } catch (const ParamError& e) {
          throw ParamError("module " + module + ": the width of port '" + m[4].str() + "' (" + m[3].str() +
                           ") is not a constant: " + e.what());
        }
      }
    } else if (dir.empty()) {
      throw ParamError("module " + module +
                       " uses a non-ANSI port list; declare directions and widths in the header: input wire [7:0] name");
    } else if (m[3].matched || !m[2].str().empty()) {
      throw ParamError("module " + module + ": port '" + m[4].str() + "' needs its own direction");
    }
    if (dir == "inout") throw ParamError("module " + module + ": port '" + m[4].str() + "' is inout; stream ports are input or output");
    ports[m[4]] = dir == "input" ? width : -width;
  }
  return ports;
}

std::uint64_t hidden_seed(std::uint64_t user_seed) {
  // Per installation unless $CHIPGYM_SCORE_SALT is set (kernels/salt.h): the source alone
  // does not give the vectors.
  const std::string hex = evaluators::sha256_hex(score_salt() + ":" + std::to_string(user_seed));
  return std::stoull(hex.substr(0, 16), nullptr, 16);
}

GoldenSet task_golden(const KernelTask& task, std::uint64_t user_seed, int random) {
  GoldenSet g;
  g.iface = task.iface;
  const auto edges = task.edge_cases();
  for (std::size_t i = 0; i < edges.size(); ++i) {
    g.inputs.push_back(edges[i]);
    g.origin.push_back("edge " + std::to_string(i));
  }
  // Then the vectors that do not depend on luck: every value of a small elementwise domain,
  // the reductions' thresholds (env/coverage.h); the same whatever the seed and --random.
  const auto coverage = task.coverage_vectors();
  for (std::size_t i = 0; i < coverage.size(); ++i) {
    g.inputs.push_back(coverage[i].in);
    g.origin.push_back(coverage[i].why.rfind("sweep", 0) == 0
                           ? "sweep " + std::to_string(i)
                           : "directed " + std::to_string(i) + " (" + coverage[i].why + ")");
  }
  const auto randoms = task.random_vectors(hidden_seed(user_seed), random);
  for (std::size_t i = 0; i < randoms.size(); ++i) {
    g.inputs.push_back(randoms[i]);
    g.origin.push_back("random " + std::to_string(i));
  }
  for (const auto& in : g.inputs) g.outputs.push_back(task.expected(in));
  return g;
}

GoldenSet golden_from_json(const json& j) {
  if (!j.is_object() || !j.contains("interface") || !j.contains("cases"))
    throw ParamError("golden vectors JSON needs \"interface\" and \"cases\" (see docs/stream.md)");
  GoldenSet g;
  g.iface = StreamInterface::from_json(j["interface"]);
  if (!j["cases"].is_array() || j["cases"].empty()) throw ParamError("golden vectors: \"cases\" must be a non-empty array");
  auto range = [](int bits, bool is_signed) {
    return is_signed ? std::make_pair(-(1LL << (bits - 1)), (1LL << (bits - 1)) - 1) : std::make_pair(0LL, (1LL << bits) - 1);
  };
  const auto in_range = range(g.iface.in_bits(), g.iface.is_signed);
  const auto out_range = range(g.iface.out_bits(), g.iface.is_signed);
  for (std::size_t i = 0; i < j["cases"].size(); ++i) {
    const json& c = j["cases"][i];
    const std::string where = "golden vectors: case " + std::to_string(i);
    Vector in, out;
    try {
      in = c.at("in").get<Vector>();
      out = c.at("out").get<Vector>();
    } catch (const json::exception& e) {
      throw ParamError(where + " needs \"in\" and \"out\" arrays of integers (" + e.what() + ")");
    }
    if (in.empty()) throw ParamError(where + " has an empty input vector");
    if (in.size() != out.size())
      throw ParamError(where + " has " + std::to_string(in.size()) + " inputs but " + std::to_string(out.size()) +
                       " outputs; a stream kernel gives one output per input");
    for (auto x : in)
      if (x < in_range.first || x > in_range.second)
        throw ParamError(where + ": input " + std::to_string(x) + " does not fit in_data (" + std::to_string(in_range.first) +
                         ".." + std::to_string(in_range.second) + ")");
    for (auto x : out)
      if (x < out_range.first || x > out_range.second)
        throw ParamError(where + ": output " + std::to_string(x) + " does not fit out_data (" +
                         std::to_string(out_range.first) + ".." + std::to_string(out_range.second) + ")");
    g.inputs.push_back(in);
    g.outputs.push_back(out);
    g.origin.push_back("case " + std::to_string(i));
  }
  return g;
}

json ScoreReport::to_json() const {
  json j = result;
  j["verdict"] = verdict;
  j["stage"] = stage;
  j["category"] = category;
  j["message"] = message;
  j["stages"] = stages;
  return j;
}

namespace {

// One pass of the harness output.
struct Pass {
  std::vector<Vector> out;
  std::vector<long long> latency;
  long long inputs = 0;
  long long cycles = 0;
  std::string status;
};

std::vector<Pass> parse_harness(const std::string& text, int out_bits, bool is_signed) {
  std::vector<Pass> passes;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string word;
    ls >> word;
    if (word == "pass") {
      passes.emplace_back();
    } else if (passes.empty()) {
      continue;
    } else if (word == "vec") {
      std::size_t index = 0, n = 0;
      long long latency = 0;
      ls >> index >> latency >> n;
      Vector v(n);
      for (auto& x : v) {
        unsigned long long raw = 0;
        ls >> raw;
        x = sign_extend(raw, out_bits, is_signed);
      }
      passes.back().out.push_back(v);
      passes.back().latency.push_back(latency);
    } else if (word == "inputs") {
      ls >> passes.back().inputs;
    } else if (word == "cycles") {
      ls >> passes.back().cycles;
    } else if (word == "status") {
      std::getline(ls >> std::ws, passes.back().status);
    }
  }
  return passes;
}

std::string join_values(const Vector& v, std::size_t max = 16) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? " " : "") + std::to_string(v[i]);
  if (v.size() > max) s += " ...";
  return s + "]";
}

}  // namespace

ScoreReport score_candidate(const std::string& verilog, const GoldenSet& golden, const ScoreOptions& o,
                            const std::string& task_name) {
  ScoreReport r;
  const auto& iface = golden.iface;
  r.result = {{"task", task_name.empty() ? json(nullptr) : json(task_name)}, {"seed", o.seed},
              {"interface", iface.to_json()}, {"cases", golden.inputs.size()}};
  r.stages = json::object();
  auto stop = [&](const std::string& verdict, const std::string& stage, const std::string& category,
                  const std::string& message) -> ScoreReport& {
    r.verdict = verdict;
    r.stage = stage;
    r.category = category;
    r.message = message;
    return r;
  };

  // 1. screen, preprocess once (sandboxed), screen what the tools will read
  auto t0 = std::chrono::steady_clock::now();
  evaluators::PrepareOptions prepare;
  prepare.max_bytes = o.max_bytes;
  prepare.verilator = evaluators::Toolchain::from_env().verilator;
  const evaluators::UntrustedVerilog prepared = evaluators::prepare_untrusted(verilog, prepare);
  r.stages["screen"] = since(t0);
  if (!prepared.ok) {
    if (prepared.category == "sandbox" || prepared.category == "environment")
      return stop("error", "screen", prepared.category, prepared.message);
    return stop("bad_input", "screen", prepared.category, prepared.message);
  }
  // A kernel is its interface module and the helpers it instantiates; each is synthesized
  // (flattened into the kernel) and counted.
  r.result["modules"] = prepared.modules;

  // 2. interface
  t0 = std::chrono::steady_clock::now();
  try {
    auto ports = parse_module_ports(evaluators::strip_comments_and_strings(prepared.text), iface.module);
    std::string problems;
    for (const auto& [name, width] : iface.ports) {
      auto it = ports.find(name);
      auto describe = [](int w) { return std::string(w > 0 ? "input" : "output") + " [" + std::to_string(std::abs(w)) + " bit" + (std::abs(w) == 1 ? "" : "s") + "]"; };
      if (it == ports.end()) problems += "; port '" + name + "' is missing (expected " + describe(width) + ")";
      else if (it->second != width)
        problems += "; port '" + name + "' is " + describe(it->second) + ", expected " + describe(width);
    }
    for (const auto& [name, width] : ports)
      if (!iface.ports.count(name)) problems += "; port '" + name + "' is not part of the interface";
    r.stages["interface"] = since(t0);
    if (!problems.empty())
      return stop("bad_input", "interface", "interface", "module " + iface.module + " does not match the interface: " + problems.substr(2));
  } catch (const ParamError& e) {
    r.stages["interface"] = since(t0);
    return stop("bad_input", "interface", "interface", e.what());
  }

  const auto tools = evaluators::Toolchain::from_env();
  TempDir dir("chipgym-score-");
  const std::string file = iface.module + ".v";
  // Every tool reads the preprocessed text, never the candidate as written.
  write_file(dir.path() / file, prepared.text);
  auto limits = [&](double wall) {
    evaluators::RunLimits l;
    l.wall_seconds = wall;
    l.cpu_seconds = wall * 2 + 10;
    l.memory_bytes = o.tool_memory;
    return l;
  };
  // Every run on the candidate, and on the model built from it, is sandboxed.
  const evaluators::Sandbox sandbox = evaluators::untrusted_sandbox();
  auto tool_failure = [&](const std::string& tool, const RunResult& run, const evaluators::RunLimits& l) {
    return run.explain(tool, l) + ": " + evaluators::excerpt(run.err + "\n" + run.out, 800);
  };
  // A tool that did not finish its work: why, as a category.
  auto unfinished = [](const RunResult& run) -> std::optional<std::string> {
    if (run.out_of_memory()) return "tool_memory";
    if (run.status == RunStatus::TimedOut) return "tool_timeout";
    if (run.status == RunStatus::Signaled) return "tool_crash";
    return std::nullopt;
  };
  auto undefined_module = [&](const std::string& text) -> std::optional<std::string> {
    // Verilator: "Cannot find file containing module: 'foo'"; Yosys: "Module `\foo' referenced
    // in module `\bar' ... is not part of the design."
    static const std::regex verilator_re(R"(Cannot find file containing module: '([A-Za-z0-9_$]+)')");
    static const std::regex yosys_re(R"(Module `\\?([A-Za-z0-9_$]+)' referenced in module `\\?([A-Za-z0-9_$]+)')");
    std::smatch m;
    if (std::regex_search(text, m, verilator_re))
      return "the candidate instantiates module '" + m[1].str() +
             "', which it does not define; a candidate must define every module it uses (it defines: " +
             [&] { std::string list; for (const auto& n : prepared.modules) list += (list.empty() ? "" : ", ") + n; return list; }() + ")";
    if (std::regex_search(text, m, yosys_re))
      return "module " + m[2].str() + " instantiates module '" + m[1].str() +
             "', which the candidate does not define; a candidate must define every module it uses";
    return std::nullopt;
  };

  // 3. lint
  t0 = std::chrono::steady_clock::now();
  {
    RunRequest req;
    req.argv = {tools.verilator, "--lint-only", "-Wall", "-Wno-fatal", "--top-module", iface.module, file};
    req.cwd = dir.path();
    req.limits = limits(o.tool_timeout);
    req.sandbox = sandbox;
    RunResult run = evaluators::run_process(req);
    r.stages["lint"] = since(t0);
    if (run.status == RunStatus::NoSandbox) return stop("error", "lint", "sandbox", run.exec_error);
    if (run.status == RunStatus::NotFound) return stop("fail", "lint", "tool_missing", tool_failure("verilator", run, req.limits));
    std::vector<std::string> warnings;
    bool loop = false;
    std::istringstream in(run.err);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("%Warning", 0) == 0) warnings.push_back(line);
      if (line.find("UNOPTFLAT") != std::string::npos || line.find("ALWCOMBORDER") != std::string::npos) loop = true;
    }
    // Verilator names the file as given (relative to the temporary directory): stable text.
    json shown = json::array();
    for (std::size_t i = 0; i < warnings.size() && i < 5; ++i) shown.push_back(warnings[i]);
    r.result["lint"] = {{"warnings", warnings.size()}, {"first_warnings", shown}};
    if (!run.ok()) {
      if (auto why = unfinished(run)) return stop("fail", "lint", *why, tool_failure("Verilator (--lint-only)", run, req.limits));
      if (auto undefined = undefined_module(run.err)) return stop("bad_input", "lint", "undefined_module", *undefined);
      return stop("fail", "lint", "lint", "verilator --lint-only rejected the design: " + evaluators::excerpt(run.err, 800));
    }
    if (loop) r.result["lint"]["combinational_loop_warning"] = true;
  }

  // 4. build and simulate
  t0 = std::chrono::steady_clock::now();
  {
    write_file(dir.path() / "harness.cpp", stream_harness_source());
    RunRequest req;
    req.argv = {tools.verilator, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                "--prefix", "Vkernel", "--top-module", iface.module, "-Mdir", "obj", "-o", "sim",
                "-CFLAGS", "-O1", file, "harness.cpp"};
    req.cwd = dir.path();
    req.limits = limits(o.tool_timeout);
    req.sandbox = sandbox;
    evaluators::sandbox_ccache(tools, req);
    RunResult run = evaluators::run_process(req);
    r.stages["build"] = since(t0);
    if (run.status == RunStatus::NoSandbox) return stop("error", "build", "sandbox", run.exec_error);
    if (!run.ok()) {
      if (auto why = unfinished(run)) return stop("fail", "build", *why, tool_failure("the Verilator build", run, req.limits));
      return stop("fail", "build", "build", "the Verilator model did not build: " + evaluators::excerpt(run.err + "\n" + run.out, 800));
    }
  }
  t0 = std::chrono::steady_clock::now();
  std::ostringstream stim;
  long long elements = 0;
  for (const auto& v : golden.inputs) elements += static_cast<long long>(v.size());
  const unsigned long long max_cycles = o.cycles_per_element * static_cast<unsigned long long>(elements) + 1000;
  const std::uint64_t pressure_seed = hidden_seed(o.seed ^ 0xB4C7ULL);
  stim << "chipgym-stream 1 " << iface.in_bits() << " " << iface.out_bits() << " " << max_cycles << " "
       << pressure_seed << " " << golden.inputs.size() << "\n";
  for (const auto& v : golden.inputs) {
    stim << v.size();
    for (auto x : v) stim << " " << x;
    stim << "\n";
  }
  RunRequest sim;
  sim.argv = {(dir.path() / "obj" / "sim").string()};
  sim.cwd = dir.path();
  sim.stdin_text = stim.str();
  sim.limits = limits(o.sim_timeout);
  sim.limits.cpu_seconds = o.sim_timeout + 5;
  sim.limits.output_bytes = 64u << 20;
  sim.sandbox = sandbox;
  RunResult run = evaluators::run_process(sim);
  if (run.status == RunStatus::NoSandbox) return stop("error", "simulate", "sandbox", run.exec_error);
  r.stages["simulate"] = since(t0);
  if (run.status == RunStatus::TimedOut)
    return stop("fail", "simulate", "sim_timeout",
                "the simulation ran past its time limit of " + std::to_string(static_cast<int>(o.sim_timeout)) +
                    " s (an infinite loop or a design that never settles)");
  if (!run.ok()) {
    const std::string text = run.err + run.out;
    if (text.find("converge") != std::string::npos)
      return stop("fail", "simulate", "combinational_loop",
                  "the simulation did not converge: a combinational loop (" + evaluators::excerpt(text, 400) + ")");
    if (run.status == RunStatus::Signaled && (run.signal == SIGXCPU || run.signal == SIGKILL))
      return stop("fail", "simulate", "sim_timeout", "the simulation ran past its CPU time limit");
    return stop("fail", "simulate", "sim_crash", tool_failure("the simulation", run, sim.limits));
  }
  const auto passes = parse_harness(run.out, iface.out_bits(), iface.is_signed);
  if (passes.empty()) return stop("fail", "simulate", "sim_crash", "the simulation printed no results: " + evaluators::excerpt(run.err + run.out, 400));

  // Compare pass 0 against golden.
  const Pass& p0 = passes[0];
  json sim_json;
  long long mismatched_elements = 0, mismatched_cases = 0, compared = 0, missing = 0, extra = 0;
  double sum_abs = 0;
  long long max_abs = 0;
  json first = json::array();
  std::set<Vector> got_distinct, expected_distinct;
  std::set<long long> got_values, expected_values;
  for (std::size_t c = 0; c < golden.inputs.size(); ++c) {
    const Vector& want = golden.outputs[c];
    const Vector got = c < p0.out.size() ? p0.out[c] : Vector{};
    expected_distinct.insert(want);
    for (auto x : want) expected_values.insert(x);
    if (c < p0.out.size()) {
      got_distinct.insert(got);
      for (auto x : got) got_values.insert(x);
    }
    long long bad = 0;
    long long first_index = -1;
    for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
      if (i >= got.size()) ++missing, ++bad;
      else if (i >= want.size()) ++extra, ++bad;
      else {
        ++compared;
        const long long err = std::llabs(got[i] - want[i]);
        sum_abs += static_cast<double>(err);
        max_abs = std::max(max_abs, err);
        if (err) ++bad;
      }
      if (bad && first_index < 0) first_index = static_cast<long long>(i);
    }
    if (bad) {
      ++mismatched_cases;
      mismatched_elements += bad;
      if (static_cast<int>(first.size()) < o.mismatches_shown)
        first.push_back({{"case", c}, {"origin", golden.origin[c]}, {"first_index", first_index},
                         {"in", vec_json(golden.inputs[c])}, {"expected", vec_json(want)}, {"got", vec_json(got)}});
    }
  }
  const long long total_outputs = [&] {
    long long n = 0;
    for (const auto& v : p0.out) n += static_cast<long long>(v.size());
    return n;
  }();
  sim_json = {{"cases", golden.inputs.size()},
              {"elements", elements},
              {"mismatched_cases", mismatched_cases},
              {"mismatched_elements", mismatched_elements},
              {"missing_elements", missing},
              {"extra_elements", extra},
              {"max_abs_error", max_abs},
              {"mean_abs_error", compared ? sum_abs / static_cast<double>(compared) : 0.0},
              {"first_mismatches", first},
              {"cycles", p0.cycles},
              {"cycle_limit", max_cycles},
              {"status", p0.status}};
  if (!p0.latency.empty() && p0.status == "ok") {
    long long lo = p0.latency[0], hi = p0.latency[0];
    double sum = 0;
    for (auto l : p0.latency) lo = std::min(lo, l), hi = std::max(hi, l), sum += static_cast<double>(l);
    sim_json["latency_cycles"] = p0.latency[0];  // the first vector, with an empty pipeline
    sim_json["latency_cycles_max"] = hi;
    sim_json["latency_cycles_min"] = lo;
    sim_json["latency_cycles_mean"] = sum / static_cast<double>(p0.latency.size());
    sim_json["throughput"] = p0.cycles ? static_cast<double>(total_outputs) / static_cast<double>(p0.cycles) : 0.0;
  }
  r.result["simulation"] = sim_json;

  // Cheats and protocol failures first: they explain the mismatches better than a diff.
  if (p0.status.rfind("protocol", 0) == 0)
    return stop("fail", "simulate", "protocol", "stream protocol violated: " + p0.status.substr(9));
  if (total_outputs == 0 && p0.status == "cycle_limit")
    return stop("fail", "simulate", p0.inputs == 0 ? "no_input" : "no_output",
                p0.inputs == 0 ? "the design never accepted an input (in_ready stayed low) in " + std::to_string(p0.cycles) + " cycles"
                               : "the design never asserted out_valid in " + std::to_string(p0.cycles) +
                                     " cycles (cycle limit " + std::to_string(max_cycles) + ")");
  if (expected_distinct.size() > 1 && got_distinct.size() == 1 && p0.out.size() >= golden.inputs.size()) {
    if (got_values.size() == 1 && expected_values.size() > 1)
      return stop("fail", "simulate", "constant_output",
                  "the output is the constant " + std::to_string(*got_values.begin()) +
                      " while the golden outputs vary: the outputs must be computed from the inputs");
    return stop("fail", "simulate", "input_independent",
                "every output vector is the same " + join_values(*got_distinct.begin()) +
                    " while the golden outputs differ: the outputs do not depend on the inputs");
  }
  if (p0.status.rfind("extra", 0) == 0)
    return stop("fail", "simulate", "extra_output", p0.status.substr(6));
  if (p0.status == "cycle_limit")
    return stop("fail", "simulate", "cycle_limit",
                "the simulation reached its cycle limit (" + std::to_string(max_cycles) + " cycles) with " +
                    std::to_string(p0.out.size()) + " of " + std::to_string(golden.inputs.size()) +
                    " output vectors (is out_last raised on the last element?)");
  if (mismatched_cases > 0) {
    const json& m = first[0];
    std::ostringstream msg;
    msg << mismatched_cases << " of " << golden.inputs.size() << " vectors differ from the golden outputs ("
        << mismatched_elements << " elements, max abs error " << max_abs << "); first: " << m["origin"].get<std::string>()
        << " in=" << join_values(m["in"].get<Vector>()) << " expected=" << join_values(m["expected"].get<Vector>())
        << " got=" << join_values(m["got"].get<Vector>());
    return stop("fail", "simulate", "mismatch", msg.str());
  }
  // Pass 1: the same results under back-pressure and input gaps.
  if (passes.size() < 2) return stop("fail", "simulate", "sim_crash", "the simulation stopped after the first pass");
  const Pass& p1 = passes[1];
  json bp = {{"cycles", p1.cycles}, {"status", p1.status}};
  if (p1.status == "ok" && p1.cycles) {
    long long n = 0;
    for (const auto& v : p1.out) n += static_cast<long long>(v.size());
    bp["throughput"] = static_cast<double>(n) / static_cast<double>(p1.cycles);
  }
  r.result["simulation"]["backpressure"] = bp;
  if (p1.status.rfind("protocol", 0) == 0)
    return stop("fail", "simulate", "protocol", "stream protocol violated under back-pressure: " + p1.status.substr(9));
  if (p1.status != "ok")
    return stop("fail", "simulate", "backpressure",
                "under back-pressure the design did not finish: " + p1.status + " after " + std::to_string(p1.cycles) + " cycles");
  // The second pass sent the vectors in reverse order: output k belongs to case n-1-k.
  for (std::size_t k = 0; k < golden.inputs.size(); ++k) {
    const std::size_t c = golden.inputs.size() - 1 - k;
    if (k >= p1.out.size() || p1.out[k] != golden.outputs[c])
      return stop("fail", "simulate", "backpressure",
                  "with back-pressure (out_ready low, gaps in in_valid) and the vectors in reverse order, " +
                      golden.origin[c] + " gives " + join_values(k < p1.out.size() ? p1.out[k] : Vector{}) +
                      " instead of " + join_values(golden.outputs[c]) +
                      " (does the design carry state from one vector to the next, or lose data when stalled?)");
  }

  // 5. synthesize
  if (o.synthesize) {
    t0 = std::chrono::steady_clock::now();
    write_file(dir.path() / "synth.ys",
               // -nodpi: this Yosys would call DPI functions while it elaborates constants.
               "read_verilog -sv -nodpi " + file + "\nhierarchy -check -top " + iface.module +
                   // Logic loops, on a gate-level copy before any optimization: synth would remove
                   // a loop that reaches no output, and word-level cells would give false loops.
                   "\ndesign -save candidate\nproc\nflatten\ntechmap\ntee -q -o loops.txt check\n"
                   "design -load candidate\nsynth -flatten -top " + iface.module + "\ncheck -assert\n"
                   "tee -q -o generic.json stat -json\ntee -q -o ltp.txt ltp -noff\n" +
                   evaluators::kCmosMeasure + "tee -q -o cmos.json stat -json -tech cmos\n");
    RunRequest req;
    req.argv = {tools.yosys, "-q", "-l", "synth.log", "-s", "synth.ys"};
    req.cwd = dir.path();
    req.limits = limits(o.tool_timeout);
    req.sandbox = sandbox;
    RunResult y = evaluators::run_process(req);
    r.stages["synthesize"] = since(t0);
    if (y.status == RunStatus::NoSandbox) return stop("error", "synthesize", "sandbox", y.exec_error);
    if (auto latch = evaluators::latch_problem(read_file(dir.path() / "synth.log") + y.err,
                                               read_file(dir.path() / "generic.json")))
      return stop("fail", "synthesize", "latch", *latch);
    if (y.ok()) {
      const std::string loops = read_file(dir.path() / "loops.txt");
      if (auto at = loops.find("logic loop"); at != std::string::npos) {
        const auto begin = loops.rfind('\n', at) + 1;  // npos + 1 == 0
        return stop("fail", "synthesize", "combinational_loop",
                    "Yosys `check` found a combinational loop (" + loops.substr(begin, loops.find('\n', at) - begin) +
                        "), even if it reaches no output; every path from a signal back to itself must pass a register");
      }
    }
    if (!y.ok()) {
      const std::string log = read_file(dir.path() / "synth.log") + y.err;
      if (auto at = log.find("logic loop"); at != std::string::npos) {
        const auto begin = log.rfind('\n', at) + 1;  // npos + 1 == 0
        std::string line = log.substr(begin, log.find('\n', at) - begin);
        return stop("fail", "synthesize", "combinational_loop",
                    "Yosys `check` found a combinational loop (" + line + "); every path from an output back to itself must pass a register");
      }
      if (auto why = unfinished(y)) return stop("fail", "synthesize", *why, tool_failure("Yosys", y, req.limits));
      if (auto undefined = undefined_module(log)) return stop("bad_input", "synthesize", "undefined_module", *undefined);
      return stop("fail", "synthesize", "synth", "Yosys could not synthesize the design: " + evaluators::excerpt(log, 800));
    }
    try {
      auto cells = evaluators::aggregate_stat(read_file(dir.path() / "generic.json"), iface.module);
      auto cmos = evaluators::aggregate_stat(read_file(dir.path() / "cmos.json"), iface.module);
      long long total = 0;
      json by_type = json::object();
      for (const auto& [type, n] : cells) {
        if (type.rfind("__", 0) == 0) continue;
        total += n;
        by_type[type] = n;
      }
      r.result["synthesis"] = {{"cells", total}, {"cells_by_type", by_type}, {"transistors", cmos["__transistors"]},
                               {"depth", evaluators::parse_ltp_depth(read_file(dir.path() / "ltp.txt"))}};
    } catch (const std::exception& e) {
      return stop("fail", "synthesize", "environment", std::string("could not read Yosys statistics: ") + e.what());
    }
  }
  return stop("pass", "", "", "bit-exact on " + std::to_string(golden.inputs.size()) + " vectors (" +
                                  std::to_string(elements) + " elements), also under back-pressure");
}

std::string ScoreReport::to_text() const {
  std::ostringstream out;
  const json& sim = result.contains("simulation") ? result["simulation"] : json();
  out << (result["task"].is_null() ? std::string("vectors") : result["task"].get<std::string>()) << "  seed "
      << result["seed"] << "  " << (verdict == "pass" ? "PASS" : verdict == "fail" ? "FAIL" : verdict == "error" ? "NOT SCORED" : "REFUSED") << "\n";
  if (verdict != "pass") out << "  " << std::left << std::setw(14) << (stage + ":") << "[" << category << "] " << message << "\n";
  else out << "  correct       " << message << "\n";
  if (result.contains("lint")) out << "  lint          " << result["lint"]["warnings"] << " warnings\n";
  if (!sim.is_null()) {
    if (sim["mismatched_cases"].get<long long>() > 0) {
      out << "  errors        " << sim["mismatched_cases"] << " of " << sim["cases"] << " vectors, "
          << sim["mismatched_elements"] << " elements; max abs " << sim["max_abs_error"] << ", mean abs "
          << sim["mean_abs_error"].get<double>() << "\n";
      for (const auto& m : sim["first_mismatches"])
        out << "  mismatch      " << m["origin"].get<std::string>() << " at element " << m["first_index"]
            << ": in " << join_values(m["in"].get<Vector>()) << "\n                expected "
            << join_values(m["expected"].get<Vector>()) << "\n                got      " << join_values(m["got"].get<Vector>())
            << "\n";
    }
    if (sim.contains("latency_cycles"))
      out << "  latency       " << sim["latency_cycles"] << " cycles (first vector; max " << sim["latency_cycles_max"]
          << ")\n  throughput    " << std::fixed << std::setprecision(3) << sim["throughput"].get<double>()
          << " elements/cycle over " << sim["cycles"] << " cycles";
    if (sim.contains("backpressure") && sim["backpressure"].contains("throughput"))
      out << "; " << sim["backpressure"]["throughput"].get<double>() << " under back-pressure";
    if (sim.contains("latency_cycles")) out << "\n";
  }
  if (result.contains("synthesis"))
    out << "  area          " << result["synthesis"]["cells"] << " cells, " << result["synthesis"]["transistors"]
        << " transistors (Yosys CMOS estimate), logic depth " << result["synthesis"]["depth"] << "\n";
  double total = 0;
  for (auto it = stages.begin(); it != stages.end(); ++it) total += it.value().get<double>();
  out << "  time          " << std::fixed << std::setprecision(2) << total << " s (";
  bool firstStage = true;
  for (auto it = stages.begin(); it != stages.end(); ++it) {
    out << (firstStage ? "" : ", ") << it.key() << " " << it.value().get<double>();
    firstStage = false;
  }
  out << ")\n";
  return out.str();
}

}  // namespace chipgym::kernels
