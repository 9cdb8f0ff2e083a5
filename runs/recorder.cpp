#include "runs/recorder.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "hdl/param_space.h"
#include "runs/pareto.h"

namespace chipgym::runs {

namespace fs = std::filesystem;

namespace {

std::string best_report_md(const env::Task& task, const std::string& agent, const json& event, const json& metrics) {
  std::ostringstream os;
  os << "# Best design of " << task.name << " (" << agent << ")\n\n"
     << "Evaluation " << event["eval"] << ", reward " << event["reward"] << ".\n\n"
     << "| parameter | value |\n|---|---|\n";
  for (auto it = event["params"].begin(); it != event["params"].end(); ++it)
    os << "| " << it.key() << " | " << it.value().dump() << " |\n";
  os << "\n| metric | value |\n|---|---|\n";
  const bool simulated = metrics.value("fidelity", std::string()) == "rtl";
  for (const char* k : {"correct", "cycles", "cycles_model", "cells", "transistors", "depth", "luts", "ffs", "dsps", "brams"})
    if (metrics.contains(k) && (simulated || std::string(k) != "correct")) os << "| " << k << " | " << metrics[k].dump() << " |\n";
  os << "\nFidelity: " << metrics.value("fidelity", std::string("?"))
     << (simulated ? " (simulated against the golden model)" : " (cycles from the cycle model, which equals the RTL on the verification matrix)")
     << "\n";
  if (metrics.contains("verified"))
    os << "\n" << (metrics["verified"] == true ? "Verified at rtl when the run ended: bit-exact against the golden model, iCE40 included."
                    : metrics.value("fidelity", std::string()) == "rtl"
                        ? "FAILED at rtl: none of the best designs the run tried passed its RTL check (see verify.jsonl)."
                        : "Not verified at rtl yet: the run checks its best design when it ends.")
       << "\n";
  os << "\nObjective: " << task.objective << "\n\nRe-evaluate with `chipgym eval --task " << task.name << " --set "
     << [&] {
          std::string s;
          for (auto it = event["params"].begin(); it != event["params"].end(); ++it)
            s += (s.empty() ? "" : ",") + it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
          return s;
        }()
     << "`.\n";
  return os.str();
}

}  // namespace

Recorder::ExportBest design_export(const env::Task& task, const std::string& agent) {
  return [task, agent](RunDir& dir, const json& event, const json& metrics) {
    auto params = task.design_family().space().from_json(event["params"], false);
    // A design that breaks a constraint of its family (an input error) has no Verilog.
    std::map<std::string, std::string> files;
    try {
      files = task.design_family().emit(params).files;
    } catch (const hdl::ParamError&) {
    }
    dir.export_best({{"params", event["params"]}, {"design", event["design"]}, {"eval", event["eval"]},
                     {"reward", event["reward"]}},
                    files, metrics, best_report_md(task, agent, event, metrics));
  };
}

bool best_holds(const RunDir& dir, const json& event) {
  try {
    std::ifstream in(dir.path() / "best" / "design.json");
    return in && json::parse(in).value("eval", -1LL) == event.value("eval", -2LL);
  } catch (const json::exception&) {
    return false;
  }
}

double seconds_of_earlier_sessions(const RunDir& dir) {
  try {
    std::ifstream in(dir.path() / "summary.json");
    return in ? json::parse(in).value("seconds_total", 0.0) : 0.0;
  } catch (const json::exception&) {
    return 0.0;
  }
}

Recorder Recorder::create(fs::path dir, bool force) { return Recorder(std::move(dir), force, false); }

Recorder Recorder::resume(fs::path dir) {
  Recorder r(std::move(dir), false, true);
  r.dir_.emplace(RunDir::open(r.path_));
  auto read = r.dir_->read_events();
  if (read.torn_lines) {
    r.notice("skipped " + std::to_string(read.torn_lines) + " torn line(s) of events.jsonl (cut by a crash)");
    r.rewrite_ = true;
  }
  r.events_ = std::move(read.events);
  for (const auto& e : r.events_)
    if (e.contains("eval")) r.evaluations_.push_back(e);
  return r;
}

json Recorder::recorded_config() const {
  if (!dir_) throw std::logic_error("Recorder::recorded_config: a new run has no config.json yet");
  return dir_->read_config();
}

std::string Recorder::design_key(const json& event) {
  const auto d = event.find("design");
  if (d != event.end() && !d->is_null()) return d->dump();
  const auto p = event.find("params");
  return p != event.end() ? p->dump() : std::string();
}

void Recorder::keep_recorded(std::size_t n, const std::string& why) {
  std::size_t seen = 0, line = 0;
  for (; line < events_.size(); ++line)
    if (events_[line].contains("eval") && seen++ == n) break;
  cut_events(line, why);
}

void Recorder::keep_recorded_lines(std::size_t n, const std::string& why) { cut_events(n, why); }

void Recorder::cut_events(std::size_t n, const std::string& why) {
  if (n >= events_.size()) return;
  std::size_t evaluations = 0;
  for (std::size_t i = n; i < events_.size(); ++i) evaluations += events_[i].contains("eval");
  const std::size_t others = events_.size() - n - evaluations;
  notice("dropped " + std::to_string(evaluations) + " evaluation(s)" +
         (others ? " and " + std::to_string(others) + " other event(s)" : std::string()) + " " + why + "; they run again");
  events_.resize(n);
  rewrite_ = true;
  evaluations_.clear();
  for (const auto& e : events_)
    if (e.contains("eval")) evaluations_.push_back(e);
}

void Recorder::start(const json& config, long long budget, ExportBest export_best,
                     std::function<void(const Progress&)> on_progress) {
  if (!dir_) dir_.emplace(RunDir::create(path_, force_));
  if (rewrite_) dir_->rewrite_events(events_);
  dir_->write_config(config);
  area_objective_ = area_objective_of(config.value("task", json()));
  export_best_ = std::move(export_best);
  on_progress_ = std::move(on_progress);
  t0_ = std::chrono::steady_clock::now();
  progress_ = Progress();
  progress_.budget = budget;
  for (const auto& v : dir_->read_verifications())
    if (!v.value("passed", true)) refuted_.insert(design_key(v));
  for (const auto& e : events_) {
    if (!e.contains("eval")) continue;  // a note
    ++progress_.evaluations;
    progress_.cache_hits += e.value("cache_hit", false);
    if (!own_best_) consider_best(e, nullptr);
  }
  events_written_ = events_.size();
}

// A reward that is not a finite number (recorded as null) never becomes the best design.
// A design that failed at rtl is never the best again.
void Recorder::consider_best(const json& event, const json* metrics) {
  const auto reward = event.find("reward");
  if (reward == event.end() || !reward->is_number() || !std::isfinite(reward->get<double>())) return;
  if (progress_.has_best && reward->get<double>() <= progress_.best_reward) return;
  if (refuted_.count(design_key(event)) || (eligible_ && !eligible_(event))) return;
  progress_.has_best = true;
  progress_.best_reward = *reward;
  best_ = event;
  if (!metrics || !export_best_) return;
  json m = *metrics;
  m["verified"] = false;  // until finish() checks it at rtl
  export_best_(*dir_, event, m);
}

json Recorder::record(const Evaluation& e) {
  const json& m = e.metrics;
  json event = e.where;
  event["eval"] = progress_.evaluations;
  event["design"] = e.design;
  event["params"] = e.params;
  // JSON has no NaN: a non-finite reward is written as null.
  event["reward"] = std::isfinite(e.reward) ? json(e.reward) : json(nullptr);
  event["cycles"] = m.value("cycles", 0LL);
  if (m.contains("cycles_model")) event["cycles_model"] = m.value("cycles_model", 0LL);
  event["transistors"] = m.value("transistors", 0LL);
  // The task's area objective, when it is another figure (its Pareto front is on it).
  if (area_objective_ != "transistors") event[area_objective_] = m.value(area_objective_, 0LL);
  event["correct"] = m.contains("correct") ? m["correct"] : json(nullptr);
  event["cache_hit"] = e.cache_hit;
  event["seconds"] = m.value("seconds", 0.0);
  if (m.contains("error") && m["error"].is_object())
    event["error"] = {{"category", m["error"].value("category", std::string())},
                      {"message", m["error"].value("message", std::string())}};
  dir_->append_event(event);
  ++events_written_;
  evaluations_.push_back(event);
  ++progress_.evaluations;
  progress_.cache_hits += e.cache_hit;
  if (!own_best_) consider_best(event, &m);
  return event;
}

void Recorder::note(const json& event) {
  dir_->append_event(event);
  ++events_written_;
}

void Recorder::set_best(const json& event, const json& metrics) {
  const auto reward = event.find("reward");
  progress_.has_best = true;
  progress_.best_reward = reward != event.end() && reward->is_number() ? reward->get<double>() : 0.0;
  const bool same = best_ == event;
  best_ = event;
  if (same && best_holds(*dir_, event)) return;
  if (export_best_) export_best_(*dir_, event, metrics);
}

double Recorder::session_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Recorder::report_progress() {
  progress_.seconds = session_seconds();
  if (on_progress_) on_progress_(progress_);
}

void Recorder::verify_best(const VerifyBest& verify) {
  try {  // best/ holds the verified best already (a session that changed nothing)
    std::ifstream in(dir_->path() / "best" / "metrics.json");
    if (in && best_holds(*dir_, best_) && json::parse(in).value("verified", false) == true) {
      best_verified_ = true;
      return;
    }
  } catch (const json::exception&) {
  }
  // The evaluations by reward, highest first (the earlier of equal ones first), one per design.
  std::vector<const json*> order;
  std::set<std::string> seen;
  for (const auto& e : evaluations_) {
    const auto r = e.find("reward");
    if (r == e.end() || !r->is_number() || !std::isfinite(r->get<double>())) continue;
    if (refuted_.count(design_key(e)) || (eligible_ && !eligible_(e)) || !seen.insert(design_key(e)).second) continue;
    order.push_back(&e);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const json* a, const json* b) { return (*a)["reward"].get<double>() > (*b)["reward"].get<double>(); });
  json first_failure, first_metrics;
  for (std::size_t i = 0; i < order.size() && i < static_cast<std::size_t>(kVerifyTries); ++i) {
    const json& e = *order[i];
    json m = verify(e);
    // A tool that is missing or broken says nothing of the design: the best stays unverified.
    if (m.contains("error") && m["error"].is_object() && m["error"].value("category", std::string()) == "environment") {
      notice("the best design could not be verified at rtl: " + m["error"].value("message", std::string()) +
             "; best/ says it is not verified");
      return;
    }
    const bool passed = m.value("correct", json()) == true && !(m.contains("error") && m["error"].is_object());
    json line = {{"eval", e["eval"]}, {"design", e.value("design", json())},
                 {"params", e.value("params", json())}, {"fidelity", "rtl"}, {"passed", passed},
                 {"correct", m.value("correct", json())}, {"mismatches", m.value("mismatches", 0LL)}};
    if (m.contains("error") && m["error"].is_object()) line["error"] = m["error"];
    dir_->append_verification(line);
    m["verified"] = passed;
    if (passed) {
      best_ = e;
      progress_.best_reward = e["reward"].get<double>();
      best_verified_ = true;
      if (export_best_) export_best_(*dir_, e, m);
      return;
    }
    refuted_.insert(design_key(e));
    std::string why = m.contains("error") && m["error"].is_object() ? m["error"].value("message", std::string())
                                                                    : std::to_string(m.value("mismatches", 0LL)) + " outputs differ from the golden model";
    notice("the best design so far (evaluation " + e["eval"].dump() + ", reward " + e["reward"].dump() +
           ") fails at rtl: " + why.substr(0, 200) + "; the next best is tried");
    if (first_failure.is_null()) {
      first_failure = e;
      first_metrics = m;
    }
  }
  if (first_failure.is_null()) return;
  best_ = first_failure;
  progress_.best_reward = first_failure["reward"].get<double>();
  best_verified_ = false;
  if (export_best_) export_best_(*dir_, first_failure, first_metrics);
  notice("none of the " + std::to_string(std::min<std::size_t>(order.size(), kVerifyTries)) +
         " best designs passed at rtl: best/ holds evaluation " + first_failure["eval"].dump() + ", marked as failing");
}

void Recorder::finish(const std::function<json(const json& best_event)>& metrics_of, const VerifyBest& verify) {
  if (verify && progress_.has_best && !own_best_) {
    verify_best(verify);
  } else if (progress_.has_best && !best_holds(*dir_, best_)) {
    const json best = best_, metrics = metrics_of(best);
    progress_.has_best = false;
    consider_best(best, &metrics);
  }
  progress_.seconds = session_seconds();
}

json Recorder::write_summary(json fields, bool complete) {
  const double before = resuming_ ? seconds_of_earlier_sessions(*dir_) : 0.0;
  fields["evaluations"] = progress_.evaluations;
  fields["cache_hits"] = progress_.cache_hits;
  fields["best_reward"] = progress_.has_best ? json(progress_.best_reward) : json(nullptr);
  fields["best"] = best_;
  fields["best_verified"] = best_verified_;
  json front = json::array();  // runs/pareto.h: the non-dominated designs, the task's area and cycles
  std::vector<json> candidates;
  for (const auto& e : evaluations_)
    if (!eligible_ || eligible_(e)) candidates.push_back(e);
  for (const auto& p : pareto_front(admissible_points(candidates, area_objective_))) front.push_back(p.to_json());
  fields["pareto"] = front;
  fields["seconds_this_session"] = progress_.seconds;
  fields["seconds_total"] = before + progress_.seconds;
  fields["complete"] = complete;
  dir_->write_summary(fields);
  return fields;
}

}  // namespace chipgym::runs
