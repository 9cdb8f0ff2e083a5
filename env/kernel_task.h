// The kernel part of a task: what `chipgym score` and `chipgym evolve` score a candidate
// against. It is a value: its streaming interface (the protocol: docs/stream.md), a canonical
// Verilog implementation, an integer golden model over whole vectors, fixed edge cases and
// seeded random vectors. Tasks hold it (env/task.h: Task::kernel_part) and register
// themselves under env/tasks/; the kernel of an integer operator is one call:
// stream_task(name, description, module, golden, verilog).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/coverage.h"

namespace chipgym::env {

using json = nlohmann::json;
using Vector = std::vector<long long>;
// The golden model: one input vector to one output vector of the same length.
using GoldenModel = std::function<std::vector<int>(const std::vector<int>&)>;

// The streaming interface of docs/stream.md: module name, ports with signed widths (positive =
// input to the module, negative = output), element signedness and vector length.
struct StreamInterface {
  std::string module;
  std::map<std::string, int> ports;
  bool is_signed = true;
  int vector_length = 16;

  int in_bits() const { return ports.at("in_data"); }
  int out_bits() const { return -ports.at("out_data"); }
  json to_json() const;
  // Throws hdl::ParamError naming the problem (missing port, wrong direction, width > 32 ...).
  static StreamInterface from_json(const json& j);
  // The standard port set with in_data IW bits and out_data OW bits.
  static StreamInterface standard(const std::string& module, int in_bits, int out_bits, bool is_signed,
                                  int vector_length);
  long long min_in() const;
  long long max_in() const;
};

struct KernelTask {
  std::string name;
  std::string description;
  StreamInterface iface;
  std::string canonical_verilog;
  GoldenModel golden;
  std::vector<Vector> extra_edge_cases;  // task-specific ones, besides the generic edge_cases()
  // Output element i depends on input element i only (relu, gelu): a small input domain is
  // then swept exhaustively (env/coverage.h). Set where the task is defined.
  bool elementwise = false;
  // Vectors aimed at the golden model's internal thresholds (env/coverage.h), with why.
  std::vector<DirectedVector> directed;

  json to_json() const;  // name, description, interface (no code, no model)
  // Generic extremes for the interface's input range (all zeros, all minimum, all maximum,
  // alternating min/max, a ramp, one-hot, ...) followed by extra_edge_cases.
  std::vector<Vector> edge_cases() const;
  // The fixed vectors that do not depend on luck: the sweep of every input value at every
  // position (elementwise tasks with at most kMaxSweepValues input values), then `directed`.
  std::vector<DirectedVector> coverage_vectors() const;
  // `count` vectors of vector_length elements, uniform over the input range, from `seed`.
  std::vector<Vector> random_vectors(std::uint64_t seed, int count) const;
  // The golden outputs of one input vector (checked: same length, values fit out_data).
  Vector expected(const Vector& in) const;
};

// A task for an operator given as a plain integer function (the quantized operators).
KernelTask stream_task(std::string name, std::string description, std::string module, GoldenModel golden,
                       std::string canonical_verilog, int in_bits = 8, int out_bits = 8, bool is_signed = true,
                       int vector_length = 16);

// The kernel parts of the registered tasks (env/task.h), in listing order.
std::vector<KernelTask> kernel_tasks();
// The kernel part of a registered task. Throws hdl::ParamError listing the tasks that have one
// (and the nearest name) when `name` has none.
const KernelTask& find_kernel_task(const std::string& name);

}  // namespace chipgym::env
