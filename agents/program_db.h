// The program database of `chipgym evolve` (AlphaEvolve / MAP-Elites with islands).
//
// Every candidate ever scored is a Program. Each island keeps a MAP-Elites grid over two
// descriptors of passing programs, area (Yosys CMOS transistor estimate, binned on a log2
// scale) and latency (cycles from the first input to the first output, one bin per cycle up
// to the last bin; for design subjects, area and the workload's cycles in half octaves around
// the seed's); a cell holds the fittest program with those descriptors. Every
// `migration_interval` generations the best program of island i is copied to island i+1.
//
// Fitness (higher is better):
//   passing   1000 * throughput / transistors  (output elements per cycle per 1000
//             transistors: a smaller kernel at full rate wins; > 0)
//   failing   a penalty by how far the candidate got: -1 loops or synthesize (a logic loop, a latch), -2
//             simulate (wrong, cheat, timeout), -3 build or lint, -4 refused (screen,
//             interface), -5 no
//             candidate at all (the edit did not apply, no code in the reply)
// so every passing program beats every failing one and a failure that got further ranks higher.
//
// Sampling is seeded and deterministic: the random state is part of the database, so a run
// that stops and resumes draws the same numbers as one that did not stop.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace chipgym::agents {

using json = nlohmann::json;

struct Program {
  int id = -1;
  int parent_id = -1;          // -1: the seed program
  int generation = 0;
  int island = 0;
  std::string origin;          // seed, llm, mutation, migration
  std::string code;
  json report;                 // ScoreReport::to_json() without the per-stage seconds
  bool passed = false;
  double fitness = 0;
  double area = 0;             // transistors (passing programs)
  double latency = 0;          // cycles (passing programs)
  std::string feedback;        // one line for the next prompt (the evaluator's message)
  // The re-verification of a run's best with many more vectors (evolve.cpp): null until it was
  // checked; {verdict, stage, category, message, vectors}. A program that failed it carries the
  // failing report as its `report` (it no longer passes).
  json verification;

  json to_json() const;
  static Program from_json(const json& j);
};

struct ProgramDbConfig {
  int islands = 2;
  int area_bins = 16;          // log2(transistors), clamped to the last bin
  int latency_bins = 8;        // latency cycles, clamped to the last bin
  // Design subjects (agents/evolve_design.h), whose areas and cycle counts are orders of
  // magnitude larger: when > 0, bins are half octaves of area (latency) centred on this value
  // (the seed program's), clamped at both ends.
  double area_origin = 0, latency_origin = 0;
  int migration_interval = 2;  // generations; 0: never
  double exploration = 0.2;    // probability of a uniformly random parent from the island (any verdict)
  int inspirations = 2;        // programs shown beside the parent
  std::uint64_t seed = 1;

  json to_json() const;
  static ProgramDbConfig from_json(const json& j);
};

// Fitness of a score report (ScoreReport::to_json()) as documented above.
double fitness_of(const json& report);
// The penalty of a reply that produced no candidate.
constexpr double kNoCandidatePenalty = -5;

class ProgramDb {
 public:
  explicit ProgramDb(ProgramDbConfig config = {});
  const ProgramDbConfig& config() const { return config_; }

  // Adds a program (its id is assigned here), places it in its island's grid when it passed
  // and the cell is empty or held by a less fit program. Returns the id.
  int add(Program p);
  const Program& get(int id) const { return programs_.at(static_cast<std::size_t>(id)); }
  // Replaces program `id`'s record (the id stays) and rebuilds the grids: how a best that
  // failed its re-verification is demoted (it leaves its cell to the next fittest).
  void replace(int id, Program p);
  const std::vector<Program>& programs() const { return programs_; }
  // The best program (highest fitness, earliest on ties), -1 when empty.
  int best() const;
  int best_in_island(int island) const;  // -1 when the island has no passing program
  // Elite ids of an island, in cell order.
  std::vector<int> elites(int island) const;
  // "area_bin,latency_bin" of a passing program.
  std::pair<int, int> cell_of(const Program& p) const;

  // A parent for the island: with probability `exploration` any program of the island,
  // otherwise a tournament of two among its elites; falls back to the global best.
  int sample_parent(int island);
  // Up to `inspirations` programs other than the parent: the island's best other elites
  // first, then one from another island's elites when there is one (deterministic order).
  std::vector<int> sample_inspirations(int island, int parent);
  // Copies the best passing program of island i into island (i+1) % islands. Returns the new ids.
  std::vector<int> migrate(int generation);

  // The id of a program with exactly this code, or -1 (the evaluation is reused).
  int find_code(const std::string& code) const;

  std::uint64_t next_random();        // splitmix64 over the persisted state
  double uniform();                   // [0, 1)

  // Per-island note for the next prompt (an edit that did not apply, the last failure).
  std::map<int, std::string> island_feedback;
  // Counters summed across sessions: calls, tokens, seconds, next generation to run, ...
  json stats = json::object();

  json to_json() const;
  static ProgramDb from_json(const json& j);
  // Atomic: written to PATH.tmp, then renamed over PATH.
  void save(const std::filesystem::path& path) const;
  // Throws std::runtime_error naming the file when it cannot be read or parsed.
  static ProgramDb load(const std::filesystem::path& path);

 private:
  ProgramDbConfig config_;
  std::vector<Program> programs_;
  std::vector<std::map<std::pair<int, int>, int>> grid_;  // per island: cell -> program id
  std::uint64_t rng_state_ = 0;
  void place(const Program& p);
};

}  // namespace chipgym::agents
