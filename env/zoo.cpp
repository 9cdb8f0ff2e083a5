// The model zoo: workloads computed from published architecture hyper-parameters (layer
// counts, widths, heads, kernel sizes, strides), never from typed-in GEMM tables. Each model
// is built by the same lowering the ONNX importer uses (conv_gemm for convolutions).
#include <functional>

#include "env/workload.h"

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
