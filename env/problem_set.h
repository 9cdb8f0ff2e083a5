// A problem set scored at its ports (`chipgym score --problems DIR --samples DIR`), as
// spec-to-RTL benchmarks measure language models: pass@k over problems, each sample a
// candidate module scored against the problem's reference (env/port_score.h).
//
//   problems/NAME/ref.v          the reference (its module is the one compared: its only
//                                module, else top_module)
//   problems/NAME/vectors.json   port vectors (docs/ports.md), used when there is no ref.v
//   problems/NAME/spec.txt       the specification (optional; for the model, not read here)
//   samples/NAME/*.v             the candidates for problem NAME, one file each
//
// Every sample is scored (cached by content through the evaluation cache, so a run that is
// cut and started again only scores what it has not); a problem without samples is reported.
// pass@k is the unbiased estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k) for n
// samples of which c pass, averaged over the problems with at least k samples.
#pragma once
#include <filesystem>
#include <vector>

#include "env/port_score.h"

namespace chipgym::env {

struct ProblemSetOptions {
  PortScoreOptions score;
  std::vector<int> k = {1, 5, 10};
  int workers = 1;
};

struct SampleResult {
  std::string problem, sample, verdict, stage, category, message;
  bool cache_hit = false;
};

struct ProblemSetResult {
  std::vector<SampleResult> samples;
  json problems = json::object();   // name -> {n, c, pass_at_k: {k: value}, missing: bool}
  json pass_at_k = json::object();  // k -> {value, problems}
  json failures = json::object();   // "stage/category" -> count
  json to_json() const;
  std::string to_csv() const;       // one line per sample
};

// 1 - C(n-c, k) / C(n, k); requires 1 <= k <= n.
double pass_at_k(int n, int c, int k);

// Throws hdl::ParamError for a problems folder without problems or a samples folder that is
// missing.
ProblemSetResult score_problem_set(const std::filesystem::path& problems, const std::filesystem::path& samples,
                                   const ProblemSetOptions& o, const std::function<void(const SampleResult&)>& progress = {});

}  // namespace chipgym::env
