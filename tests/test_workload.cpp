// Workloads: the GEMMs of ONNX models (files nobody here wrote, and a transformer block built
// here through the ONNX protobuf API), the zoo against published figures, and the command line.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "env/workload.h"
#include "evaluators/runner.h"
#include "hdl/gemm.h"
#include "test_support.h"

using chipgym::env::LayerGemm;
using chipgym::env::Workload;
using chipgym::evaluators::TempDir;
using json = nlohmann::json;
using test_support::run_chipgym;

namespace {

const std::string kPytorch = "/usr/share/libonnx-testdata/data/pytorch-converted/";

void check_gemm(const LayerGemm& g, long long m, long long k, long long n, long long count) {
  INFO(g.layer << " " << g.op << " " << g.note);
  CHECK(g.m == m);
  CHECK(g.k == k);
  CHECK(g.n == n);
  CHECK(g.count == count);
  CHECK(g.macs() == m * k * n * count);
}

// ONNX protobuf building blocks.
void set_shape(onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::string>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (const auto& d : dims) {
    auto* dim = t->mutable_shape()->add_dim();
    if (std::isdigit(static_cast<unsigned char>(d[0]))) dim->set_dim_value(std::stoll(d));
    else dim->set_dim_param(d);
  }
}
void weight(onnx::GraphProto* g, const std::string& name, std::vector<long long> dims) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  long long n = 1;
  for (auto d : dims) t->add_dims(d), n *= d;
  for (long long i = 0; i < n; ++i) t->add_float_data(0.0f);
}
void shape_constant(onnx::GraphProto* g, const std::string& name, std::vector<long long> values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<long long>(values.size()));
  for (auto v : values) t->add_int64_data(v);
}
onnx::NodeProto* node(onnx::GraphProto* g, const std::string& op, const std::string& name,
                      std::vector<std::string> inputs, const std::string& output) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}
void ints(onnx::NodeProto* n, const std::string& name, std::vector<long long> values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto v : values) a->add_ints(v);
}
void integer(onnx::NodeProto* n, const std::string& name, long long value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
void text(onnx::NodeProto* n, const std::string& name, const std::string& value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}
onnx::ModelProto model_with(onnx::GraphProto graph) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("chipgym tests");
  m.add_opset_import()->set_version(13);
  *m.mutable_graph() = std::move(graph);
  return m;
}

// One transformer block of width 32, 4 heads of 8, MLP 64: Q, K, V and output projections,
// attention per head (Q x K^T and P x V as batched MatMuls after Reshape/Transpose, as
// PyTorch exports them), a residual Add and the MLP. Input x is [batch, seq, 32] with
// symbolic batch and seq dims; Reshape's 0 copies a dim, so the block works for any of them.
onnx::ModelProto transformer_block() {
  onnx::GraphProto g;
  g.set_name("block");
  set_shape(g.add_input(), "x", {"batch", "seq", "32"});
  set_shape(g.add_output(), "y", {"batch", "seq", "32"});
  for (const char* w : {"wq", "wk", "wv", "wo"}) weight(&g, w, {32, 32});
  weight(&g, "w_up", {32, 64});
  weight(&g, "w_down", {64, 32});
  shape_constant(&g, "heads_shape", {0, 0, 4, 8});
  shape_constant(&g, "model_shape", {0, 0, 32});
  node(&g, "MatMul", "q_proj", {"x", "wq"}, "q");
  node(&g, "MatMul", "k_proj", {"x", "wk"}, "k");
  node(&g, "MatMul", "v_proj", {"x", "wv"}, "v");
  for (const char* t : {"q", "k", "v"}) node(&g, "Reshape", std::string(t) + "_split", {t, "heads_shape"}, std::string(t) + "4");
  ints(node(&g, "Transpose", "q_heads", {"q4"}, "qh"), "perm", {0, 2, 1, 3});  // [b, 4, s, 8]
  ints(node(&g, "Transpose", "k_heads", {"k4"}, "kt"), "perm", {0, 2, 3, 1});  // [b, 4, 8, s]
  ints(node(&g, "Transpose", "v_heads", {"v4"}, "vh"), "perm", {0, 2, 1, 3});  // [b, 4, s, 8]
  node(&g, "MatMul", "scores", {"qh", "kt"}, "s");                               // [b, 4, s, s]
  integer(node(&g, "Softmax", "softmax", {"s"}, "p"), "axis", -1);
  node(&g, "MatMul", "context", {"p", "vh"}, "c");                               // [b, 4, s, 8]
  ints(node(&g, "Transpose", "merge_heads", {"c"}, "ct"), "perm", {0, 2, 1, 3});
  node(&g, "Reshape", "merge", {"ct", "model_shape"}, "cm");
  node(&g, "MatMul", "o_proj", {"cm", "wo"}, "o");
  node(&g, "Add", "residual", {"x", "o"}, "h");
  node(&g, "MatMul", "mlp_up", {"h", "w_up"}, "u");
  node(&g, "Relu", "relu", {"u"}, "r");
  node(&g, "MatMul", "mlp_down", {"r", "w_down"}, "y");
  return model_with(std::move(g));
}

std::string bytes_of(const onnx::ModelProto& m) {
  std::string s;
  REQUIRE(m.SerializeToString(&s));
  return s;
}

const LayerGemm& find_layer(const Workload& w, const std::string& layer) {
  for (const auto& g : w.gemms)
    if (g.layer == layer) return g;
  FAIL("no GEMM for layer " << layer);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("PyTorch's Linear exported to ONNX is one GEMM: input rows x in features x out features") {
  // test_Linear: input [4, 10], weight [8, 10], Gemm with transB=1 (y = x W^T + b).
  Workload w = chipgym::env::import_onnx_file(kPytorch + "test_Linear/model.onnx");
  REQUIRE(w.gemms.size() == 1);
  check_gemm(w.gemms[0], 4, 10, 8, 1);
  CHECK(w.gemms[0].op == "Gemm");
  CHECK(w.total_macs() == 320);
  // int8 A (4x10) and B (10x8), 32-bit C (4x8): 40 + 80 + 128 bytes.
  CHECK(w.total_bytes() == 248);
  // Without bias PyTorch exports Transpose + MatMul: the same GEMM, and the Transpose is skipped.
  Workload nb = chipgym::env::import_onnx_file(kPytorch + "test_Linear_no_bias/model.onnx");
  REQUIRE(nb.gemms.size() == 1);
  check_gemm(nb.gemms[0], 4, 10, 8, 1);
  CHECK(nb.skipped == std::map<std::string, long long>{{"Transpose", 1}});
}

TEST_CASE("PyTorch's convolutions lower to implicit GEMMs with stride, padding, dilation, groups and depthwise") {
  struct Case {
    std::string model;
    long long m, k, n, count;
  };
  // By hand from each model's input x [batch, C, spatial...] and weight [out_c, C/groups, kernel...]:
  // M = batch x output positions, output = (in + pads - dilation*(kernel-1) - 1) / stride + 1,
  // K = C/groups x kernel window, N = out_c/groups, count = groups.
  const std::vector<Case> cases = {
      // x [2,3,7,5], w [4,3,3,2]: output 5x4 -> M = 2*20, K = 3*3*2
      {"test_Conv2d", 40, 18, 4, 1},
      // x [2,3,6,6], w [4,3,3,3], stride 2, pad 1: output (6+2-3)/2+1 = 3 -> 3x3
      {"test_Conv2d_padding", 18, 27, 4, 1},
      // x [2,3,8,8], w [2,3,3,3], stride 2, pad 1, dilation 2 (window 5): (8+2-5)/2+1 = 3
      {"test_Conv2d_dilated", 18, 27, 2, 1},
      // x [2,4,6,5], w [6,2,3,2], group 2: output 4x4, K = 2*3*2, N = 6/2
      {"test_Conv2d_groups", 32, 12, 3, 2},
      // x [2,4,6,6], w [4,1,3,3], group 4 = channels (depthwise), stride 2: output 2x2
      {"test_Conv2d_depthwise_strided", 8, 9, 1, 4},
      // x [2,4,6,6], w [8,1,3,3], group 4: depthwise with multiplier 2, output 4x4
      {"test_Conv2d_depthwise_with_multiplier", 32, 9, 2, 4},
      // x [2,4,10], w [5,4,3], stride 2: (10-3)/2+1 = 4
      {"test_Conv1d_stride", 8, 12, 5, 1},
  };
  for (const auto& c : cases) {
    INFO(c.model);
    Workload w = chipgym::env::import_onnx_file(kPytorch + c.model + "/model.onnx");
    REQUIRE(w.gemms.size() == 1);
    check_gemm(w.gemms[0], c.m, c.k, c.n, c.count);
    CHECK(w.gemms[0].op == "Conv");
  }
  CHECK(chipgym::env::import_onnx_file(kPytorch + "test_Conv2d_depthwise_strided/model.onnx").gemms[0].note.find("depthwise") !=
        std::string::npos);
}

TEST_CASE("auto_pad SAME_UPPER keeps ceil(input / stride) outputs, as ONNX's shape inference does") {
  onnx::GraphProto g;
  g.set_name("same");
  set_shape(g.add_input(), "x", {"1", "16", "15", "15"});
  set_shape(g.add_output(), "y", {"1", "32", "8", "8"});
  weight(&g, "w", {32, 16, 3, 3});
  auto* conv = node(&g, "Conv", "conv", {"x", "w"}, "y");
  text(conv, "auto_pad", "SAME_UPPER");
  ints(conv, "strides", {2, 2});
  Workload w = chipgym::env::import_onnx_bytes(bytes_of(model_with(g)), "same.onnx");
  REQUIRE(w.gemms.size() == 1);
  check_gemm(w.gemms[0], 64, 16 * 9, 32, 1);  // ceil(15 / 2) = 8 -> 8x8 outputs
}

TEST_CASE("a transformer block built through the ONNX API gives its projections, per-head attention and MLP") {
  const std::string model = bytes_of(transformer_block());
  SECTION("the dynamic batch and sequence dims need values, and the error names the input and dim") {
    try {
      chipgym::env::import_onnx_bytes(model, "block.onnx");
      FAIL("a dynamic batch dim without --batch was accepted");
    } catch (const chipgym::hdl::ParamError& e) {
      CHECK_THAT(e.what(), Catch::Contains("input 'x' dim 0 ('batch') is dynamic; give --batch"));
    }
    try {
      chipgym::env::import_onnx_bytes(model, "block.onnx", {2, std::nullopt});
      FAIL("a dynamic sequence dim without --seq was accepted");
    } catch (const chipgym::hdl::ParamError& e) {
      CHECK_THAT(e.what(), Catch::Contains("input 'x' dim 1 ('seq') is dynamic; give --seq"));
    }
  }
  SECTION("batch 2, sequence 16") {
    Workload w = chipgym::env::import_onnx_bytes(model, "block.onnx", {2, 16});
    INFO(w.to_text());
    REQUIRE(w.gemms.size() == 8);
    CHECK(w.unsupported.empty());
    // Projections against 2-D weights: batch and sequence fold into M = 2 x 16.
    for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"}) check_gemm(find_layer(w, p), 32, 32, 32, 1);
    // Attention per head and per sequence: 2 x 4 independent GEMMs each.
    check_gemm(find_layer(w, "scores"), 16, 8, 16, 8);   // Q x K^T: [16 x 8] x [8 x 16]
    check_gemm(find_layer(w, "context"), 16, 16, 8, 8);  // P x V:   [16 x 16] x [16 x 8]
    check_gemm(find_layer(w, "mlp_up"), 32, 32, 64, 1);
    check_gemm(find_layer(w, "mlp_down"), 32, 64, 32, 1);
    CHECK(w.total_macs() == 4 * 32 * 32 * 32 + 2 * 8 * 16 * 8 * 16 + 2 * 32 * 32 * 64);
    CHECK(w.skipped == std::map<std::string, long long>{{"Add", 1}, {"Relu", 1}, {"Reshape", 4}, {"Softmax", 1}, {"Transpose", 4}});
    CHECK(w.dims == json{{"batch", 2}, {"seq", 16}});
    // As a task workload: [M, K, N, count] per layer, and where it came from.
    json t = w.task_workload();
    CHECK(t["source"] == "onnx:block.onnx");
    CHECK(t["shapes"][3] == json::array({16, 8, 16, 8}));
    CHECK(chipgym::hdl::gemm_shapes(t).at(3).count == 8);
  }
}

TEST_CASE("the zoo's models match their published operation counts") {
  // ResNet-18: 1.8 x 10^9 multiply-adds (He et al. 2016, Table 1, "FLOPs" counted as
  // multiply-adds); torchvision's model card gives 1.81 GFLOPS for resnet18 at 224x224.
  Workload resnet = chipgym::env::zoo_workload("resnet18");
  CHECK(resnet.total_macs() == Approx(1.814e9).epsilon(0.005));
  CHECK(resnet.gemms.size() == 21);  // 20 convolutions (17 3x3/7x7, 3 1x1 projections) and fc
  check_gemm(resnet.gemms.front(), 112 * 112, 3 * 7 * 7, 64, 1);
  // MobileNetV2 1.0 at 224: 300M multiply-adds (Sandler et al. 2018, Table 4).
  Workload mobilenet = chipgym::env::zoo_workload("mobilenetv2");
  CHECK(mobilenet.total_macs() == Approx(300e6).epsilon(0.01));
  check_gemm(find_layer(mobilenet, "features.2.depthwise"), 56 * 56, 9, 1, 96);  // 3x3/2 depthwise on 112x112
  // ViT-B/16 at 224: 17.56 GFLOPS (multiply-adds) in torchvision's model card.
  CHECK(chipgym::env::zoo_workload("vit-b16").total_macs() == Approx(17.56e9).epsilon(0.005));
  // A transformer layer of width d over S tokens, counted by hand: Q, K, V and output
  // projections 4 d^2 S, MLP (4d wide) 8 d^2 S, Q x K^T and P x V d S^2 each.
  const long long d = 768, S = 64;
  CHECK(chipgym::env::zoo_workload("gpt2-prefill", {std::nullopt, S}).total_macs() == 12 * d * d * S + 2 * d * S * S);
  CHECK(chipgym::env::zoo_workload("bert-base", {std::nullopt, S}).total_macs() == 12 * d * d * S + 2 * d * S * S);
  // One decode step: one token through the same weights, attending over the cache and itself.
  Workload decode = chipgym::env::zoo_workload("gpt2-decode", {std::nullopt, S});
  CHECK(decode.total_macs() == 12 * d * d + 2 * d * (S + 1));
  check_gemm(find_layer(decode, "h.0.attn.q_kT"), 1, 64, S + 1, 12);
}

// Generated workloads (issue: policies that train across workloads): seeded, inside their
// stated ranges, and counted by the same formulas as the zoo.
TEST_CASE("generated transformer and CNN workloads are seeded draws inside their stated ranges, counted as the zoo counts") {
  using chipgym::env::generated_workload;
  std::set<std::string> models;
  for (int seed = 0; seed < 40; ++seed) {
    const Workload t = generated_workload("transformer:" + std::to_string(seed));
    CHECK(t.to_json() == generated_workload("transformer:" + std::to_string(seed)).to_json());  // the same draw
    CHECK(t.source == "gen:transformer:" + std::to_string(seed));
    models.insert(t.model);
    const long long d = t.dims["d_model"], h = t.dims["heads"], f = t.dims["d_ff"], S = t.dims["seq"], B = t.dims["batch"];
    CHECK((d / h == 32 || d / h == 64));
    CHECK((h >= 4 && h <= 16));
    CHECK((f == 2 * d || f == 4 * d));
    CHECK((S >= 32 && S <= 512));
    const long long rows = t.dims["decode"] == true ? B : B * S, keys = t.dims["decode"] == true ? S + 1 : S;
    // Projections 4 d^2, MLP 2 d f per row; Q x K^T and P x V: d x keys per query row.
    CHECK(t.total_macs() == rows * (4 * d * d + 2 * d * f) + 2 * rows * d * keys);
    check_gemm(find_layer(t, "layer.attn.q_kT"), t.dims["decode"] == true ? 1 : S, d / h, keys, B * h);

    const Workload c = generated_workload("cnn:" + std::to_string(seed));
    models.insert(c.model);
    const long long image = c.dims["image"], stem = c.dims["stem"];
    const LayerGemm& first = c.gemms.front();
    const long long side = image >= 128 ? image / 2 : image;  // 3x3 stem, pad 1, stride 2 from 128 up
    check_gemm(first, side * side, 3 * 3 * 3, stem, 1);
    const LayerGemm& head = c.gemms.back();
    CHECK(head.layer == "classifier");
    CHECK(head.k == stem << (c.dims["stages"].get<int>() - 1));  // the channels double per stage
    CHECK((head.n == 10 || head.n == 100 || head.n == 1000));
    for (const auto& g : c.gemms) CHECK((g.m > 0 && g.k > 0 && g.n > 0 && g.count > 0));
  }
  CHECK(models.size() >= 60);  // 80 draws: nearly all different models
  // Through --workload's spec, and bad specs refused by name.
  CHECK(chipgym::env::load_workload("gen:cnn:3").to_json() == generated_workload("cnn:3").to_json());
  CHECK_THROWS_WITH(generated_workload("rnn:1"), Catch::Contains("no workload generator 'rnn'; the generators: transformer, cnn"));
  CHECK_THROWS_WITH(generated_workload("cnn:x"), Catch::Contains("SEED a non-negative integer"));
  CHECK_THROWS_WITH(generated_workload("cnn"), Catch::Contains("SEED a non-negative integer"));
  CHECK_THROWS_WITH(chipgym::env::load_workload("gen:cnn:1", {1, std::nullopt}), Catch::Contains("--batch and --seq do not apply"));
  auto shown = run_chipgym({"workload", "--generate", "transformer:5", "--json"});
  INFO(shown.err);
  REQUIRE(shown.ok());
  CHECK(json::parse(shown.out)["source"] == "gen:transformer:5");
  auto bad = run_chipgym({"workload", "--generate", "lstm:5"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("no workload generator 'lstm'"));
}

TEST_CASE("chipgym workload prints a model's GEMMs, and bad input gets a clear message and exit code 2") {
  TempDir dir("chipgym-workload-");
  SECTION("an ONNX file and a zoo model, as text and as JSON") {
    auto r = run_chipgym({"workload", kPytorch + "test_Conv2d_groups/model.onnx"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("im2col 3x2 groups 2"));
    CHECK_THAT(r.out, Catch::Contains("total: 1 GEMMs, 2,304 MACs"));
    r = run_chipgym({"workload", "--zoo", "resnet18", "--json"});
    CHECK(r.exit_code == 0);
    json j = json::parse(r.out);
    CHECK(j["source"] == "zoo:resnet18");
    CHECK(j["total"]["macs"] == 1814073344LL);
  }
  SECTION("a file that is not ONNX") {
    std::ofstream(dir.path() / "notes.onnx") << "these are my notes, not a model\n";
    auto r = run_chipgym({"workload", (dir.path() / "notes.onnx").string()});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("is not an ONNX model"));
    r = run_chipgym({"workload", (dir.path() / "missing.onnx").string()});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("cannot read the model"));
  }
  SECTION("dynamic dims without --batch/--seq name the input; with them the model imports") {
    {
      std::ofstream out(dir.path() / "block.onnx", std::ios::binary);
      out << bytes_of(transformer_block());
    }
    auto r = run_chipgym({"workload", (dir.path() / "block.onnx").string(), "--batch", "1"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("input 'x' dim 1 ('seq') is dynamic; give --seq S"));
    r = run_chipgym({"workload", (dir.path() / "block.onnx").string(), "--batch", "1", "--seq", "16"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("8 GEMMs"));
  }
  SECTION("an operator with MACs that is not lowered is listed, and the rest still imports") {
    auto r = run_chipgym({"workload", kPytorch + "test_ConvTranspose2d/model.onnx"});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("not lowered (their MACs are NOT in the total): ConvTranspose x1"));
  }
  SECTION("a zoo name that does not exist lists the zoo, with the closest name") {
    auto r = run_chipgym({"workload", "--zoo", "resnet-18"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("did you mean resnet18?"));
    CHECK_THAT(r.err, Catch::Contains("gpt2-prefill, gpt2-decode, bert-base, resnet18, mobilenetv2, vit-b16"));
  }
}

TEST_CASE("eval --workload runs a zoo model on the exact cycle model, and at rtl simulates sampled tiles of its large shapes") {
  auto r = run_chipgym({"eval", "--task", "gemm-int8", "--workload", "zoo:resnet18", "--set", "rows=8,cols=8",
                        "--fidelity", "model", "--json", "--no-cache"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  CHECK(j["derived"]["macs"] == 1814073344LL);  // one data pattern
  CHECK(j["cycles"].get<long long>() > 1814073344LL / 64);  // at most 64 MACs per cycle on 8x8
  CHECK(j["workload"] == "zoo:resnet18");
  const long long model_cycles = j["cycles"].get<long long>();
  // RTL simulation of ResNet-18: every large shape as one sub-GEMM of at most two tiles per
  // dimension, bit-exact; the cycles are the exact model's for the whole shapes.
  const auto t0 = std::chrono::steady_clock::now();
  r = run_chipgym({"eval", "--task", "gemm-int8", "--workload", "zoo:resnet18", "--set", "rows=8,cols=8", "--fidelity", "rtl",
                   "--json", "--no-cache"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  j = json::parse(r.out);
  CHECK(j["correct"] == true);
  CHECK(j["cycles"].get<long long>() == model_cycles);
  const json sampled = j["stages"]["simulate"]["details"]["sampled"];
  REQUIRE(sampled.size() > 5);
  for (const auto& s : sampled) {
    CHECK(s["simulated_cycles"] == s["simulated_model_cycles"]);  // the model equals the RTL on the tiles too
    for (int d = 0; d < 3; ++d) CHECK(s["simulated"][d].get<long long>() <= s["shape"][d].get<long long>());
    CHECK(s["simulated"][0].get<long long>() <= 16);  // two 8-row tiles at most
    CHECK(s["simulated"][2].get<long long>() <= 16);
  }
  CHECK_FALSE(j["stages"]["simulate"]["details"].contains("cycle_model_disagrees"));
  WARN("ResNet-18 at rtl (8x8, build and simulation): "
       << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
  // Too many problems to simulate even sampled: refused with the way out.
  json shapes = json::array();
  for (int i = 0; i < 513; ++i) shapes.push_back({4, 4, 4 + i});
  TempDir dir("chipgym-wl-");
  json task = json::parse(test_support::kTinyTask);
  task["workload"]["shapes"] = shapes;
  std::ofstream(dir.path() / "big.json") << task.dump();
  r = run_chipgym({"eval", "--task-file", (dir.path() / "big.json").string(), "--fidelity", "rtl", "--no-cache"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("513 GEMM problems") && Catch::Contains("use --fidelity synth or model"));
  // A workload is for the gemm tasks.
  r = run_chipgym({"eval", "--task", "sha256-miner", "--workload", "zoo:resnet18", "--fidelity", "model"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--workload gives GEMMs, for the gemm tasks"));
}

TEST_CASE("an imported block simulates bit-exactly at RTL, each head's GEMM once, counted per head") {
  TempDir dir("chipgym-workload-");
  {
    std::ofstream out(dir.path() / "block.onnx", std::ios::binary);
    out << bytes_of(transformer_block());
  }
  auto r = run_chipgym({"eval", "--task", "gemm-int8", "--workload", (dir.path() / "block.onnx").string(), "--batch",
                        "1", "--seq", "8", "--set", "rows=4,cols=4", "--fidelity", "rtl", "--no-fpga", "--json",
                        "--cache-dir", (dir.path() / "cache").string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  CHECK(j["correct"] == true);
  CHECK(j["cycles"] == j["cycles_model"]);  // the 4 heads' cycles counted 4 times, as the model does
  // Every element of the 8 distinct GEMMs checked once: C is M x N per layer.
  CHECK(j["checked"] == 4 * 8 * 32 + 8 * 8 + 8 * 8 + 8 * 64 + 8 * 32);
}

TEST_CASE("train --workload records the GEMM list and its source in config.json, so the run rebuilds") {
  TempDir dir("chipgym-workload-");
  auto run = dir.path() / "run";
  auto r = run_chipgym({"train", "--task", "gemm-int8-small", "--workload", "zoo:gpt2-decode", "--seq", "32", "--agent",
                        "random", "--budget", "2", "--out", run.string(), "--cache-dir", (dir.path() / "cache").string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(run / "config.json");
  json config = json::parse(in);
  const json& workload = config["task"]["workload"];
  CHECK(workload["source"] == "zoo:gpt2-decode");
  CHECK(workload["dims"]["seq"] == 32);
  CHECK(workload["shapes"][1] == json::array({1, 64, 33, 12}));  // Q x K^T over 33 keys, 12 heads
  CHECK(workload["layers"][1] == "h.0.attn.q_kT");
}

TEST_CASE("roofline: a layer's port traffic under the schedule decides whether it is compute- or memory-bound") {
  TempDir dir("chipgym-roofline-");
  // 4x4 output-stationary array: peak 16 MACs/cycle; ports A 4 + B 4 + C 16 (4 x 32-bit) bytes/cycle.
  auto r = run_chipgym({"roofline", "--task", "gemm-int8", "--set", "rows=4,cols=4,dataflow=os", "--dram-bytes-per-cycle",
                        "4", "--out", (dir.path() / "roof").string(), "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  CHECK(j["peak_macs_per_cycle"] == 16.0);
  CHECK(j["port_bytes_per_cycle"]["total"] == 24.0);
  // The built-in [16, 32, 96]: 4 x 24 tiles, each K = 32 A slices and 32 B slices of 4 bytes;
  // 24 strips x 16 rows of C written at 16 bytes: 30,720 bytes for 49,152 MACs.
  const json& qkv = j["layers"][0];
  CHECK(qkv["macs"] == 49152);
  CHECK(qkv["bytes"] == 96 * 32 * 4 * 2 + 24 * 16 * 16);
  CHECK(qkv["intensity"].get<double>() == Approx(1.6));
  // 1.6 MACs/byte x 24 bytes/cycle of ports clears the 16-MAC peak; 4 bytes/cycle off-chip does not.
  CHECK(qkv["attainable_macs_per_cycle"].get<double>() == Approx(6.4));
  CHECK(qkv["bound"] == "off-chip memory");
  r = run_chipgym({"roofline", "--task", "gemm-int8", "--set", "rows=4,cols=4,dataflow=os", "--out", (dir.path() / "roof").string(), "--json"});
  CHECK(json::parse(r.out)["layers"][0]["bound"] == "compute");
  for (const char* f : {"roofline.svg", "roofline.png", "roofline.dat", "roofline.json"}) CHECK(std::filesystem::exists(dir.path() / "roof" / f));
  r = run_chipgym({"roofline", "--task", "codesign-gemm"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("roofline knows the gemm family's schedule"));
}
