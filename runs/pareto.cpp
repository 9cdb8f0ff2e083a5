#include "runs/pareto.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>

#include "evaluators/runner.h"
#include "env/task.h"
#include "hdl/param_space.h"
#include "runs/run_dir.h"

namespace chipgym::runs {

namespace fs = std::filesystem;

std::string area_label(const std::string& objective) {
  if (objective == "cells") return "cells (Yosys generic gates)";
  if (objective == "luts") return "iCE40 LUTs (Yosys synth_ice40)";
  return "transistors (Yosys CMOS estimate)";
}

std::string area_objective_of(const json& task) {
  if (!task.is_object() || !task.contains("objectives") || !task["objectives"].is_array() || task["objectives"].empty() ||
      !task["objectives"][0].is_string())
    return "transistors";
  return task["objectives"][0].get<std::string>();
}

json FrontPoint::to_json() const {
  return {{"eval", eval}, {objective, area}, {"cycles", cycles}, {"reward", reward}, {"params", params}};
}

FrontPoint FrontPoint::from_json(const json& j) {
  FrontPoint p;
  p.eval = j.at("eval").get<long long>();
  for (const auto& name : env::area_objectives())
    if (j.contains(name)) {
      p.objective = name;
      break;
    }
  p.area = j.at(p.objective).get<double>();
  p.cycles = j.at("cycles").get<double>();
  p.reward = j.at("reward").get<double>();
  p.params = j.value("params", json());
  return p;
}

std::vector<FrontPoint> admissible_points(const std::vector<json>& events, const std::string& objective) {
  std::vector<FrontPoint> out;
  for (const auto& e : events) {
    if (!e.contains("eval")) continue;
    const auto number = [&](const std::string& k) {
      const auto it = e.find(k);
      return it != e.end() && it->is_number() ? it->get<double>() : 0.0;
    };
    FrontPoint p;
    p.eval = e["eval"].is_number() ? e["eval"].get<long long>() : -1;
    p.objective = objective;
    p.area = number(objective);
    p.cycles = number("cycles") > 0 ? number("cycles") : number("cycles_model");  // not simulated: the exact model
    p.reward = number("reward");
    p.params = e.value("params", json());
    if (p.reward > 0 && std::isfinite(p.reward) && p.area > 0 && p.cycles > 0 && !e.contains("error"))
      out.push_back(std::move(p));
  }
  return out;
}

std::vector<FrontPoint> pareto_front(std::vector<FrontPoint> points) {
  std::stable_sort(points.begin(), points.end(), [](const FrontPoint& a, const FrontPoint& b) {
    if (a.area != b.area) return a.area < b.area;
    if (a.cycles != b.cycles) return a.cycles < b.cycles;
    return a.eval < b.eval;
  });
  std::vector<FrontPoint> front;
  for (auto& p : points)  // by area: a point is on the front when it has fewer cycles than all before it
    if (front.empty() || p.cycles < front.back().cycles) front.push_back(std::move(p));
  return front;
}

Normalisation Normalisation::over(const std::vector<std::vector<FrontPoint>>& fronts) {
  Normalisation n;
  bool any = false;
  for (const auto& f : fronts)
    for (const auto& p : f) {
      const double t = std::log10(p.area), c = std::log10(p.cycles);
      if (!any) {
        n.log_t_min = n.log_t_max = t;
        n.log_c_min = n.log_c_max = c;
        any = true;
      }
      n.log_t_min = std::min(n.log_t_min, t);
      n.log_t_max = std::max(n.log_t_max, t);
      n.log_c_min = std::min(n.log_c_min, c);
      n.log_c_max = std::max(n.log_c_max, c);
    }
  if (n.log_t_max - n.log_t_min < 1e-12) n.log_t_max = n.log_t_min + 1;
  if (n.log_c_max - n.log_c_min < 1e-12) n.log_c_max = n.log_c_min + 1;
  return n;
}

double hypervolume(const std::vector<FrontPoint>& front, const Normalisation& n) {
  constexpr double ref = 1.1;
  std::vector<std::pair<double, double>> pts;
  for (const auto& p : front) {
    const double x = (std::log10(p.area) - n.log_t_min) / (n.log_t_max - n.log_t_min);
    const double y = (std::log10(p.cycles) - n.log_c_min) / (n.log_c_max - n.log_c_min);
    if (x < ref && y < ref) pts.push_back({x, y});
  }
  std::sort(pts.begin(), pts.end());
  std::vector<std::pair<double, double>> kept;  // non-dominated: y strictly falls as x grows
  for (const auto& q : pts)
    if (kept.empty() || q.second < kept.back().second) kept.push_back(q);
  double volume = 0;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const double x_end = i + 1 < kept.size() ? kept[i + 1].first : ref;
    volume += (x_end - kept[i].first) * (ref - kept[i].second);
  }
  return volume;
}

namespace {

std::string number_text(double v) {
  std::ostringstream os;
  os << std::setprecision(6) << v;
  return os.str();
}

std::string params_text(const json& params) {
  if (!params.is_object()) return params.dump();
  std::string s;
  for (auto it = params.begin(); it != params.end(); ++it)
    s += (s.empty() ? "" : ",") + it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
  return s;
}

}  // namespace

std::string ParetoResult::to_text() const {
  std::ostringstream os;
  for (const auto& [name, front] : fronts) {
    os << name << ": " << front.size() << " design(s) on the front (" << objective
       << ", cycles; both lower is better)\n";
    for (const auto& p : front)
      os << "  " << std::setw(12) << number_text(p.area) << "  " << std::setw(10) << number_text(p.cycles)
         << "  eval " << p.eval << "  " << params_text(p.params) << "\n";
  }
  return os.str();
}

json ParetoResult::to_json() const {
  json j = json::object();
  for (const auto& [name, front] : fronts) {
    json f = json::array();
    for (const auto& p : front) f.push_back(p.to_json());
    j[name] = f;
  }
  return {{"fronts", j}, {"objectives", {objective, "cycles"}}, {"files", files}, {"notices", notices}};
}

void plot_fronts(const std::vector<std::pair<std::string, std::vector<FrontPoint>>>& fronts, const std::string& title,
                 const fs::path& out, std::vector<std::string>& files, std::vector<std::string>& notices,
                 const std::string& objective) {
  fs::create_directories(out);
  std::ostringstream data;
  std::string plots;
  int block = 0;
  for (const auto& [name, front] : fronts) {
    data << "# " << name << "\n";
    for (const auto& p : front) data << number_text(p.area) << " " << number_text(p.cycles) << "\n";
    data << "\n\n";
    if (front.empty()) {
      ++block;
      continue;
    }
    const std::string lc = " lc " + std::to_string(block + 1);
    plots += std::string(plots.empty() ? "" : ", ") + "'pareto.dat' index " + std::to_string(block) +
             " using 1:2 with steps lw 2" + lc + " title '" + name + "', 'pareto.dat' index " + std::to_string(block) +
             " using 1:2 with points pt 7 ps 0.8" + lc + " notitle";
    ++block;
  }
  write_atomically(out / "pareto.dat", data.str());
  if (plots.empty()) {
    notices.push_back("no plot: no admissible design on any front");
    return;
  }
  std::ostringstream head;
  head << "set logscale xy\nset xlabel '" << area_label(objective) << "' noenhanced\nset ylabel 'workload cycles'\n"
       << "set grid\nset key top right\nset title '" << title << " (lower left is better)' noenhanced\n";
  const std::string script = head.str() + "set terminal svg size 900,560 dynamic\nset output 'pareto.svg'\nplot " + plots +
                             "\nset terminal pngcairo size 900,560\nset output 'pareto.png'\nplot " + plots + "\n";
  write_atomically(out / "pareto.gp", script);
  files.push_back((out / "pareto.dat").string());
  evaluators::RunRequest req;
  req.argv = {"gnuplot", "pareto.gp"};
  req.cwd = out;
  req.limits.wall_seconds = 60;
  const auto r = evaluators::run_process(req);
  if (r.ok()) {
    files.push_back((out / "pareto.svg").string());
    files.push_back((out / "pareto.png").string());
  } else {
    notices.push_back("no plot: " + r.describe("gnuplot") + " (install gnuplot-nox; the data is in pareto.dat)");
  }
}

ParetoResult pareto(const fs::path& dir, const fs::path& out) {
  ParetoResult result;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw hdl::ParamError(dir.string() + " is not a directory (give a run or a comparison)");
  std::string title;
  if (fs::exists(dir / "config.json") && fs::exists(dir / "events.jsonl")) {
    const RunDir run = RunDir::open(dir);
    const json config = run.read_config();
    const std::string name = config.value("agent", config.value("kind", std::string("run")));
    result.objective = area_objective_of(config.value("task", json()));
    result.fronts.push_back({name, pareto_front(admissible_points(run.read_events().events, result.objective))});
    title = "Pareto front of " + dir.filename().string();
  } else if (fs::exists(dir / "compare.json")) {
    std::map<std::string, std::vector<FrontPoint>> by_agent;
    std::vector<std::string> order;
    std::vector<fs::path> runs;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_directory() && fs::exists(entry.path() / "config.json")) runs.push_back(entry.path());
    std::sort(runs.begin(), runs.end());
    for (const auto& path : runs) {
      const RunDir run = RunDir::open(path);
      const json config = run.read_config();
      const std::string agent = config.value("agent", path.filename().string());
      if (!by_agent.count(agent)) order.push_back(agent);
      result.objective = area_objective_of(config.value("task", json()));  // one task per comparison
      auto points = pareto_front(admissible_points(run.read_events().events, result.objective));
      auto& all = by_agent[agent];
      all.insert(all.end(), points.begin(), points.end());
    }
    if (order.empty()) throw hdl::ParamError(dir.string() + " holds a comparison without runs yet");
    for (const auto& agent : order) result.fronts.push_back({agent, pareto_front(by_agent[agent])});
    title = "Pareto fronts of " + dir.filename().string() + " (each agent: the union of its seeds)";
  } else {
    throw hdl::ParamError(dir.string() + " is neither a run directory (config.json, events.jsonl) nor a comparison (compare.json)");
  }
  plot_fronts(result.fronts, title, out, result.files, result.notices, result.objective);
  return result;
}

}  // namespace chipgym::runs
