// The model zoo: workloads computed from published architecture hyper-parameters (layer
// counts, widths, heads, kernel sizes, strides), never from typed-in GEMM tables. Each model
// is built by the same lowering the ONNX importer uses (conv_gemm for convolutions). Beside it,
// seeded generators of plausible transformer layers and CNNs (gen:KIND:SEED), built by the same
// code from drawn hyper-parameters, so that policies can train on hundreds of workloads while
// the zoo's models stay held out.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>

#include "env/workload.h"
#include "hdl/splitmix.h"

namespace chipgym::env {

namespace {

using hdl::ParamError;

void linear(Workload& w, const std::string& layer, long long tokens, long long in, long long out, long long count = 1,
            const std::string& note = "") {
  w.gemms.push_back({layer, "Linear", tokens, in, out, count, note});
}

// One transformer layer's GEMMs. `tokens` rows per sequence attend over `keys` keys (equal in
// prefill; 1 and the cache length in a decode step); `layers` identical layers fold into the count.
struct TransformerShape {
  long long batch = 1, tokens = 0, keys = 0, d_model = 0, heads = 0, d_ff = 0, layers = 1;
  bool fused_qkv = true;  // GPT-2 and ViT: one c_attn/qkv projection; BERT: query, key, value apart
};
void transformer_layer(Workload& w, const std::string& prefix, const TransformerShape& t) {
  const long long rows = t.batch * t.tokens, head_dim = t.d_model / t.heads, L = t.layers;
  const std::string per = L > 1 ? std::to_string(L) + " layers" : "";
  auto note = [&](const std::string& what) { return what.empty() ? per : per.empty() ? what : what + ", " + per; };
  if (t.fused_qkv) {
    linear(w, prefix + "attn.qkv", rows, t.d_model, 3 * t.d_model, L, note(""));
  } else {
    linear(w, prefix + "attn.query", rows, t.d_model, t.d_model, L, note(""));
    linear(w, prefix + "attn.key", rows, t.d_model, t.d_model, L, note(""));
    linear(w, prefix + "attn.value", rows, t.d_model, t.d_model, L, note(""));
  }
  const std::string heads = std::to_string(t.heads) + " heads" + (t.batch > 1 ? " x batch " + std::to_string(t.batch) : "");
  w.gemms.push_back({prefix + "attn.q_kT", "MatMul", t.tokens, head_dim, t.keys, t.batch * t.heads * L, note(heads)});
  w.gemms.push_back({prefix + "attn.p_v", "MatMul", t.tokens, t.keys, head_dim, t.batch * t.heads * L, note(heads)});
  linear(w, prefix + "attn.out", rows, t.d_model, t.d_model, L, note(""));
  linear(w, prefix + "mlp.up", rows, t.d_model, t.d_ff, L, note(""));
  linear(w, prefix + "mlp.down", rows, t.d_ff, t.d_model, L, note(""));
}

// A square convolution on a square input; returns the output size.
long long conv(Workload& w, const std::string& layer, long long batch, long long size, long long in_c, long long out_c,
               long long kernel, long long stride, long long pad, long long groups = 1) {
  ConvShape c;
  c.batch = batch;
  c.in_channels = in_c;
  c.out_channels = out_c;
  c.groups = groups;
  c.input = {size, size};
  c.kernel = {kernel, kernel};
  c.strides = {stride, stride};
  c.pads = {pad, pad, pad, pad};
  std::vector<long long> out;
  w.gemms.push_back(conv_gemm(layer, c, &out));
  return out[0];
}

// GPT-2 small (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners";
// the 117M/124M model): d_model 768, 12 heads, MLP 4 x 768 = 3072; one decoder layer.
Workload gpt2(const ImportOptions& o, bool decode) {
  Workload w;
  const long long S = o.seq.value_or(128), B = o.batch.value_or(1);
  w.dims = {{"batch", B}, {"seq", S}};
  TransformerShape t{B, decode ? 1 : S, decode ? S + 1 : S, 768, 12, 3072, 1, true};
  w.model = decode ? "GPT-2 small, one decoder layer, one decode step over a KV cache of " + std::to_string(S) +
                         " tokens (the new token attends to " + std::to_string(S + 1) + " keys)"
                   : "GPT-2 small, one decoder layer, prefill of " + std::to_string(S) + " tokens";
  transformer_layer(w, "h.0.", t);
  w.skipped = {{"LayerNorm", 2}, {"Softmax", 1}, {"GELU", 1}, {"Add", 2}};
  return w;
}

// BERT-base (Devlin et al. 2019): 12 layers, d_model 768, 12 heads, MLP 3072; one encoder layer.
Workload bert_base(const ImportOptions& o) {
  Workload w;
  const long long S = o.seq.value_or(128), B = o.batch.value_or(1);
  w.dims = {{"batch", B}, {"seq", S}};
  w.model = "BERT-base, one encoder layer, sequence " + std::to_string(S);
  transformer_layer(w, "encoder.layer.0.", {B, S, S, 768, 12, 3072, 1, false});
  w.skipped = {{"LayerNorm", 2}, {"Softmax", 1}, {"GELU", 1}, {"Add", 2}};
  return w;
}

// ResNet-18 (He et al. 2016, Table 1): 7x7/2 stem, 3x3/2 max-pool, four stages of two basic
// blocks (64, 128, 256, 512 channels; stages 2-4 start with stride 2 and a 1x1/2 projection),
// global average pool, 1000-way fully connected layer; 224 x 224 input.
Workload resnet18(const ImportOptions& o) {
  Workload w;
  const long long B = o.batch.value_or(1);
  w.dims = {{"batch", B}, {"image", 224}};
  w.model = "ResNet-18, 224x224 input";
  long long size = conv(w, "conv1", B, 224, 3, 64, 7, 2, 3);
  size = (size + 2 - 3) / 2 + 1;  // max-pool 3x3 stride 2 pad 1: 112 -> 56
  long long channels = 64;
  const long long widths[] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage)
    for (int block = 0; block < 2; ++block) {
      const long long stride = stage > 0 && block == 0 ? 2 : 1, out_c = widths[stage];
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(block) + ".";
      const long long out = conv(w, name + "conv1", B, size, channels, out_c, 3, stride, 1);
      conv(w, name + "conv2", B, out, out_c, out_c, 3, 1, 1);
      if (stride != 1 || channels != out_c) conv(w, name + "downsample", B, size, channels, out_c, 1, stride, 0);
      size = out;
      channels = out_c;
    }
  linear(w, "fc", B, 512, 1000);
  w.skipped = {{"BatchNormalization", 20}, {"Relu", 17}, {"Add", 8}, {"MaxPool", 1}, {"GlobalAveragePool", 1}};
  return w;
}

// MobileNetV2 (Sandler et al. 2018, Table 2): a 3x3/2 stem of 32 channels, inverted residual
// blocks (t expansion, c channels, n repeats, s first stride): (1,16,1,1) (6,24,2,2) (6,32,3,2)
// (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1), a 1x1 conv to 1280, a 1000-way classifier.
Workload mobilenet_v2(const ImportOptions& o) {
  Workload w;
  const long long B = o.batch.value_or(1);
  w.dims = {{"batch", B}, {"image", 224}};
  w.model = "MobileNetV2 (width 1.0), 224x224 input";
  long long size = conv(w, "features.0", B, 224, 3, 32, 3, 2, 1), channels = 32;
  const long long settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int index = 1;
  for (const auto& [t, c, n, s] : settings)
    for (long long i = 0; i < n; ++i, ++index) {
      const long long stride = i == 0 ? s : 1, hidden = channels * t;
      const std::string name = "features." + std::to_string(index) + ".";
      if (t != 1) conv(w, name + "expand", B, size, channels, hidden, 1, 1, 0);
      const long long out = conv(w, name + "depthwise", B, size, hidden, hidden, 3, stride, 1, hidden);
      conv(w, name + "project", B, out, hidden, c, 1, 1, 0);
      size = out;
      channels = c;
    }
  conv(w, "features.18", B, size, channels, 1280, 1, 1, 0);
  linear(w, "classifier", B, 1280, 1000);
  return w;
}

// ViT-B/16 (Dosovitskiy et al. 2021, Table 1): 16x16 patches of a 224x224 image (196 patches
// and a class token: 197 tokens), 12 layers, d_model 768, 12 heads, MLP 3072, 1000-way head.
Workload vit_b16(const ImportOptions& o) {
  Workload w;
  const long long B = o.batch.value_or(1), tokens = (224 / 16) * (224 / 16) + 1;
  w.dims = {{"batch", B}, {"image", 224}};
  w.model = "ViT-B/16, 224x224 input, 197 tokens, all 12 encoder layers";
  conv(w, "patch_embed", B, 224, 3, 768, 16, 16, 0);
  transformer_layer(w, "encoder.", {B, tokens, tokens, 768, 12, 3072, 12, true});
  linear(w, "head", B, 768, 1000);
  return w;
}

// --- generated workloads ---------------------------------------------------------------------
// Seeded draws of plausible models, for training across workloads while the zoo stays held
// out. The draw is splitmix64 on the seed (the same on every platform), one value per choice.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : state_(seed ^ 0x6765'6e65'7261'7465ULL) {}  // "generate"
  template <class T>
  T pick(std::initializer_list<T> values) {
    return *(values.begin() + static_cast<std::ptrdiff_t>(next() % values.size()));
  }
  bool coin() { return next() & 1; }

 private:
  std::uint64_t next() { return hdl::splitmix64(state_); }
  std::uint64_t state_;
};

// One transformer layer: heads 4..16 of 32 or 64 dimensions (d_model 128..1024), an MLP of 2x
// or 4x d_model, fused or separate Q/K/V projections, batch 1, 2 or 4, and either a prefill
// of 32..512 tokens or one decode step over a KV cache of that many.
Workload generated_transformer(std::uint64_t seed) {
  Draw d(seed);
  const long long heads = d.pick<long long>({4, 6, 8, 12, 16}), head_dim = d.pick<long long>({32, 64});
  const long long d_model = heads * head_dim, d_ff = d.pick<long long>({2, 4}) * d_model;
  const long long seq = d.pick<long long>({32, 64, 128, 256, 512}), batch = d.pick<long long>({1, 2, 4});
  const bool decode = d.coin(), fused = d.coin();
  Workload w;
  w.dims = {{"batch", batch}, {"seq", seq}, {"d_model", d_model}, {"heads", heads}, {"d_ff", d_ff}, {"decode", decode}};
  w.model = "generated transformer layer (seed " + std::to_string(seed) + "): d_model " + std::to_string(d_model) + ", " +
            std::to_string(heads) + " heads, MLP " + std::to_string(d_ff) + ", batch " + std::to_string(batch) + ", " +
            (decode ? "one decode step over " + std::to_string(seq) + " cached tokens" : "prefill of " + std::to_string(seq) + " tokens");
  transformer_layer(w, "layer.", {batch, decode ? 1 : seq, decode ? seq + 1 : seq, d_model, heads, d_ff, 1, fused});
  w.skipped = {{"LayerNorm", 2}, {"Softmax", 1}, {"GELU", 1}, {"Add", 2}};
  return w;
}

// A CNN: a 32..224 square image, a 3x3 stem of 16..64 channels (stride 2 from 128 up), 2..4
// stages doubling the channels (stride 2 at each stage's first block but the first), 1 or 2
// blocks per stage, all basic blocks (two 3x3 convolutions, a 1x1 projection where the shape
// changes) or all inverted residuals (1x1 expansion by 1, 4 or 6, a 3x3 or 5x5 depthwise
// convolution, a 1x1 projection), then a classifier of 10, 100 or 1,000 classes; batch 1.
Workload generated_cnn(std::uint64_t seed) {
  Draw d(seed);
  const long long image = d.pick<long long>({32, 64, 128, 224}), stem = d.pick<long long>({16, 24, 32, 64});
  const int stages = d.pick<int>({2, 3, 4}), blocks = d.pick<int>({1, 2});
  const bool separable = d.coin();
  const long long expand = d.pick<long long>({1, 4, 6}), kernel = d.pick<long long>({3, 5});
  const long long classes = d.pick<long long>({10, 100, 1000});
  Workload w;
  w.dims = {{"batch", 1}, {"image", image}, {"stem", stem}, {"stages", stages}, {"blocks", blocks}, {"separable", separable}};
  w.model = "generated CNN (seed " + std::to_string(seed) + "): " + std::to_string(image) + "x" + std::to_string(image) +
            " image, " + std::to_string(stages) + " stages of " + std::to_string(blocks) + " " +
            (separable ? "inverted residual block(s) (expansion " + std::to_string(expand) + ", " + std::to_string(kernel) + "x" +
                             std::to_string(kernel) + " depthwise)"
                       : "basic block(s)") +
            ", " + std::to_string(classes) + " classes";
  long long size = conv(w, "stem", 1, image, 3, stem, 3, image >= 128 ? 2 : 1, 1), channels = stem;
  for (int stage = 0; stage < stages; ++stage)
    for (int block = 0; block < blocks; ++block) {
      const long long stride = stage > 0 && block == 0 ? 2 : 1, out_c = stem << stage;
      const std::string name = "stage" + std::to_string(stage + 1) + "." + std::to_string(block) + ".";
      long long out;
      if (separable) {
        const long long hidden = channels * expand;
        if (expand != 1) conv(w, name + "expand", 1, size, channels, hidden, 1, 1, 0);
        out = conv(w, name + "depthwise", 1, size, hidden, hidden, kernel, stride, kernel / 2, hidden);
        conv(w, name + "project", 1, out, hidden, out_c, 1, 1, 0);
      } else {
        out = conv(w, name + "conv1", 1, size, channels, out_c, 3, stride, 1);
        conv(w, name + "conv2", 1, out, out_c, out_c, 3, 1, 1);
        if (stride != 1 || channels != out_c) conv(w, name + "downsample", 1, size, channels, out_c, 1, stride, 0);
      }
      size = out;
      channels = out_c;
    }
  linear(w, "classifier", 1, channels, classes);
  return w;
}

struct Model {
  ZooEntry entry;
  std::function<Workload(const ImportOptions&)> build;
};

const std::vector<Model>& models() {
  static const std::vector<Model> all = {
      {{"gpt2-prefill", "GPT-2 small decoder layer, prefill of --seq tokens (default 128)", "Radford et al. 2019"},
       [](const ImportOptions& o) { return gpt2(o, false); }},
      {{"gpt2-decode", "GPT-2 small decoder layer, one decode step over a KV cache of --seq tokens (default 128)",
        "Radford et al. 2019"},
       [](const ImportOptions& o) { return gpt2(o, true); }},
      {{"bert-base", "BERT-base encoder layer, sequence --seq (default 128)", "Devlin et al. 2019"}, bert_base},
      {{"resnet18", "ResNet-18, 224x224 image, whole network", "He et al. 2016, Table 1"}, resnet18},
      {{"mobilenetv2", "MobileNetV2 1.0, 224x224 image, whole network", "Sandler et al. 2018, Table 2"}, mobilenet_v2},
      {{"vit-b16", "ViT-B/16, 224x224 image, whole network", "Dosovitskiy et al. 2021, Table 1"}, vit_b16},
  };
  return all;
}

}  // namespace

const std::vector<std::string>& generator_kinds() {
  static const std::vector<std::string> kinds = {"transformer", "cnn"};
  return kinds;
}

Workload generated_workload(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string seed_text = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (std::find(generator_kinds().begin(), generator_kinds().end(), kind) == generator_kinds().end())
    throw ParamError("no workload generator '" + kind + "'; the generators: transformer, cnn (as KIND:SEED, e.g. gen:cnn:7)");
  if (seed_text.empty() || seed_text.find_first_not_of("0123456789") != std::string::npos || seed_text.size() > 19)
    throw ParamError("a generated workload is KIND:SEED with SEED a non-negative integer (e.g. gen:" + kind + ":7), not '" +
                     spec + "'");
  const std::uint64_t seed = std::stoull(seed_text);
  Workload w = kind == "transformer" ? generated_transformer(seed) : generated_cnn(seed);
  w.source = "gen:" + kind + ":" + seed_text;
  return w;
}

const std::vector<ZooEntry>& zoo() {
  static const std::vector<ZooEntry> entries = [] {
    std::vector<ZooEntry> v;
    for (const auto& m : models()) v.push_back(m.entry);
    return v;
  }();
  return entries;
}

Workload zoo_workload(const std::string& name, const ImportOptions& options) {
  std::vector<std::string> names;
  for (const auto& m : models()) {
    if (m.entry.name == name) {
      if ((options.batch && *options.batch < 1) || (options.seq && *options.seq < 1))
        throw ParamError("--batch and --seq must be at least 1");
      Workload w = m.build(options);
      w.source = "zoo:" + name;
      w.model += "; " + m.entry.source;
      return w;
    }
    names.push_back(m.entry.name);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  auto near = closest_name(name, names);
  throw ParamError("model '" + name + "' is not in the zoo" + (near ? " (did you mean " + *near + "?)" : "") +
                   "; the zoo: " + list);
}

}  // namespace chipgym::env
