// Pareto fronts of runs: the designs no other design beats on both an area objective and
// workload cycles (both minimised), their hypervolume, and `chipgym pareto` (a run's or a
// comparison's fronts as a table and a plot). The scalar objectives stay as they are: a front
// is recorded beside them, from the events every run already writes.
//
// The area objective is the task's (env::Task::objectives, `"objectives": [AREA, "cycles"]` in
// a task's JSON): transistors (the default, Yosys' CMOS estimate), cells (generic gates), or
// luts (iCE40 LUTs, for a task bound for an FPGA).
//
// A design is on a front only if it is admissible: its reward is positive (the tasks'
// objectives are >= 0, and their penalties, -1 over budget, -2 incorrect, -3 an error, and 0
// outside a constraint, leave it off) and it has its area objective and cycles (the simulated
// count, or the exact cycle model's where the design was not simulated).
//
// Hypervolume: both objectives on a log10 scale, normalised to [0, 1] by the smallest and
// largest admissible value any of the compared runs saw (ideal 0, nadir 1), the reference point
// at (1.1, 1.1). A run's hypervolume is then in [0, 1.21]; larger is better, and only runs
// normalised together are comparable.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace chipgym::runs {

using json = nlohmann::json;

// How an axis names each area objective (env::area_objectives()).
std::string area_label(const std::string& objective);
// The area objective of a task given as JSON (a run's config.json "task"): its "objectives"'
// first entry, else transistors.
std::string area_objective_of(const json& task);

struct FrontPoint {
  long long eval = -1;
  std::string objective = "transistors";  // what `area` measures (env::area_objectives())
  double area = 0, cycles = 0, reward = 0;
  json params;
  json to_json() const;                        // the area under its objective's name
  static FrontPoint from_json(const json& j);  // what to_json() gave; throws json::exception
};

// The admissible designs among `events` (events.jsonl lines; notes without eval are skipped),
// on the area objective `objective`.
std::vector<FrontPoint> admissible_points(const std::vector<json>& events, const std::string& objective = "transistors");
// The non-dominated subset, by area ascending (of equal points, the earliest evaluation).
std::vector<FrontPoint> pareto_front(std::vector<FrontPoint> points);

struct Normalisation {
  double log_t_min = 0, log_t_max = 1, log_c_min = 0, log_c_max = 1;
  // Over every point of every front given (a span of zero is widened to 1).
  static Normalisation over(const std::vector<std::vector<FrontPoint>>& fronts);
};
// The 2-D hypervolume of `front` under `n`, reference point (1.1, 1.1).
double hypervolume(const std::vector<FrontPoint>& front, const Normalisation& n);

struct ParetoResult {
  // One front per series: a run (its own), or per agent of a comparison (the union of its
  // seeds' fronts, non-dominated again).
  std::vector<std::pair<std::string, std::vector<FrontPoint>>> fronts;
  std::string objective = "transistors";  // the area objective of the runs' task
  std::vector<std::string> files, notices;
  std::string to_text() const;
  json to_json() const;
};

// `chipgym pareto DIR`: DIR is a run directory (config.json, events.jsonl) or a comparison's
// (compare.json and one run per agent and seed). Writes pareto.dat, pareto.gp and, with gnuplot,
// pareto.svg and pareto.png into `out`. Throws hdl::ParamError for a directory that is neither.
ParetoResult pareto(const std::filesystem::path& dir, const std::filesystem::path& out);

// Draws `fronts` (log-log, area vs cycles, one step line per series) into `out`/pareto.*;
// returns the files written, or a notice when gnuplot fails.
void plot_fronts(const std::vector<std::pair<std::string, std::vector<FrontPoint>>>& fronts, const std::string& title,
                 const std::filesystem::path& out, std::vector<std::string>& files, std::vector<std::string>& notices,
                 const std::string& objective = "transistors");

}  // namespace chipgym::runs
