// `chipgym replay`: rebuild a design from a run directory alone, evaluate it again with the
// cache off, and (with verify) compare every recorded metric.
#pragma once
#include <memory>
#include <optional>

#include "evaluators/pipeline.h"
#include "runs/run_dir.h"

namespace chipgym::runs {

struct ReplayResult {
  json design;                      // params and where they came from
  evaluators::Metrics metrics;      // the fresh evaluation
  json fresh;                       // the fresh metrics as JSON, with "reward"
  json recorded;                    // the recorded figures that were compared
  std::vector<std::string> differences;  // "cycles: recorded 88, now 90"
  std::optional<evaluators::Metrics> waveform;  // the one-tile simulation that wrote the VCD
};

// step: an evaluation index of events.jsonl; nullopt: the best design (best/design.json),
// evaluated at rtl with iCE40 when the run verified it (best/metrics.json has "verified"; the
// fresh metrics then say "verified" too), else at the run's fidelity.
// Throws hdl::ParamError for a directory that is not a run or a step out of range.
// vcd: also simulate the design on one tile of the workload's first GEMM (rows x K x cols)
// and write its waveform there.
// policy: an RL run's saved policy picks the design, acting greedily (see policy_choice);
// the figures recorded for that design, if it was evaluated during the run, are compared.
ReplayResult replay(const std::filesystem::path& run, std::optional<long long> step,
                    std::shared_ptr<evaluators::Pipeline> pipeline,
                    std::optional<std::filesystem::path> vcd = std::nullopt, bool policy = false);

}  // namespace chipgym::runs
