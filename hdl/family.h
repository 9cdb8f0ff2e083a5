// A design family: a typed parameter space, a deterministic Verilog generator, a golden
// reference (through a family-owned Verilator harness), and an architectural cycle model.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hdl/param_space.h"

namespace chipgym::hdl {

// Generated RTL: Verilog files by name, the top module, and the interface it implements.
struct Rtl {
  std::map<std::string, std::string> files;  // file name -> Verilog text
  std::string top;
  json interface;                             // ports and protocol, for humans and harnesses
  std::vector<std::string> modules;           // module names defined, in emission order
  std::string source() const;                 // all files with their names, in name order (for hashing)
};

// The input of one simulation: text the harness reads on stdin, and what the family needs
// to check the harness output afterwards (golden outputs, kept by the family).
struct Stimulus {
  std::string harness_input;
  json expected;  // family-private
  // What the check compares against where it does not follow from harness_input (golden
  // vectors that come with their outputs): part of the simulate stage's cache key when set.
  std::string check_key;
};

struct SimCheck {
  bool correct = false;
  long long checked = 0;        // output values compared
  long long mismatches = 0;
  long long cycles = 0;         // total over the workload
  std::vector<long long> cycles_per_problem;
  std::string first_mismatch;   // human-readable: where, expected, got
  std::string error;            // non-empty if the harness output could not be understood, or the
                                // design failed the check (a protocol violation, ...)
  std::string category;         // with error: its Metrics category (evaluators/metrics.h); empty:
                                // sim_timeout when the error says "timeout", else sim_crash
  json details = json::object();  // the check's own figures, kept in Metrics::stages.simulate.details
};

class Family {
 public:
  virtual ~Family() = default;
  virtual std::string name() const = 0;
  virtual int version() const = 0;  // bump when generated Verilog or models change
  virtual std::string description() const = 0;
  virtual const ParamSpace& space() const = 0;

  virtual Rtl emit(const Params& p) const = 0;
  // C++ source of the Verilator testbench (main()), compiled together with the model.
  virtual std::string harness_cpp() const = 0;
  // A Verilog testbench (module chipgym_tb) instead: when non-empty, the simulate stage runs the
  // design with Icarus Verilog (4-state: X and Z stay visible; no C++ build). It reads the
  // stimulus's harness_input from the file stimulus.txt and prints what check() reads; with
  // +vcd=FILE it writes a waveform there.
  virtual std::string harness_verilog() const { return {}; }
  // Workload is family-specific JSON (e.g. GEMM shapes and a data seed).
  virtual Stimulus stimulus(const Params& p, const json& workload) const = 0;
  virtual SimCheck check(const Params& p, const Stimulus& s, const std::string& harness_output) const = 0;
  // Architectural cycle model: must equal the RTL cycle count exactly.
  virtual long long model_cycles(const Params& p, const json& workload) const = 0;
  // Figures that follow from parameters and workload alone (e.g. MAC count, peak MAC/cycle).
  virtual json derived(const Params& p, const json& workload) const = 0;
  // A task's objective for evaluated metrics (evaluators::Metrics::to_json(), with "derived")
  // under the task's budget (family-specific JSON). Returns an object with "objective"
  // (higher is better; 0 when the family's own admissibility fails, e.g. over budget) and
  // "within_budget" (false: infeasible), plus the figures behind it. An empty object means
  // nothing can be scored (e.g. no area at this fidelity). Errors and incorrect simulations
  // are handled by the caller (env::Task), not here.
  virtual json score(const json& metrics, const json& budget) const = 0;
};

// A family's entry in the registry (hdl/registry.h). A family registers itself in its own
// file, beside its definition:
//   namespace { const Registration<FamilyEntry> registered{{"gemm", &gemm_family}}; }
// The family object is built on first use (get), never during static initialization.
struct FamilyEntry {
  std::string name;            // equals get().name()
  const Family& (*get)();
};

// Every registered family, by name.
std::vector<const Family*> families();
// Throws ParamError naming the known families (and the nearest) when `name` is unknown.
const Family& family(const std::string& name);

// A family built from its workload: a design that exists for the evaluations of one workload
// only, such as `chipgym score`'s stream kernel, whose golden vectors are its workload
// (env/score.cpp). Registered like a family, but never listed among the families; it lets a
// job that names it travel to another process (an MPI worker rank) and be rebuilt there.
struct WorkloadFamilyEntry {
  std::string name;  // equals build(workload)->name()
  std::shared_ptr<const Family> (*build)(const json& workload);  // throws ParamError on a bad workload
};

// The family `name` for an evaluation of `workload`: a registered family (not owned), else
// one built from the workload. Throws ParamError naming the known families when neither is.
std::shared_ptr<const Family> family_for(const std::string& name, const json& workload);

}  // namespace chipgym::hdl
