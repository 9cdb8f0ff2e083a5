// Rooflines: for one gemm design and a workload, each layer's arithmetic intensity under the
// design's schedule, its ceilings (peak MACs per cycle, the memory ports' bandwidth, an
// optional off-chip bandwidth) and whether it is compute- or memory-bound; table and plot.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "env/task.h"
#include "hdl/param_space.h"

namespace chipgym::runs {

struct RooflineOptions {
  env::Task task;
  hdl::Params params;
  std::optional<double> dram_bytes_per_cycle;  // off-chip bandwidth, when the user gives one
  std::filesystem::path out;                   // roofline.dat, .gp, .svg, .png; empty: no files
};

struct RooflineResult {
  nlohmann::json table;              // design, ceilings, per-layer rows, totals
  std::vector<std::string> files;    // written
  std::vector<std::string> notices;  // e.g. no plot without gnuplot
  std::string to_text() const;
};

// Throws hdl::ParamError for a task that is not of the gemm family.
RooflineResult roofline(const RooflineOptions& o);

}  // namespace chipgym::runs
