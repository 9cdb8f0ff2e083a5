// ONNX import: the GEMMs a model implies, after ONNX's own shape inference.
#include "env/workload.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

namespace chipgym::env {

namespace {

using hdl::ParamError;
using Dims = std::vector<long long>;  // -1: unknown after shape inference

std::string dims_text(const Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + (d[i] < 0 ? std::string("?") : std::to_string(d[i]));
  return s + "]";
}

long long product(const Dims& d, std::size_t from, std::size_t to) {
  long long p = 1;
  for (std::size_t i = from; i < to; ++i) p *= d[i];
  return p;
}

bool known(const Dims& d) {
  return std::all_of(d.begin(), d.end(), [](long long v) { return v > 0; });
}

// Nodes that carry multiply-accumulates this importer does not lower: their MACs are missing
// from the totals, so they are reported apart from the element-wise operators.
const std::set<std::string> kUnloweredMacs = {"ConvTranspose", "Einsum", "LSTM", "GRU", "RNN", "Attention",
                                             "MultiHeadAttention", "FusedMatMul", "DeformConv", "QAttention",
                                             "ConvTransposeWithDynamicPads"};

struct Graph {
  const onnx::GraphProto& g;
  std::map<std::string, Dims> shapes;
  std::set<std::string> initializers;

  explicit Graph(const onnx::GraphProto& graph) : g(graph) {
    auto add = [&](const onnx::ValueInfoProto& v) {
      if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
      Dims d;
      for (const auto& dim : v.type().tensor_type().shape().dim()) d.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
      shapes[v.name()] = d;
    };
    for (const auto& v : g.input()) add(v);
    for (const auto& v : g.value_info()) add(v);
    for (const auto& v : g.output()) add(v);
    for (const auto& t : g.initializer()) {
      shapes[t.name()] = Dims(t.dims().begin(), t.dims().end());
      initializers.insert(t.name());
    }
    for (const auto& n : g.node())  // Constant nodes: their tensor's dims
      if (n.op_type() == "Constant" && n.output_size() == 1)
        for (const auto& a : n.attribute())
          if (a.name() == "value" && a.has_t()) shapes[n.output(0)] = Dims(a.t().dims().begin(), a.t().dims().end());
  }

  std::optional<Dims> shape(const onnx::NodeProto& n, int input) const {
    if (input >= n.input_size() || n.input(input).empty()) return std::nullopt;
    auto it = shapes.find(n.input(input));
    if (it == shapes.end() || !known(it->second)) return std::nullopt;
    return it->second;
  }
  std::optional<Dims> output_shape(const onnx::NodeProto& n) const {
    if (n.output_size() == 0) return std::nullopt;
    auto it = shapes.find(n.output(0));
    if (it == shapes.end() || !known(it->second)) return std::nullopt;
    return it->second;
  }
};

const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
long long int_attribute(const onnx::NodeProto& n, const std::string& name, long long fallback) {
  const auto* a = attribute(n, name);
  return a ? a->i() : fallback;
}
Dims ints_attribute(const onnx::NodeProto& n, const std::string& name) {
  const auto* a = attribute(n, name);
  return a ? Dims(a->ints().begin(), a->ints().end()) : Dims{};
}
std::string layer_name(const onnx::NodeProto& n) {
  if (!n.name().empty()) return n.name();
  return n.output_size() ? n.output(0) : n.op_type();
}

// MatMul semantics (numpy): A [..., M, K] x B [..., K, N]; a 1-D A is one row, a 1-D B one
// column. Against a 2-D B (a weight), A's leading dims fold into M: one GEMM with the weight
// loaded once. With batch dims on both sides (attention's Q x K^T and P x V, per head), the
// broadcast batch dims become the count of independent GEMMs.
std::optional<LayerGemm> lower_matmul(const std::string& layer, const std::string& op, Dims a, Dims b) {
  if (a.empty() || b.empty()) return std::nullopt;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  LayerGemm g;
  g.layer = layer;
  g.op = op;
  g.k = a.back();
  g.n = b.back();
  if (b[b.size() - 2] != g.k) return std::nullopt;
  const long long a_batch = product(a, 0, a.size() - 2), rows = a[a.size() - 2];
  if (b.size() == 2) {
    g.m = a_batch * rows;
    if (a.size() > 2) g.note = "leading dims " + dims_text(Dims(a.begin(), a.end() - 2)) + " folded into M";
    return g;
  }
  // Broadcast the batch dims, right-aligned.
  Dims ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2), batch;
  const std::size_t r = std::max(ab.size(), bb.size());
  for (std::size_t i = 0; i < r; ++i) {
    const long long x = i + ab.size() >= r ? ab[i + ab.size() - r] : 1, y = i + bb.size() >= r ? bb[i + bb.size() - r] : 1;
    if (x != y && x != 1 && y != 1) return std::nullopt;
    batch.push_back(std::max(x, y));
  }
  g.m = rows;
  g.count = product(batch, 0, batch.size());
  g.note = "batched over " + dims_text(batch) + ": " + std::to_string(g.count) + " GEMMs";
  return g;
}

std::string conv_note(const ConvShape& c, const std::string& extra = "") {
  std::ostringstream os;
  os << "im2col ";
  for (std::size_t i = 0; i < c.kernel.size(); ++i) os << (i ? "x" : "") << c.kernel[i];
  auto all_one = [](const Dims& d) { return std::all_of(d.begin(), d.end(), [](long long v) { return v == 1; }); };
  auto list = [](const Dims& d) {
    std::string s;
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
    return s;
  };
  if (!c.strides.empty() && !all_one(c.strides)) os << " stride " << list(c.strides);
  if (std::any_of(c.pads.begin(), c.pads.end(), [](long long v) { return v != 0; })) os << " pad " << list(c.pads);
  if (!c.dilations.empty() && !all_one(c.dilations)) os << " dilation " << list(c.dilations);
  if (c.groups > 1)
    os << (c.groups == c.in_channels ? " depthwise (" : " ") << "groups " << c.groups << (c.groups == c.in_channels ? ")" : "");
  return os.str() + extra;
}

std::optional<LayerGemm> lower_conv(const Graph& graph, const onnx::NodeProto& n, int x_input, int w_input,
                                    std::string& why) {
  auto x = graph.shape(n, x_input), w = graph.shape(n, w_input);
  if (!x || !w || x->size() < 3 || w->size() != x->size()) {
    why = "input or weight shape unknown after shape inference";
    return std::nullopt;
  }
  ConvShape c;
  const std::size_t spatial = x->size() - 2;
  c.batch = (*x)[0];
  c.in_channels = (*x)[1];
  c.out_channels = (*w)[0];
  c.groups = int_attribute(n, "group", 1);
  c.input.assign(x->begin() + 2, x->end());
  c.kernel.assign(w->begin() + 2, w->end());
  c.strides = ints_attribute(n, "strides");
  c.dilations = ints_attribute(n, "dilations");
  c.pads = ints_attribute(n, "pads");
  if (c.strides.empty()) c.strides.assign(spatial, 1);
  if (c.dilations.empty()) c.dilations.assign(spatial, 1);
  if (c.pads.empty()) c.pads.assign(2 * spatial, 0);
  const auto* auto_pad = attribute(n, "auto_pad");
  const std::string pad_mode = auto_pad ? auto_pad->s() : "NOTSET";
  if (pad_mode == "SAME_UPPER" || pad_mode == "SAME_LOWER") {
    // ONNX: output = ceil(input / stride); the total padding splits with the odd one at the end
    // (SAME_UPPER) or at the beginning (SAME_LOWER).
    for (std::size_t i = 0; i < spatial; ++i) {
      const long long out = (c.input[i] + c.strides[i] - 1) / c.strides[i];
      const long long total = std::max(0LL, (out - 1) * c.strides[i] + (c.kernel[i] - 1) * c.dilations[i] + 1 - c.input[i]);
      c.pads[i] = pad_mode == "SAME_UPPER" ? total / 2 : total - total / 2;
      c.pads[i + spatial] = total - c.pads[i];
    }
  } else if (pad_mode == "VALID") {
    c.pads.assign(2 * spatial, 0);
  }
  if (c.groups < 1 || c.in_channels % c.groups || c.out_channels % c.groups || (*w)[1] * c.groups != c.in_channels) {
    why = "weight " + dims_text(*w) + " does not match input " + dims_text(*x) + " with group " + std::to_string(c.groups);
    return std::nullopt;
  }
  Dims out;
  LayerGemm g = conv_gemm(layer_name(n), c, &out);
  g.op = n.op_type();
  // ONNX's own inference is the authority on the output size; they must agree.
  if (auto y = graph.output_shape(n); y && Dims(y->begin() + 2, y->end()) != out) {
    why = "output " + dims_text(*y) + " disagrees with the convolution arithmetic " + dims_text(out);
    return std::nullopt;
  }
  return g;
}

void fill_dynamic_dims(onnx::ModelProto& model, const ImportOptions& o, Workload& w) {
  std::set<std::string> initializers;
  for (const auto& t : model.graph().initializer()) initializers.insert(t.name());
  for (auto& input : *model.mutable_graph()->mutable_input()) {
    if (initializers.count(input.name()) || !input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
      continue;
    auto* shape = input.mutable_type()->mutable_tensor_type()->mutable_shape();
    for (int i = 0; i < shape->dim_size(); ++i) {
      auto* dim = shape->mutable_dim(i);
      if (dim->has_dim_value() && dim->dim_value() > 0) continue;
      // The dim's own name says what it is when it can ("batch_size", "sequence_length");
      // otherwise the first dim is the batch and the others are sequence-like.
      std::string param = dim->has_dim_param() ? dim->dim_param() : "";
      std::string lower = param;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
      const bool is_batch = lower.find("batch") != std::string::npos ||
                            (i == 0 && lower.find("seq") == std::string::npos && lower.find("len") == std::string::npos);
      const auto& value = is_batch ? o.batch : o.seq;
      const std::string option = is_batch ? "--batch" : "--seq";
      if (!value)
        throw ParamError("input '" + input.name() + "' dim " + std::to_string(i) +
                         (param.empty() ? std::string(" (unnamed)") : " ('" + param + "')") +
                         " is dynamic; give " + option + (is_batch ? " B" : " S") +
                         " (--batch fills a dynamic batch dim, --seq the sequence and other dynamic dims)");
      dim->clear_dim_param();
      dim->set_dim_value(*value);
      w.dims[is_batch ? "batch" : "seq"] = *value;
    }
  }
}

}  // namespace

LayerGemm conv_gemm(const std::string& layer, const ConvShape& c, std::vector<long long>* output) {
  const std::size_t spatial = c.input.size();
  auto at = [](const Dims& d, std::size_t i, long long fallback) { return i < d.size() ? d[i] : fallback; };
  long long out_points = 1, window = 1;
  Dims out;
  for (std::size_t i = 0; i < spatial; ++i) {
    const long long stride = at(c.strides, i, 1), dilation = at(c.dilations, i, 1);
    const long long pad = at(c.pads, i, 0) + at(c.pads, i + spatial, 0);
    const long long extent = dilation * (c.kernel[i] - 1) + 1;  // the dilated window
    const long long o = (c.input[i] + pad - extent) / stride + 1;
    if (o < 1) throw ParamError("convolution '" + layer + "': the window is larger than the padded input");
    out.push_back(o);
    out_points *= o;
    window *= c.kernel[i];
  }
  if (output) *output = out;
  // Implicit GEMM per group: every output position is a row of the im2col matrix (M), every
  // input channel of the group times the window a column (K), every output channel of the
  // group a column of the weight matrix (N). Depthwise: groups = channels, K = the window.
  LayerGemm g;
  g.layer = layer;
  g.op = "Conv";
  g.m = c.batch * out_points;
  g.k = c.in_channels / c.groups * window;
  g.n = c.out_channels / c.groups;
  g.count = c.groups;
  g.note = conv_note(c);
  return g;
}

long long Workload::total_macs() const {
  long long s = 0;
  for (const auto& g : gemms) s += g.macs();
  return s;
}

long long Workload::total_bytes() const {
  long long s = 0;
  for (const auto& g : gemms) s += g.bytes();
  return s;
}

json Workload::to_json() const {
  json layers = json::array();
  for (const auto& g : gemms)
    layers.push_back({{"layer", g.layer}, {"op", g.op}, {"m", g.m}, {"k", g.k}, {"n", g.n}, {"count", g.count},
                      {"macs", g.macs()}, {"bytes", g.bytes()}, {"intensity", g.intensity()}, {"lowering", g.note}});
  const long long macs = total_macs(), bytes = total_bytes();
  return {{"source", source},
          {"model", model},
          {"dims", dims},
          {"gemms", layers},
          {"total", {{"gemms", gemms.size()}, {"macs", macs}, {"bytes", bytes},
                     {"intensity", bytes ? static_cast<double>(macs) / static_cast<double>(bytes) : 0.0}}},
          {"bytes_counted", "each GEMM once: A (M x K) and B (K x N) int8, C (M x N) as 32-bit accumulators, times count"},
          {"skipped", skipped},
          {"unsupported", unsupported},
          {"notes", notes}};
}

std::string Workload::to_text() const {
  std::ostringstream os;
  os << "workload " << source;
  if (!model.empty()) os << "  (" << model << ")";
  if (!dims.empty()) {
    std::string d;
    for (auto it = dims.begin(); it != dims.end(); ++it) d += (d.empty() ? "" : ", ") + it.key() + "=" + it.value().dump();
    os << "  [" << d << "]";
  }
  os << "\n";
  std::size_t layer_w = 5, op_w = 7;
  for (const auto& g : gemms) {
    layer_w = std::max(layer_w, std::min<std::size_t>(g.layer.size(), 36));
    op_w = std::max(op_w, g.op.size() + 1);
  }
  os << "  " << std::left << std::setw(static_cast<int>(layer_w)) << "layer" << "  " << std::setw(static_cast<int>(op_w)) << "op" << std::right
     << std::setw(8) << "M" << std::setw(7) << "K" << std::setw(7) << "N" << std::setw(6) << "x" << std::setw(16)
     << "MACs" << std::setw(14) << "bytes" << std::setw(10) << "MACs/B" << "  lowering\n";
  for (const auto& g : gemms) {
    std::string name = g.layer.size() > 36 ? "..." + g.layer.substr(g.layer.size() - 33) : g.layer;
    os << "  " << std::left << std::setw(static_cast<int>(layer_w)) << name << "  " << std::setw(static_cast<int>(op_w)) << g.op << std::right
       << std::setw(8) << g.m << std::setw(7) << g.k << std::setw(7) << g.n << std::setw(6) << g.count << std::setw(16)
       << with_commas(g.macs()) << std::setw(14) << with_commas(g.bytes()) << std::setw(10) << std::fixed
       << std::setprecision(2) << g.intensity() << "  " << g.note << "\n";
  }
  const long long macs = total_macs(), bytes = total_bytes();
  os << "total: " << gemms.size() << " GEMMs, " << with_commas(macs) << " MACs, " << with_commas(bytes)
     << " bytes moved (int8 A and B, 32-bit C, each once), " << std::fixed << std::setprecision(2)
     << (bytes ? static_cast<double>(macs) / static_cast<double>(bytes) : 0.0) << " MACs/byte\n";
  auto list = [](const std::map<std::string, long long>& m) {
    std::string s;
    for (const auto& [op, n] : m) s += (s.empty() ? "" : ", ") + op + " x" + std::to_string(n);
    return s;
  };
  if (!skipped.empty()) os << "skipped (no GEMM): " << list(skipped) << "\n";
  if (!unsupported.empty()) os << "not lowered (their MACs are NOT in the total): " << list(unsupported) << "\n";
  for (const auto& n : notes) os << "note: " << n << "\n";
  return os.str();
}

json Workload::task_workload(const json& patterns, long long seed) const {
  if (gemms.empty()) throw ParamError("workload " + source + " has no GEMMs to run");
  json shapes = json::array(), layers = json::array();
  for (const auto& g : gemms) {
    shapes.push_back({g.m, g.k, g.n, g.count});
    layers.push_back(g.layer);
  }
  return {{"shapes", shapes}, {"layers", layers}, {"source", source}, {"dims", dims}, {"patterns", patterns}, {"seed", seed}};
}

Workload import_onnx_bytes(const std::string& bytes, const std::string& source, const ImportOptions& options) {
  onnx::ModelProto model;
  // A protobuf parser accepts many byte strings; an ONNX model also has an IR version and a graph.
  if (!model.ParseFromString(bytes) || model.ir_version() <= 0 || !model.has_graph())
    throw ParamError(source + " is not an ONNX model (expected a serialized onnx.ModelProto with an IR version and a graph)");
  Workload w;
  w.source = "onnx:" + source;
  w.model = model.graph().name().empty() ? model.producer_name() : "graph '" + model.graph().name() + "'";
  if (!model.producer_name().empty() && !model.graph().name().empty()) w.model += ", from " + model.producer_name();
  fill_dynamic_dims(model, options, w);
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, /*data propagation*/ true));
  } catch (const std::exception& e) {
    throw ParamError(source + ": ONNX shape inference failed: " + e.what());
  }
  Graph graph(model.graph());
  for (const auto& n : model.graph().node()) {
    const std::string& op = n.op_type();
    std::optional<LayerGemm> g;
    std::string why = "input shapes unknown after shape inference";
    if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") {
      const int b_input = op == "QLinearMatMul" ? 3 : 1;
      auto a = graph.shape(n, 0), b = graph.shape(n, b_input);
      if (a && b) {
        g = lower_matmul(layer_name(n), op, *a, *b);
        if (!g) why = "shapes " + dims_text(*a) + " x " + dims_text(*b) + " do not multiply";
      }
    } else if (op == "Gemm") {
      auto a = graph.shape(n, 0), b = graph.shape(n, 1);
      if (a && b && a->size() == 2 && b->size() == 2) {
        const bool ta = int_attribute(n, "transA", 0), tb = int_attribute(n, "transB", 0);
        LayerGemm x;
        x.layer = layer_name(n);
        x.op = op;
        x.m = ta ? (*a)[1] : (*a)[0];
        x.k = ta ? (*a)[0] : (*a)[1];
        x.n = tb ? (*b)[0] : (*b)[1];
        x.note = std::string(ta ? "A transposed" : "") + (ta && tb ? ", " : "") + (tb ? "B transposed" : "");
        if ((tb ? (*b)[1] : (*b)[0]) == x.k) g = x;
        else why = "shapes " + dims_text(*a) + " x " + dims_text(*b) + " do not multiply with transA/transB";
      }
    } else if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") {
      g = lower_conv(graph, n, 0, op == "QLinearConv" ? 3 : 1, why);
    } else if (kUnloweredMacs.count(op)) {
      ++w.unsupported[op];
      continue;
    } else {
      ++w.skipped[op];
      continue;
    }
    if (g) {
      w.gemms.push_back(*g);
    } else {
      ++w.unsupported[op + " (shape unknown)"];
      w.notes.push_back(op + " '" + layer_name(n) + "' not lowered: " + why);
    }
  }
  return w;
}

Workload import_onnx_file(const std::string& path, const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ParamError("cannot read the model " + path);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return import_onnx_bytes(bytes.str(), path, options);
}

Workload load_workload(const std::string& spec, const ImportOptions& options) {
  if (spec.rfind("zoo:", 0) == 0) return zoo_workload(spec.substr(4), options);
  if (spec.rfind("gen:", 0) == 0) {
    if (options.batch || options.seq)
      throw hdl::ParamError("a generated workload draws its own batch and sequence: --batch and --seq do not apply to " + spec);
    return generated_workload(spec.substr(4));
  }
  return import_onnx_file(spec, options);
}

std::vector<Workload> load_workloads(const std::string& list, const ImportOptions& options) {
  std::vector<std::string> specs;
  auto add = [&](std::string spec) {
    if (std::find(specs.begin(), specs.end(), spec) != specs.end())
      throw hdl::ParamError("--workloads lists " + spec + " twice");
    if (specs.size() >= kMaxWorkloads)
      throw hdl::ParamError("--workloads holds more than " + std::to_string(kMaxWorkloads) + " workloads");
    specs.push_back(std::move(spec));
  };
  std::size_t from = 0;
  while (from <= list.size()) {
    const std::size_t comma = std::min(list.find(',', from), list.size());
    const std::string item = list.substr(from, comma - from);
    from = comma + 1;
    if (item.empty()) continue;
    if (const auto dots = item.find(".."); item.rfind("gen:", 0) == 0 && dots != std::string::npos) {
      const auto colon = item.rfind(':', dots);
      const std::string a = item.substr(colon + 1, dots - colon - 1), b = item.substr(dots + 2);
      auto number = [](const std::string& t) {
        return !t.empty() && t.size() < 19 && t.find_first_not_of("0123456789") == std::string::npos;
      };
      if (!number(a) || !number(b) || std::stoull(a) > std::stoull(b))
        throw hdl::ParamError("a range of generated workloads is gen:KIND:A..B with seeds 0 <= A <= B (e.g. gen:transformer:1..100), not '" +
                              item + "'");
      if (std::stoull(b) - std::stoull(a) >= kMaxWorkloads)
        throw hdl::ParamError("--workloads holds more than " + std::to_string(kMaxWorkloads) + " workloads (" + item + ")");
      for (unsigned long long seed = std::stoull(a); seed <= std::stoull(b); ++seed)
        add(item.substr(0, colon + 1) + std::to_string(seed));
    } else if (std::filesystem::is_directory(item)) {
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(item))
        if (e.is_regular_file() && e.path().extension() == ".onnx") files.push_back(e.path().string());
      if (files.empty()) throw hdl::ParamError("--workloads: the folder " + item + " holds no .onnx file");
      std::sort(files.begin(), files.end());
      for (auto& f : files) add(std::move(f));
    } else {
      add(item);
    }
  }
  if (specs.empty())
    throw hdl::ParamError("--workloads lists no workload: give FILE.onnx, a folder of them, zoo:NAME, gen:KIND:SEED or "
                          "gen:KIND:A..B, separated by commas");
  std::vector<Workload> out;
  for (const auto& spec : specs) out.push_back(load_workload(spec, options));
  return out;
}

std::optional<std::string> closest_name(const std::string& name, const std::vector<std::string>& known) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diag = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (std::tolower(a[i - 1]) != std::tolower(b[j - 1]))});
        diag = up;
      }
    }
    return row[b.size()];
  };
  std::optional<std::string> best;
  std::size_t best_d = 0;
  for (const auto& k : known) {
    const std::size_t d = distance(name, k);
    if (!best || d < best_d) best = k, best_d = d;
  }
  // Close: at most a third of the name is wrong.
  if (best && best_d * 3 <= std::max<std::size_t>(best->size(), 3)) return best;
  return std::nullopt;
}

std::string with_commas(long long v) {
  std::string s = std::to_string(v < 0 ? -v : v), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (v < 0 ? "-" : "") + out;
}

}  // namespace chipgym::env
