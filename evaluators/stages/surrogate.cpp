// surrogate: predicted synthesis figures (transistors, cells, depth, iCE40 LUT/FF/DSP) from a
// cost model learned from the evaluation cache, instead of Yosys. The cycle model's figures
// stay exact. The model lives beside the agents (agents/surrogate.h); evaluators must not
// include agents, so that side installs the predictor (set_predictor) and this stage calls it.
// Predictions are marked: Metrics::fidelity "surrogate", stages.surrogate.predicted = true,
// correct stays null, and the fidelity's results are never kept in the eval cache.
#include <mutex>

#include "evaluators/stage.h"

namespace chipgym::evaluators {

namespace {

std::mutex& predictor_mutex() {
  static std::mutex mu;
  return mu;
}
Predictor& installed() {
  static Predictor p;
  return p;
}

bool predict(Evaluation& e) {
  const Predictor& p = predictor();
  if (!p) {
    e.metrics.error = ErrorInfo{"input", "the surrogate fidelity has no cost model in this program (it links no agents)"};
    return false;
  }
  return p(e);
}

const StageRegistration surrogate_stage{
    {"surrogate", "predicted cells, transistors, depth and iCE40 resources from the cost model fitted on the cache", predict}};

const FidelityRegistration surrogate_fidelity{
    {"surrogate",
     "the cycle model, then predicted area, depth and iCE40 figures from a cost model fitted on the cache "
     "(`chipgym surrogate fit`); not simulated, not synthesized",
     {"screen", "surrogate"}, 1, true, false}};

}  // namespace

void set_predictor(Predictor predictor) {
  std::lock_guard lock(predictor_mutex());
  installed() = std::move(predictor);
}

const Predictor& predictor() {
  std::lock_guard lock(predictor_mutex());
  return installed();
}

}  // namespace chipgym::evaluators
