#include "agents/program_db.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "hdl/param_space.h"
#include "hdl/splitmix.h"

namespace chipgym::agents {

namespace fs = std::filesystem;

json Program::to_json() const {
  return {{"id", id},         {"parent_id", parent_id}, {"generation", generation}, {"island", island},
          {"origin", origin}, {"passed", passed},       {"fitness", fitness},       {"area", area},
          {"latency", latency}, {"feedback", feedback}, {"report", report},         {"code", code},
          {"verification", verification}};
}

Program Program::from_json(const json& j) {
  Program p;
  p.id = j.at("id");
  p.parent_id = j.at("parent_id");
  p.generation = j.at("generation");
  p.island = j.at("island");
  p.origin = j.at("origin");
  p.passed = j.at("passed");
  p.fitness = j.at("fitness");
  p.area = j.at("area");
  p.latency = j.at("latency");
  p.feedback = j.at("feedback");
  p.report = j.at("report");
  p.code = j.at("code");
  p.verification = j.value("verification", json());
  return p;
}

json ProgramDbConfig::to_json() const {
  return {{"islands", islands},         {"area_bins", area_bins},     {"latency_bins", latency_bins},
          {"migration_interval", migration_interval}, {"exploration", exploration},
          {"inspirations", inspirations}, {"seed", seed}, {"area_origin", area_origin},
          {"latency_origin", latency_origin}};
}

ProgramDbConfig ProgramDbConfig::from_json(const json& j) {
  ProgramDbConfig c;
  c.islands = j.at("islands");
  c.area_bins = j.at("area_bins");
  c.latency_bins = j.at("latency_bins");
  c.migration_interval = j.at("migration_interval");
  c.exploration = j.at("exploration");
  c.inspirations = j.at("inspirations");
  c.seed = j.at("seed");
  c.area_origin = j.value("area_origin", 0.0);
  c.latency_origin = j.value("latency_origin", 0.0);
  return c;
}

double fitness_of(const json& report) {
  if (report.value("verdict", "") == "pass") {
    const double transistors = report.at("synthesis").at("transistors").get<double>();
    const double throughput = report.at("simulation").value("throughput", 0.0);
    return 1000.0 * throughput / std::max(1.0, transistors);
  }
  const std::string stage = report.value("stage", "");
  if (stage == "synthesize" || stage == "loops") return -1;  // the Yosys stages
  if (stage == "simulate") return -2;
  if (stage == "build" || stage == "lint") return -3;
  return -4;
}

ProgramDb::ProgramDb(ProgramDbConfig config) : config_(config) {
  if (config_.islands < 1 || config_.islands > 64)
    throw hdl::ParamError("islands must be 1..64, not " + std::to_string(config_.islands));
  if (config_.area_bins < 1 || config_.latency_bins < 1) throw hdl::ParamError("MAP-Elites bins must be >= 1");
  if (config_.exploration < 0 || config_.exploration > 1)
    throw hdl::ParamError("exploration must be in [0, 1]");
  if (config_.migration_interval < 0) throw hdl::ParamError("migration interval must be >= 0");
  if (config_.inspirations < 0) throw hdl::ParamError("inspirations must be >= 0");
  grid_.resize(static_cast<std::size_t>(config_.islands));
  // The seed goes through splitmix64's output mix: a linear start (seed * c1 + c2, which the
  // stream then advances by the same c1 each draw) made seed S+1's stream seed S's shifted by
  // one draw, so neighbouring seeds repeated each other's runs.
  std::uint64_t s = config_.seed ^ 0x5851F42D4C957F2DULL;
  rng_state_ = hdl::splitmix64(s);
}

std::uint64_t ProgramDb::next_random() { return hdl::splitmix64(rng_state_); }

double ProgramDb::uniform() { return static_cast<double>(next_random() >> 11) * 0x1.0p-53; }

std::pair<int, int> ProgramDb::cell_of(const Program& p) const {
  auto centred = [](double v, double origin, int bins) {
    return v > 0 ? static_cast<int>(std::floor(2 * std::log2(v / origin))) + bins / 2 : 0;
  };
  const int a = config_.area_origin > 0 ? centred(p.area, config_.area_origin, config_.area_bins)
                : p.area >= 1           ? static_cast<int>(std::floor(std::log2(p.area)))
                                        : 0;
  const int l = config_.latency_origin > 0 ? centred(p.latency, config_.latency_origin, config_.latency_bins)
                                           : std::max(0, static_cast<int>(p.latency));
  return {std::clamp(a, 0, config_.area_bins - 1), std::clamp(l, 0, config_.latency_bins - 1)};
}

void ProgramDb::place(const Program& p) {
  if (!p.passed) return;
  auto& cells = grid_.at(static_cast<std::size_t>(p.island));
  const auto cell = cell_of(p);
  auto it = cells.find(cell);
  if (it == cells.end() || get(it->second).fitness < p.fitness) cells[cell] = p.id;
}

int ProgramDb::add(Program p) {
  if (p.island < 0 || p.island >= config_.islands)
    throw std::logic_error("program island " + std::to_string(p.island) + " out of range");
  p.id = static_cast<int>(programs_.size());
  programs_.push_back(std::move(p));
  place(programs_.back());
  return programs_.back().id;
}

void ProgramDb::replace(int id, Program p) {
  p.id = get(id).id;
  programs_.at(static_cast<std::size_t>(id)) = std::move(p);
  for (auto& cells : grid_) cells.clear();
  for (const auto& q : programs_) place(q);  // in id order, as they were added: the same ties
}

int ProgramDb::best() const {
  int best = -1;
  for (const auto& p : programs_)
    if (best < 0 || p.fitness > get(best).fitness) best = p.id;
  return best;
}

int ProgramDb::best_in_island(int island) const {
  int best = -1;
  for (int id : elites(island))
    if (best < 0 || get(id).fitness > get(best).fitness || (get(id).fitness == get(best).fitness && id < best)) best = id;
  return best;
}

std::vector<int> ProgramDb::elites(int island) const {
  std::vector<int> ids;
  for (const auto& [cell, id] : grid_.at(static_cast<std::size_t>(island))) ids.push_back(id);
  return ids;
}

int ProgramDb::sample_parent(int island) {
  const double u = uniform();
  std::vector<int> members;
  for (const auto& p : programs_)
    if (p.island == island) members.push_back(p.id);
  const auto el = elites(island);
  if ((u < config_.exploration || el.empty()) && !members.empty())
    return members[next_random() % members.size()];
  if (el.empty()) return best();
  // Tournament of two among the elites: the fitter one.
  const int a = el[next_random() % el.size()];
  const int b = el[next_random() % el.size()];
  return get(a).fitness >= get(b).fitness ? a : b;
}

std::vector<int> ProgramDb::sample_inspirations(int island, int parent) {
  std::vector<int> out;
  if (config_.inspirations == 0) return out;
  auto own = elites(island);
  std::stable_sort(own.begin(), own.end(), [&](int a, int b) { return get(a).fitness > get(b).fitness; });
  std::vector<int> others;
  for (int i = 0; i < config_.islands; ++i)
    if (i != island)
      for (int id : elites(i))
        if (id != parent && get(id).code != get(parent).code) others.push_back(id);
  const int from_own = others.empty() ? config_.inspirations : config_.inspirations - 1;
  for (int id : own) {
    if (static_cast<int>(out.size()) >= from_own) break;
    if (id != parent && get(id).code != get(parent).code) out.push_back(id);
  }
  if (!others.empty() && static_cast<int>(out.size()) < config_.inspirations)
    out.push_back(others[next_random() % others.size()]);
  return out;
}

std::vector<int> ProgramDb::migrate(int generation) {
  std::vector<int> added;
  if (config_.islands < 2) return added;
  std::vector<int> bests;
  for (int i = 0; i < config_.islands; ++i) bests.push_back(best_in_island(i));
  for (int i = 0; i < config_.islands; ++i) {
    if (bests[i] < 0) continue;
    const int to = (i + 1) % config_.islands;
    const int there = best_in_island(to);
    if (there >= 0 && get(there).code == get(bests[i]).code) continue;  // already there
    Program copy = get(bests[i]);
    copy.parent_id = bests[i];
    copy.island = to;
    copy.generation = generation;
    copy.origin = "migration";
    added.push_back(add(std::move(copy)));
  }
  return added;
}

int ProgramDb::find_code(const std::string& code) const {
  for (const auto& p : programs_)
    if (p.code == code) return p.id;
  return -1;
}

json ProgramDb::to_json() const {
  json programs = json::array();
  for (const auto& p : programs_) programs.push_back(p.to_json());
  json grid = json::array();
  for (const auto& cells : grid_) {
    json island = json::array();
    for (const auto& [cell, id] : cells) island.push_back({{"area_bin", cell.first}, {"latency_bin", cell.second}, {"id", id}});
    grid.push_back(island);
  }
  json feedback = json::object();
  for (const auto& [island, text] : island_feedback) feedback[std::to_string(island)] = text;
  return {{"format", "chipgym-program-db-1"}, {"config", config_.to_json()}, {"rng_state", rng_state_},
          {"programs", programs}, {"grid", grid}, {"island_feedback", feedback}, {"stats", stats}};
}

ProgramDb ProgramDb::from_json(const json& j) {
  if (j.value("format", "") != "chipgym-program-db-1")
    throw std::runtime_error("not a chipgym program database (format " + j.value("format", std::string("missing")) + ")");
  ProgramDb db(ProgramDbConfig::from_json(j.at("config")));
  db.rng_state_ = j.at("rng_state");
  for (const auto& p : j.at("programs")) {
    db.programs_.push_back(Program::from_json(p));
    if (db.programs_.back().id != static_cast<int>(db.programs_.size()) - 1)
      throw std::runtime_error("program ids are not consecutive");
  }
  // The grid is rebuilt from the programs in order (the same rule placed them) and checked.
  for (const auto& p : db.programs_) db.place(p);
  for (auto it = j.at("island_feedback").begin(); it != j.at("island_feedback").end(); ++it)
    db.island_feedback[std::stoi(it.key())] = it.value().get<std::string>();
  db.stats = j.at("stats");
  return db;
}

void ProgramDb::save(const fs::path& path) const {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << to_json().dump(1) << "\n";
    out.flush();
    if (!out) throw std::runtime_error("cannot write the program database " + tmp.string());
  }
  fs::rename(tmp, path);
}

ProgramDb ProgramDb::load(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the program database " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return from_json(json::parse(ss.str()));
  } catch (const json::exception& e) {
    throw std::runtime_error("corrupt program database " + path.string() + ": " + e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("program database " + path.string() + ": " + e.what());
  }
}

}  // namespace chipgym::agents
