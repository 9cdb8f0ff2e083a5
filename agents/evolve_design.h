// `chipgym evolve` on a parametric design task (env/task.h): the two subjects besides kernels.
//
//   params  A program is the task's searched parameters as a JSON object, one per line, in the
//           family's order. The model answers with a JSON object (in a ```json block, or
//           SEARCH/REPLACE blocks against the parent's lines); names it leaves out keep the
//           parent's values. The seed is the family's default design. Values must be among the
//           task's searched ones; anything else is refused by name and fed back.
//   module  (--module NAME) A program is the Verilog of one generated module of the task's
//           design (e.g. gemm_pe of gemm-int8) at fixed parameters (--set, else the defaults):
//           the rest of the accelerator is generated around it. The candidate is screened
//           (evaluators/screen.h), its ports must equal the generated module's, and the whole
//           accelerator is then linted, simulated against the golden model (fidelity rtl,
//           whatever the task's fidelity) and synthesized. The seed is the generated module.
//
// Both are evaluated by the task's pipeline, with the cache (replay evaluates afresh), and the
// fitness is the task's reward: its objective when the design is admissible, else -1
// (infeasible: over budget or a missed target), -2 (incorrect), -3 (lint, build or tool
// failure); -4 a refused candidate (unknown parameter or value, screen, ports); -5 (by the
// loop) no candidate at all. The MAP-Elites descriptors are the design's transistors and
// cycles, in half octaves around the seed design's.
#pragma once
#include <memory>

#include "evaluators/pipeline.h"
#include "agents/evolve.h"

namespace chipgym::agents {

// Throws hdl::ParamError naming the problem: unknown task, unknown module (with the design's
// modules), bad --set parameters, a module whose header cannot be read.
agents::Subject design_subject(const EvolveConfig& cfg, std::shared_ptr<evaluators::Pipeline> pipeline);

}  // namespace chipgym::agents
