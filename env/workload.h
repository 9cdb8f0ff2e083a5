// Workloads: the GEMMs a neural network implies, as the gemm families consume them.
//
// A workload comes from an ONNX model (MatMul, Gemm, batched matmuls, convolutions lowered to
// implicit GEMM), from the model zoo (env/zoo.cpp: computed from published hyper-parameters),
// or from the built-in shapes of a task. Every GEMM is C[M x N] = A[M x K] x B[K x N], done
// `count` times (attention heads, batch dims of a batched matmul, convolution groups).
#pragma once
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hdl/param_space.h"  // hdl::ParamError: bad input, exit code 2 at the command line

namespace chipgym::env {

using json = nlohmann::json;

// Bytes per element for the traffic figures: int8 operands, 32-bit accumulators written out.
constexpr int kOperandBytes = 1;
constexpr int kAccumulatorBytes = 4;

struct LayerGemm {
  std::string layer;  // the ONNX node name (or output), or the zoo's layer name
  std::string op;     // MatMul, Gemm, Conv, ... (what it was lowered from)
  long long m = 0, k = 0, n = 0, count = 1;
  std::string note;   // how it was lowered, in words ("im2col 3x3 stride 2, groups 32", "12 heads")

  long long macs() const { return m * k * n * count; }
  // Each operand read once and each result written once: the minimum traffic of the layer
  // (an array with too little buffer moves more; the roofline of a design says how much).
  long long bytes() const { return count * ((m * k + k * n) * kOperandBytes + m * n * kAccumulatorBytes); }
  double intensity() const { return bytes() ? static_cast<double>(macs()) / static_cast<double>(bytes()) : 0.0; }
};

struct Workload {
  std::string source;                    // "onnx:FILE" or "zoo:NAME"
  std::string model;                     // the model's own name (graph name, zoo description)
  json dims = json::object();            // symbolic dims filled: {"batch": 1, "seq": 128}
  std::vector<LayerGemm> gemms;
  std::map<std::string, long long> skipped;      // operator -> nodes that imply no GEMM (Relu, Add, ...)
  std::map<std::string, long long> unsupported;  // operator -> nodes that do imply MACs but are not lowered
  std::vector<std::string> notes;                // e.g. a GEMM whose shape stayed unknown after inference

  long long total_macs() const;
  long long total_bytes() const;
  json to_json() const;  // the full report (`chipgym workload --json`)
  std::string to_text() const;
  // The task workload the gemm families read: {"shapes": [[M,K,N,count], ...], "layers": [...],
  // "source": ..., "patterns": ["random"], "seed": 1}.
  json task_workload(const json& patterns = json::array({"random"}), long long seed = 1) const;
};

struct ImportOptions {
  std::optional<long long> batch;  // fills a symbolic first dim of a graph input
  std::optional<long long> seq;    // fills the other symbolic dims of graph inputs
};

// Reads an ONNX model, fills symbolic input dims, runs ONNX shape inference and lowers its
// GEMM-bearing nodes. Throws hdl::ParamError when the file is not ONNX, or when a graph input
// has a dynamic dim that no option fills (naming the input, the dim and the option).
Workload import_onnx_file(const std::string& path, const ImportOptions& options = {});
Workload import_onnx_bytes(const std::string& bytes, const std::string& source, const ImportOptions& options = {});

// The implicit-GEMM lowering of a convolution (im2col), shared by the importer and the zoo.
// Spatial dims in any number (Conv1d/2d/3d); output sizes follow ONNX's Conv formula.
struct ConvShape {
  long long batch = 1, in_channels = 0, out_channels = 0, groups = 1;
  std::vector<long long> input;    // spatial input sizes
  std::vector<long long> kernel;   // spatial kernel sizes
  std::vector<long long> strides, dilations;  // default 1 each
  std::vector<long long> pads;     // begin..., end... (ONNX order); default 0
};
LayerGemm conv_gemm(const std::string& layer, const ConvShape& c, std::vector<long long>* output = nullptr);

// The model zoo (env/zoo.cpp).
struct ZooEntry {
  std::string name, description, source;  // source: the paper / reference of the hyper-parameters
};
const std::vector<ZooEntry>& zoo();
// Throws hdl::ParamError listing the zoo (and the closest name) when `name` is unknown.
Workload zoo_workload(const std::string& name, const ImportOptions& options = {});

// A generated workload, "KIND:SEED" (env/zoo.cpp states each generator's ranges): transformer
// (one layer) or cnn (a whole network). The same spec gives the same GEMMs on every platform.
// Throws hdl::ParamError naming the generators, or the form, when `spec` is neither.
const std::vector<std::string>& generator_kinds();
Workload generated_workload(const std::string& spec);

// `FILE.onnx`, `zoo:NAME` or `gen:KIND:SEED`, as --workload takes it.
Workload load_workload(const std::string& spec, const ImportOptions& options = {});

// A list of workloads, as `train --workloads` takes it: comma-separated entries, each a
// load_workload() spec, a folder (every FILE.onnx in it, by name) or a range of generated
// workloads, gen:KIND:A..B (seeds A to B, at most kMaxWorkloads in all). Throws
// hdl::ParamError for an empty list, an entry listed twice (named), a folder without ONNX
// files, or more than kMaxWorkloads workloads.
constexpr std::size_t kMaxWorkloads = 10000;
std::vector<Workload> load_workloads(const std::string& list, const ImportOptions& options = {});

// "did you mean": the known name closest to `name` by edit distance, if any is close.
std::optional<std::string> closest_name(const std::string& name, const std::vector<std::string>& known);

// 1814073344 -> "1,814,073,344": MACs, bytes and cycles as the tables print them.
std::string with_commas(long long v);

}  // namespace chipgym::env
