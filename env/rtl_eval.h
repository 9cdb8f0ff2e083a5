// A user's own multi-module design through the evaluator (`chipgym eval --rtl a.v b.v --top T`):
// untrusted text, so each file is preprocessed and screened (sandboxed) before any tool reads
// it, then split into one file per module and run through the pipeline's fidelity `user-rtl`:
// lint, Yosys loop check, synthesis per module (every module the files define and the top
// uses is counted, once per instance), iCE40 resources, and the hierarchy stage's depth over
// the whole design. With a reference, the correctness check of `score --ref`
// (env/port_score.h) runs on the files joined into one candidate.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "env/port_score.h"
#include "evaluators/metrics.h"

namespace chipgym::env {

struct RtlFile {
  std::string name;  // as the user gave it (messages name it)
  std::string text;
};

struct RtlEvalOptions {
  evaluators::EvalOptions eval = default_eval();
  std::shared_ptr<evaluators::Cache> cache;
  std::optional<std::string> reference;  // the reference's text: adds the check of score --ref
  PortScoreOptions ports;                // that check's settings
  static evaluators::EvalOptions default_eval();  // user-rtl, per module, iCE40 on, 4 GiB per tool
};

struct RtlEvalResult {
  std::string top;
  std::vector<std::string> modules;  // every module the files define, in order
  evaluators::Metrics metrics;
  std::optional<ScoreReport> correctness;
  json to_json() const;
  // 0: evaluated (and correct, with a reference); 1: the design failed a tool (does not
  // compile, a loop, a latch) or the check; 2: refused (screen).
  int exit_code() const;
};

// Throws hdl::ParamError for bad input: no file, a file the screen refuses (named), a module
// defined twice, a top that the files do not define.
RtlEvalResult evaluate_rtl(const std::vector<RtlFile>& files, const std::string& top, const RtlEvalOptions& o);

}  // namespace chipgym::env
