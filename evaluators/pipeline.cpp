#include "evaluators/pipeline.h"

#include <sstream>

#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::evaluators {

namespace {

constexpr const char* kEvalVersion = "eval-v1";  // the whole evaluation's entry (stages have their own)

// Only failures that follow from the design itself are cached; timeouts, crashes, missing
// tools and a broken environment say nothing about it and are tried again next time.
bool cacheable(const Metrics& m) { return !m.error || design_failure(m.error->category); }

}  // namespace


std::string excerpt(const std::string& text, std::size_t max_chars) {
  std::istringstream in(text);
  std::string line, errors, warnings;
  std::vector<std::string> last;
  while (std::getline(in, line)) {
    if (line.find("%Error") != std::string::npos || line.find("ERROR") != std::string::npos ||
        line.find("error:") != std::string::npos)
      errors += line + "\n";
    else if (line.find("%Warning") != std::string::npos)
      warnings += line + "\n";
    last.push_back(line);
    if (last.size() > 12) last.erase(last.begin());
  }
  std::string out = errors + warnings;  // errors first: warnings must not push them out
  if (out.empty())
    for (const auto& l : last) out += l + "\n";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (out.size() > max_chars) out = out.substr(0, max_chars) + " ...";
  return out;
}

json EvalOptions::stage_options() const {
  json j = {{"fidelity", fidelity}, {"flatten", flatten}, {"fpga", fpga}, {"synthesis", synthesis}, {"vcd", vcd.has_value()}};
  if (inject) j["inject"] = {inject->first, sha256_hex(inject->second)};
  return j;
}

Pipeline::Pipeline(std::shared_ptr<Cache> cache, Toolchain tools) : cache_(std::move(cache)), tools_(std::move(tools)) {
  // Absolute: the models run with their own temporary directory as the working directory.
  if (cache_) models_dir_ = std::filesystem::absolute(cache_->file().parent_path() / "models");
}

std::optional<json> Pipeline::cached(const EvalOptions& o, const std::string& stage, const std::string& key) {
  if (!cache_ || !o.use_cache) return std::nullopt;
  auto v = cache_->get(stage, key);
  if (!v) return std::nullopt;
  try {
    return json::parse(*v);
  } catch (const json::exception&) {
    return std::nullopt;  // an unreadable entry is a miss; it is overwritten below
  }
}

void Pipeline::store(const EvalOptions& o, const std::string& stage, const std::string& key, const json& value) {
  if (!cache_ || !o.use_cache) return;
  try {
    cache_->put(stage, key, value.dump());
  } catch (const CacheError& e) {
    // The result is still good: report that it was not kept, and go on.
    std::lock_guard<std::mutex> lock(warnings_mu_);
    cache_warnings_.push_back(e.what());
  }
}

std::string Pipeline::design_key(const hdl::Family& f, const hdl::Params& p, const json& workload,
                                 const EvalOptions& o) const {
  Sha256 h;
  h.update(kEvalVersion).update("\n").update(f.name()).update("\n").update(std::to_string(f.version()));
  h.update("\n").update(f.space().key(p)).update("\n").update(workload.dump()).update("\n");
  h.update(o.stage_options().dump()).update("\n");
  if (o.fidelity != "model") h.update(tools_.versions());
  return h.hex();
}

json Pipeline::design_record(const hdl::Family& f, const hdl::Params& p, const json& workload, const EvalOptions& o) {
  return {{"family", f.name()}, {"version", f.version()}, {"params", p.to_json()},
          {"workload_sha256", sha256_hex(workload.dump())}, {"options", o.stage_options()}};
}

bool Pipeline::prepare(const hdl::Family& f, const hdl::Params& p, const json& workload, const EvalOptions& o,
                       Metrics& m) const {
  m.fidelity = o.fidelity;
  if (!Registry<FidelityInfo>::instance().find(o.fidelity)) {
    m.error = ErrorInfo{"input", unknown_name_message("fidelity", o.fidelity, fidelity_names())};
    return false;
  }
  try {
    f.space().validate(p);
    m.cycles_model = f.model_cycles(p, workload);
    m.derived = f.derived(p, workload);
  } catch (const std::exception& e) {
    m.error = ErrorInfo{"input", e.what()};
    return false;
  }
  return true;
}

std::optional<Metrics> Pipeline::answer_without_tools(const hdl::Family& f, const hdl::Params& p, const json& workload,
                                                      const EvalOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  Metrics m;
  if (!prepare(f, p, workload, o, m)) {
    m.seconds = seconds_since(t0);
    return m;
  }
  if (o.vcd) return std::nullopt;
  auto hit = cached(o, "eval", design_key(f, p, workload, o));
  if (!hit) return std::nullopt;
  Metrics cached_metrics = Metrics::from_json(*hit);
  cached_metrics.cache_hit = true;
  cached_metrics.seconds = seconds_since(t0);
  return cached_metrics;
}

void Pipeline::keep(const hdl::Family& f, const hdl::Params& p, const json& workload, const EvalOptions& o,
                    const Metrics& m) {
  const std::string versions = tools_.versions();
  const bool versions_known = versions.find("unknown") == std::string::npos && versions.find("missing") == std::string::npos;
  if (!cacheable(m) || o.vcd || (o.fidelity != "model" && !versions_known)) return;
  // A fidelity whose figures are predicted (surrogate) is never stored as an evaluation.
  if (const FidelityInfo* fi = Registry<FidelityInfo>::instance().find(o.fidelity); fi && !fi->cached) return;
  json value = m.to_json();
  value["cache_hit"] = false;
  value["design"] = design_record(f, p, workload, o);
  store(o, "eval", design_key(f, p, workload, o), value);
}

Metrics Pipeline::evaluate(const hdl::Family& f, const hdl::Params& p, const json& workload, const EvalOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  Metrics m;
  auto finish = [&](Metrics& out) -> Metrics {
    out.seconds = seconds_since(t0);
    return out;
  };
  if (!prepare(f, p, workload, o, m)) return finish(m);
  const FidelityInfo* fidelity = Registry<FidelityInfo>::instance().find(o.fidelity);

  const std::string key = design_key(f, p, workload, o);
  if (auto hit = o.vcd ? std::nullopt : cached(o, "eval", key)) {
    Metrics cached_metrics = Metrics::from_json(*hit);
    cached_metrics.cache_hit = true;
    return finish(cached_metrics);
  }

  // The fidelity's stages, less those the options turn off (tests of the golden check stop
  // before the Yosys runs; --no-fpga drops the iCE40 run).
  Evaluation e{f, p, workload, o, *this, {}, m, {}};
  for (const auto& name : fidelity->stages) {
    const StageInfo& stage = stages().get(name, "stage");
    if ((o.synthesis || !stage.synthesis) && (o.fpga || name != "fpga")) e.stages.push_back(name);
  }
  m.cycles = m.cycles_model;  // until a simulation measures them
  e.rtl = f.emit(p);
  bool refused = false;  // injected text the screen refused: said, not kept
  std::string current;
  try {
    for (const auto& name : e.stages) {
      current = name;
      if (!stages().get(name, "stage").run(e)) {
        refused = name == "screen";
        break;
      }
    }
  } catch (const std::exception& ex) {
    // Not the design's fault (no room for temporary files, fork failed, ...): say so.
    m.error = ErrorInfo{"environment", std::string("evaluation could not run: ") + ex.what()};
  }
  if (m.error && m.error->stage.empty()) m.error->stage = current;  // where it stopped
  {
    std::lock_guard<std::mutex> lock(warnings_mu_);
    if (!cache_warnings_.empty()) {
      m.stages["cache_warnings"] = cache_warnings_;
      cache_warnings_.clear();
    }
  }

  m.seconds = seconds_since(t0);
  if (!refused) keep(f, p, workload, o, m);
  return finish(m);
}

}  // namespace chipgym::evaluators
