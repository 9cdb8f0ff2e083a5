// The sha256 family: generator, reference model (FIPS 180-4), lane schedule and cycle model.
// See hdl/sha256_core.h for the architecture.
#include "hdl/sha256_core.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "hdl/registry.h"
#include "hdl/sha256_spec.h"

namespace chipgym::hdl {

namespace {

using sha256_spec::kInitial;
using sha256_spec::kRound;

// Section 6.2.2: one compression of a padded block into the hash value.
void compress(std::uint32_t h[8], const Sha256Block& block) { sha256_spec::compress(h, block.data()); }

std::string hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string s(long long v) { return std::to_string(v); }

int log2_exact(int v) {
  int bits = 0;
  while ((1 << bits) < v) ++bits;
  return bits;
}

// ---------------------------------------------------------------------------------------
// Generator. Bit layouts used by every module: a 256-bit state or digest holds word j
// (a..h, H0..H7) at [32*j +: 32]; a 512-bit block or schedule window holds word i (W[t+i],
// big-endian message word i) at [32*i +: 32].

// A wide constant, word i at [32*i +: 32].
std::string words_literal(const std::vector<std::uint32_t>& words) {
  std::string out = s(32 * static_cast<long long>(words.size())) + "'h";
  for (std::size_t i = words.size(); i-- > 0;) out += hex32(words[i]) + (i ? "_" : "");
  return out;
}

std::string word(const std::string& vec, int i) { return vec + "[" + s(32 * i) + " +: 32]"; }

// `unroll` rounds of compression and of the message schedule, combinational. The final
// variant also adds the chaining value (the feed-forward of FIPS 180-4 step 4), so the
// depth measured on it is the last stage's whole path into the next block's state.
std::string rounds_module(int unroll, bool final) {
  const std::string name = final ? "sha256_rounds_final" : "sha256_rounds";
  std::string out = "// " + s(unroll) + " SHA-256 round" + (unroll > 1 ? "s" : "") +
                    " (FIPS 180-4 section 6.2.2, step 3) and as many message-schedule words, combinational" +
                    (final ? ",\n// then the chaining value added to the result (step 4): the digest of the block." : ".") +
                    "\nmodule " + name + " (\n" +
                    "  input  wire [255:0] state_in,    // working variables a..h, a at [31:0]\n"
                    "  input  wire [511:0] window_in,   // message schedule W[t..t+15], W[t] at [31:0]\n"
                    "  input  wire [" + s(32 * unroll - 1) + ":0] k,           // round constants K[t..t+" + s(unroll - 1) +
                    "], K[t] at [31:0]\n";
  if (final) out += "  input  wire [255:0] chain_in,    // the hash value the block started from\n";
  out += "  output wire [255:0] state_out,\n  output wire [511:0] window_out";
  out += final ? ",\n  output wire [255:0] digest\n);\n" : "\n);\n";
  out += R"(  function automatic [31:0] big_sigma0(input [31:0] x);
    big_sigma0 = {x[1:0], x[31:2]} ^ {x[12:0], x[31:13]} ^ {x[21:0], x[31:22]};
  endfunction
  function automatic [31:0] big_sigma1(input [31:0] x);
    big_sigma1 = {x[5:0], x[31:6]} ^ {x[10:0], x[31:11]} ^ {x[24:0], x[31:25]};
  endfunction
  function automatic [31:0] small_sigma0(input [31:0] x);
    small_sigma0 = {x[6:0], x[31:7]} ^ {x[17:0], x[31:18]} ^ {3'b000, x[31:3]};
  endfunction
  function automatic [31:0] small_sigma1(input [31:0] x);
    small_sigma1 = {x[16:0], x[31:17]} ^ {x[18:0], x[31:19]} ^ {10'b0, x[31:10]};
  endfunction
  function automatic [31:0] choose(input [31:0] x, input [31:0] y, input [31:0] z);
    choose = (x & y) ^ (~x & z);
  endfunction
  function automatic [31:0] majority(input [31:0] x, input [31:0] y, input [31:0] z);
    majority = (x & y) ^ (x & z) ^ (y & z);
  endfunction

  // Message schedule: w_i is W[t+i]; each round appends one word.
)";
  for (int i = 0; i < 16; ++i) out += "  wire [31:0] w_" + s(i) + " = " + word("window_in", i) + ";\n";
  for (int u = 0; u < unroll; ++u) {
    const int i = 16 + u;
    out += "  wire [31:0] w_" + s(i) + " = small_sigma1(w_" + s(i - 2) + ") + w_" + s(i - 7) + " + small_sigma0(w_" +
           s(i - 15) + ") + w_" + s(i - 16) + ";\n";
  }
  out += "\n  // Round u turns a_u..h_u into a_(u+1)..h_(u+1).\n";
  const char* names = "abcdefgh";
  for (int j = 0; j < 8; ++j) out += std::string("  wire [31:0] ") + names[j] + "_0 = " + word("state_in", j) + ";\n";
  for (int u = 0; u < unroll; ++u) {
    const std::string n = s(u), m = s(u + 1);
    out += "  wire [31:0] t1_" + n + " = big_sigma1(e_" + n + ") + choose(e_" + n + ", f_" + n + ", g_" + n + ") + h_" + n +
           " + k[" + s(32 * u) + " +: 32] + w_" + n + ";\n";
    out += "  wire [31:0] t2_" + n + " = big_sigma0(a_" + n + ") + majority(a_" + n + ", b_" + n + ", c_" + n + ");\n";
    out += "  wire [31:0] a_" + m + " = t1_" + n + " + t2_" + n + ";\n";
    out += "  wire [31:0] b_" + m + " = a_" + n + ";\n";
    out += "  wire [31:0] c_" + m + " = b_" + n + ";\n";
    out += "  wire [31:0] d_" + m + " = c_" + n + ";\n";
    out += "  wire [31:0] e_" + m + " = d_" + n + " + t1_" + n + ";\n";
    out += "  wire [31:0] f_" + m + " = e_" + n + ";\n";
    out += "  wire [31:0] g_" + m + " = f_" + n + ";\n";
    out += "  wire [31:0] h_" + m + " = g_" + n + ";\n";
  }
  const std::string e = s(unroll);
  out += "\n  assign state_out = {h_" + e + ", g_" + e + ", f_" + e + ", e_" + e + ", d_" + e + ", c_" + e + ", b_" + e + ", a_" + e + "};\n";
  out += "  assign window_out = {";
  for (int i = 15; i >= 0; --i) out += "w_" + s(unroll + i) + (i ? ", " : "};\n");
  if (final) {
    out += "  assign digest = {";
    for (int j = 7; j >= 0; --j)
      out += word("chain_in", j) + " + " + names[j] + "_" + e + (j ? ",\n                  " : "};\n");
  }
  return out + "endmodule\n";
}

// Round constants of the current cycle for every stage: a ROM indexed by the cycle within
// the step (only when a step takes more than one cycle).
std::string constants_module(const Sha256CoreConfig& g) {
  const int P = g.pipeline, U = g.unroll, R = g.cycles_per_step(), CB = log2_exact(R);
  const int KW = 32 * P * U;
  std::string out = "// Round constants K (FIPS 180-4 section 4.2.2) used in cycle step_cnt of a step: stage s,\n"
                    "// round u of the cycle at [(s*" + s(U) + " + u)*32 +: 32], round index s*" + s(64 / P) +
                    " + step_cnt*" + s(U) + " + u.\nmodule sha256_k (\n  input  wire [" + s(CB - 1) +
                    ":0] step_cnt,\n  output reg  [" + s(KW - 1) + ":0] k\n);\n  always @* begin\n    k = '0;\n    case (step_cnt)\n";
  for (int c = 0; c < R; ++c) {
    std::vector<std::uint32_t> words;
    for (int st = 0; st < P; ++st)
      for (int u = 0; u < U; ++u) words.push_back(kRound[st * (64 / P) + c * U + u]);
    out += "      " + s(CB) + "'d" + s(c) + ": k = " + words_literal(words) + ";\n";
  }
  return out + "      default: k = '0;\n    endcase\n  end\nendmodule\n";
}

std::string core_module(const Sha256CoreConfig& g) {
  const int P = g.pipeline, U = g.unroll, R = g.cycles_per_step(), CB = log2_exact(R);
  const int KW = 32 * P * U, L = P - 1;
  std::string out = "// One SHA-256 core: " + s(P) + " pipeline stage" + (P > 1 ? "s" : "") + " of " + s(64 / P) +
                    " rounds, " + s(U) + " round" + (U > 1 ? "s" : "") + " per cycle, so a step\n"
                    "// takes " + s(R) + " cycle" + (R > 1 ? "s" : "") +
                    ". At each step boundary (in_ready) every stage hands its block to the next and\n"
                    "// stage 0 takes the block on the input: a first block starts from the initial hash value,\n"
                    "// any other from the digest leaving the last stage at the same edge (the same lane, " + s(P) + "\n"
                    "// steps earlier). out_valid pulses one cycle after the edge at which a last block leaves.\n";
  out += R"(module sha256_core (
  input  wire         clk,
  input  wire         rst,
  input  wire         in_valid,
  input  wire         in_first,    // the block starts a message
  input  wire         in_last,     // the block ends a message (its digest is an output)
  input  wire [511:0] in_block,    // padded block, message word i at [32*i +: 32]
  output wire         in_ready,    // a step boundary: the input block is taken at this edge
  output reg          out_valid,
  output reg  [255:0] out_digest   // H0 at [31:0]
);
  localparam [255:0] INITIAL_HASH = )";
  out += words_literal(std::vector<std::uint32_t>(kInitial, kInitial + 8)) + ";\n\n";
  if (R > 1) {
    out += "  reg  [" + s(CB - 1) + ":0] step_cnt;  // cycle within the step; the boundary is the last one\n"
           "  always @(posedge clk) step_cnt <= rst ? {" + s(CB) + "{1'b1}} : step_cnt + " + s(CB) + "'d1;\n"
           "  wire step = &step_cnt;\n"
           "  wire [" + s(KW - 1) + ":0] k;\n  sha256_k u_k (.step_cnt(step_cnt), .k(k));\n\n";
  } else {
    std::vector<std::uint32_t> words;
    for (int st = 0; st < P; ++st)
      for (int u = 0; u < U; ++u) words.push_back(kRound[st * (64 / P) + u]);
    out += "  wire step = 1'b1;  // one cycle per step: every edge is a step boundary\n"
           "  wire [" + s(KW - 1) + ":0] k = " + words_literal(words) + ";\n\n";
  }
  for (int st = 0; st < P; ++st) {
    const std::string n = s(st);
    const bool last = st == L;
    out += "  // Stage " + n + ": rounds " + s(st * 64 / P) + ".." + s((st + 1) * 64 / P - 1) + ".\n";
    out += "  reg          valid_" + n + ", last_" + n + ";\n";
    out += "  reg  [255:0] state_" + n + ", chain_" + n + ";\n  reg  [511:0] window_" + n + ";\n";
    out += "  wire [255:0] state_next_" + n + ";\n  wire [511:0] window_next_" + n + ";\n";
    if (last) out += "  wire [255:0] digest;\n";
    out += std::string("  ") + (last ? "sha256_rounds_final" : "sha256_rounds") + " u_rounds_" + n + " (\n" +
           "    .state_in  (state_" + n + "),\n    .window_in (window_" + n + "),\n" +
           "    .k         (k[" + s(st * U * 32) + " +: " + s(U * 32) + "]),\n" +
           (last ? "    .chain_in  (chain_" + n + "),\n" : "") + "    .state_out (state_next_" + n + "),\n" +
           "    .window_out(window_next_" + n + ")" + (last ? ",\n    .digest    (digest)\n" : "\n") + "  );\n\n";
  }
  out += "  wire [255:0] chain_start = in_first ? INITIAL_HASH : digest;\n";
  if (R == 1)  // the last stage's digest is all that is used of its rounds
    out += "  wire unused_last_stage = &{1'b0, state_next_" + s(L) + ", window_next_" + s(L) + "};\n";
  out += "\n  always @(posedge clk) begin\n    if (rst) begin\n";
  for (int st = 0; st < P; ++st) out += "      valid_" + s(st) + " <= 1'b0;\n";
  out += "    end else if (step) begin\n      valid_0 <= in_valid;\n";
  for (int st = 1; st < P; ++st) out += "      valid_" + s(st) + " <= valid_" + s(st - 1) + ";\n";
  out += "    end\n  end\n\n  always @(posedge clk) begin\n    if (step) begin\n"
         "      state_0  <= chain_start;\n      window_0 <= in_block;\n      chain_0  <= chain_start;\n"
         "      last_0   <= in_last;\n";
  for (int st = 1; st < P; ++st) {
    const std::string n = s(st), p = s(st - 1);
    out += "      state_" + n + "  <= state_next_" + p + ";\n      window_" + n + " <= window_next_" + p + ";\n" +
           "      chain_" + n + "  <= chain_" + p + ";\n      last_" + n + "   <= last_" + p + ";\n";
  }
  if (R > 1) {
    out += "    end else begin\n";
    for (int st = 0; st < P; ++st)
      out += "      state_" + s(st) + "  <= state_next_" + s(st) + ";\n      window_" + s(st) + " <= window_next_" + s(st) + ";\n";
  }
  out += "    end\n  end\n\n  always @(posedge clk) begin\n"
         "    out_valid <= rst ? 1'b0 : step & valid_" + s(L) + " & last_" + s(L) + ";\n"
         "    if (step) out_digest <= digest;\n  end\n\n  assign in_ready = step;\nendmodule\n";
  return out;
}

std::string top_module(const Sha256CoreConfig& g) {
  const int C = g.cores;
  std::string out = "// " + s(C) + " independent SHA-256 core" + (C > 1 ? "s" : "") + "; core c's ports are bit c (or slice c) of each port.\n";
  out += "module sha256_top (\n  input  wire           clk,\n  input  wire           rst,\n";
  const std::string bits = "[" + s(C - 1) + ":0]";
  out += "  input  wire " + bits + "     in_valid,\n  input  wire " + bits + "     in_first,\n  input  wire " + bits +
         "     in_last,\n  input  wire [" + s(512 * C - 1) + ":0] in_block,\n  output wire " + bits +
         "     in_ready,\n  output wire " + bits + "     out_valid,\n  output wire [" + s(256 * C - 1) +
         ":0] out_digest\n);\n";
  out += R"(  genvar c;
  generate
    for (c = 0; c < )" + s(C) + R"(; c = c + 1) begin : g_core
      sha256_core u_core (
        .clk       (clk),
        .rst       (rst),
        .in_valid  (in_valid[c]),
        .in_first  (in_first[c]),
        .in_last   (in_last[c]),
        .in_block  (in_block[c*512 +: 512]),
        .in_ready  (in_ready[c]),
        .out_valid (out_valid[c]),
        .out_digest(out_digest[c*256 +: 256])
      );
    end
  endgenerate
endmodule
)";
  return out;
}

// ---------------------------------------------------------------------------------------
// Workload

const std::set<std::string> kWorkloadKeys = {"texts", "lengths", "messages", "min_length", "max_length", "seed"};
constexpr long long kMaxLength = 4096, kMaxMessages = 4096;

long long get_int(const json& w, const char* key, long long dflt, long long lo, long long hi) {
  if (!w.contains(key)) return dflt;
  const json& v = w[key];
  if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
    throw ParamError(std::string("sha256 workload \"") + key + "\" must be an integer in " + s(lo) + ".." + s(hi) +
                     ", got " + v.dump());
  return v.get<long long>();
}

std::string random_message(std::mt19937_64& rng, long long length) {
  std::string m(static_cast<std::size_t>(length), '\0');
  for (auto& c : m) c = static_cast<char>(rng() & 0xff);
  return m;
}

std::vector<long long> block_counts(const std::vector<std::string>& messages) {
  std::vector<long long> out;
  for (const auto& m : messages) out.push_back(sha256_block_count(static_cast<long long>(m.size())));
  return out;
}

// ---------------------------------------------------------------------------------------

class Sha256Family final : public Family {
 public:
  Sha256Family() {
    space_.add(Param::int_choice("unroll", {1, 2, 4, 8}, 1, "rounds computed per cycle in each pipeline stage"))
        .add(Param::pow2("pipeline", 1, 64, 1,
                         "pipeline stages over the 64 rounds; each holds a block for 64/(pipeline*unroll) cycles"))
        .add(Param::int_range("cores", 1, 8, 1, "independent SHA-256 cores side by side"))
        .require("pipeline * unroll <= 64 (each stage must compute at least one cycle of whole rounds)",
                 [](const Params& p) { return p.integer("pipeline") * p.integer("unroll") <= 64; });
  }

  std::string name() const override { return "sha256"; }
  int version() const override { return 1; }
  std::string description() const override {
    return "SHA-256 hashing cores (FIPS 180-4): rounds per cycle, pipeline stages and parallel cores";
  }
  const ParamSpace& space() const override { return space_; }

  Rtl emit(const Params& p) const override {
    space_.validate(p);
    const auto g = Sha256CoreConfig::from(p);
    std::vector<std::pair<std::string, std::string>> modules;
    if (g.pipeline > 1) modules.emplace_back("sha256_rounds", rounds_module(g.unroll, false));
    modules.emplace_back("sha256_rounds_final", rounds_module(g.unroll, true));
    if (g.cycles_per_step() > 1) modules.emplace_back("sha256_k", constants_module(g));
    modules.emplace_back("sha256_core", core_module(g));
    modules.emplace_back("sha256_top", top_module(g));
    Rtl rtl;
    rtl.top = "sha256_top";
    const std::string header = "// Generated by chipgym sha256 v" + std::to_string(version()) + ": " + p.to_assignments() +
                               "\n`default_nettype none\n\n";
    for (const auto& [module, text] : modules) {
      rtl.files[module + ".v"] = header + text + "\n`default_nettype wire\n";
      rtl.modules.push_back(module);
    }
    rtl.interface = {{"protocol", "sha256-blocks-v1"},
                     {"cores", g.cores},
                     {"pipeline", g.pipeline},
                     {"unroll", g.unroll},
                     {"cycles_per_step", g.cycles_per_step()},
                     {"layout", "block word i (big-endian) at [32*i +: 32]; digest H0 at [31:0]"}};
    return rtl;
  }

  std::string harness_cpp() const override { return sha256_harness_source(); }

  Stimulus stimulus(const Params& p, const json& workload) const override {
    const auto g = Sha256CoreConfig::from(p);
    const auto messages = sha256_messages(workload);
    const auto blocks = block_counts(messages);
    const auto placement = sha256_schedule(g, blocks);
    // Per lane, the messages in the order they are fed.
    std::vector<std::vector<std::size_t>> lane(static_cast<std::size_t>(g.lanes()));
    for (std::size_t i = 0; i < messages.size(); ++i)
      lane[static_cast<std::size_t>(placement[i].core * g.pipeline + placement[i].slot)].push_back(i);
    std::ostringstream in;
    in << "chipgym-sha256 1\n" << g.cores << ' ' << g.pipeline << ' ' << g.cycles_per_step() << ' '
       << 4 * sha256_model_cycles(g, blocks) + 1000 << '\n';
    for (const auto& ids : lane) {
      long long n = 0;
      for (auto i : ids) n += blocks[i];
      in << n << '\n';
      for (auto i : ids) {
        const auto padded = sha256_pad(messages[i]);
        for (std::size_t b = 0; b < padded.size(); ++b) {
          in << (b == 0 ? 1 : 0) << ' ' << (b + 1 == padded.size() ? 1 : 0);
          for (auto w : padded[b]) in << ' ' << hex32(w);
          in << '\n';
        }
      }
    }
    // Expected digests per core, in the order they leave it.
    json expected = {{"cores", json::array()}, {"messages", messages.size()}};
    for (int c = 0; c < g.cores; ++c) {
      std::vector<std::size_t> ids;
      for (std::size_t i = 0; i < messages.size(); ++i)
        if (placement[i].core == c) ids.push_back(i);
      std::sort(ids.begin(), ids.end(), [&](auto x, auto y) { return placement[x].done_step < placement[y].done_step; });
      json list = json::array();
      for (auto i : ids)
        list.push_back({{"message", i}, {"bytes", messages[i].size()}, {"digest", sha256_reference(messages[i])}});
      expected["cores"].push_back(list);
    }
    return {in.str(), expected};
  }

  SimCheck check(const Params&, const Stimulus& stim, const std::string& output) const override {
    SimCheck out;
    const auto& cores = stim.expected.at("cores");
    std::vector<std::size_t> next(cores.size(), 0);
    std::vector<long long> done(stim.expected.at("messages").get<std::size_t>(), -1);
    std::istringstream in(output);
    std::string line;
    bool ended = false;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string kind;
      ls >> kind;
      if (kind == "digest") {
        std::size_t c = 0;
        long long cycle = 0;
        std::string got;
        if (!(ls >> c >> cycle >> got) || c >= cores.size()) {
          out.error = "harness output is malformed: '" + line + "'";
          return out;
        }
        if (next[c] >= cores[c].size()) {
          out.error = "core " + std::to_string(c) + " produced more digests than the " +
                      std::to_string(cores[c].size()) + " messages it was given";
          return out;
        }
        const json& e = cores[c][next[c]++];
        const std::size_t id = e["message"].get<std::size_t>();
        done[id] = cycle;
        ++out.checked;
        const std::string want = e["digest"].get<std::string>();
        if (got != want) {
          if (out.mismatches == 0)
            out.first_mismatch = "message " + std::to_string(id) + " (" + std::to_string(e["bytes"].get<long long>()) +
                                 " bytes) on core " + std::to_string(c) + ": expected " + want + ", got " + got;
          ++out.mismatches;
        }
      } else if (kind == "end") {
        std::string w1, w2, status;
        if (!(ls >> w1 >> out.cycles >> w2 >> status)) {
          out.error = "harness output is malformed: '" + line + "'";
          return out;
        }
        if (status != "ok") {
          out.error = "simulation stopped: " + status;
          return out;
        }
        ended = true;
      }
    }
    if (!ended) {
      out.error = "harness output ended early (no end line)";
      return out;
    }
    for (std::size_t c = 0; c < cores.size(); ++c)
      if (next[c] != cores[c].size()) {
        out.error = "core " + std::to_string(c) + " produced " + std::to_string(next[c]) + " digests, expected " +
                    std::to_string(cores[c].size());
        return out;
      }
    out.cycles_per_problem = done;  // per message: the cycle its digest left
    out.correct = out.mismatches == 0;
    return out;
  }

  long long model_cycles(const Params& p, const json& workload) const override {
    return sha256_model_cycles(Sha256CoreConfig::from(p), block_counts(sha256_messages(workload)));
  }

  json derived(const Params& p, const json& workload) const override {
    const auto g = Sha256CoreConfig::from(p);
    const auto messages = sha256_messages(workload);
    long long blocks = 0, bytes = 0;
    for (const auto& m : messages) {
      blocks += sha256_block_count(static_cast<long long>(m.size()));
      bytes += static_cast<long long>(m.size());
    }
    return {{"messages", messages.size()},
            {"blocks", blocks},  // compressions: the "hashes" of the objective
            {"bytes", bytes},
            {"lanes", g.lanes()},
            {"cycles_per_step", g.cycles_per_step()},
            {"peak_blocks_per_cycle", static_cast<double>(g.cores * g.pipeline * g.unroll) / 64.0}};
  }

  // Objective: hashes (compressed blocks) per second per iCE40 LUT, with the clock estimated
  // from the logic depth: period = 0.25 ns per gate of depth + 1 ns (clock-to-out, setup and
  // skew), f = 1 / period. Admissible only within budget["max_luts"] (and budget["max_ffs"]
  // when given); an empty result when there is no iCE40 run or no synthesis to score.
  json score(const json& m, const json& budget) const override {
    json out = json::object();
    const json& d = m.value("derived", json::object());
    const long long cycles = m.value("cycles", 0LL), depth = m.value("depth", 0LL);
    const long long luts = m.value("luts", 0LL), ffs = m.value("ffs", 0LL);
    if (!d.contains("blocks") || cycles <= 0) return out;
    const double blocks_per_cycle = d["blocks"].get<double>() / static_cast<double>(cycles);
    out["blocks_per_cycle"] = blocks_per_cycle;
    out["utilization"] = blocks_per_cycle / d.value("peak_blocks_per_cycle", 1.0);
    if (depth <= 0 || luts <= 0) return out;
    const double period_ns = kNsPerGate * static_cast<double>(depth) + kNsOverhead;
    const double hashes_per_second = blocks_per_cycle * 1e9 / period_ns;
    const long long max_luts = budget.value("max_luts", 0LL), max_ffs = budget.value("max_ffs", 0LL);
    const bool within = (max_luts == 0 || luts <= max_luts) && (max_ffs == 0 || ffs <= max_ffs);
    out["clock_mhz"] = 1e3 / period_ns;
    out["mhashes_per_second"] = hashes_per_second / 1e6;
    out["hashes_per_second_per_lut"] = hashes_per_second / static_cast<double>(luts);
    out["within_budget"] = within;
    out["objective"] = within ? hashes_per_second / static_cast<double>(luts) : 0.0;
    out["objective_unit"] = "hashes/s per iCE40 LUT";
    if (budget.contains("fpga")) out["fpga"] = budget["fpga"];
    return out;
  }

  static constexpr double kNsPerGate = 0.25, kNsOverhead = 1.0;

 private:
  ParamSpace space_;
};

}  // namespace

Sha256CoreConfig Sha256CoreConfig::from(const Params& p) {
  Sha256CoreConfig g;
  g.unroll = static_cast<int>(p.integer("unroll"));
  g.pipeline = static_cast<int>(p.integer("pipeline"));
  g.cores = static_cast<int>(p.integer("cores"));
  return g;
}

long long sha256_block_count(long long bytes) { return (bytes + 9 + 63) / 64; }

std::vector<Sha256Block> sha256_pad(const std::string& message) {
  std::string bytes = message;
  bytes += static_cast<char>(0x80);
  while (bytes.size() % 64 != 56) bytes += '\0';
  const std::uint64_t bits = static_cast<std::uint64_t>(message.size()) * 8;
  for (int i = 7; i >= 0; --i) bytes += static_cast<char>((bits >> (8 * i)) & 0xff);
  std::vector<Sha256Block> blocks(bytes.size() / 64);
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (int i = 0; i < 16; ++i) {
      std::uint32_t w = 0;
      for (int j = 0; j < 4; ++j) w = (w << 8) | static_cast<unsigned char>(bytes[b * 64 + 4 * i + j]);
      blocks[b][i] = w;
    }
  return blocks;
}

std::string sha256_reference(const std::string& message) {
  std::uint32_t h[8];
  std::copy(kInitial, kInitial + 8, h);
  for (const auto& block : sha256_pad(message)) compress(h, block);
  std::string out;
  for (auto v : h) out += hex32(v);
  return out;
}

std::vector<std::string> sha256_messages(const json& w) {
  if (!w.is_object()) throw ParamError("sha256 workload must be a JSON object (texts, lengths, messages, seed)");
  for (auto it = w.begin(); it != w.end(); ++it)
    if (!kWorkloadKeys.count(it.key()))
      throw ParamError("sha256 workload has an unknown field \"" + it.key() +
                       "\"; known: texts, lengths, messages, min_length, max_length, seed");
  std::vector<std::string> out;
  if (w.contains("texts")) {
    if (!w["texts"].is_array()) throw ParamError("sha256 workload \"texts\" must be a list of strings");
    for (const auto& t : w["texts"]) {
      if (!t.is_string()) throw ParamError("sha256 workload \"texts\" has " + t.dump() + ", not a string");
      if (t.get<std::string>().size() > kMaxLength)
        throw ParamError("sha256 workload text of " + s(static_cast<long long>(t.get<std::string>().size())) +
                         " bytes exceeds " + s(kMaxLength));
      out.push_back(t.get<std::string>());
    }
  }
  const long long seed = get_int(w, "seed", 1, 0, (1LL << 62));
  std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
  if (w.contains("lengths")) {
    if (!w["lengths"].is_array()) throw ParamError("sha256 workload \"lengths\" must be a list of byte lengths");
    for (const auto& l : w["lengths"]) {
      if (!l.is_number_integer() || l.get<long long>() < 0 || l.get<long long>() > kMaxLength)
        throw ParamError("sha256 workload length " + l.dump() + " is not an integer in 0.." + s(kMaxLength));
      out.push_back(random_message(rng, l.get<long long>()));
    }
  }
  const long long n = get_int(w, "messages", 0, 0, kMaxMessages);
  const long long lo = get_int(w, "min_length", 0, 0, kMaxLength), hi = get_int(w, "max_length", 128, 0, kMaxLength);
  if (lo > hi) throw ParamError("sha256 workload \"min_length\" " + s(lo) + " exceeds \"max_length\" " + s(hi));
  std::uniform_int_distribution<long long> length(lo, hi);
  for (long long i = 0; i < n; ++i) out.push_back(random_message(rng, length(rng)));
  if (out.empty()) throw ParamError("sha256 workload has no messages (give texts, lengths or messages)");
  if (out.size() > static_cast<std::size_t>(kMaxMessages))
    throw ParamError("sha256 workload has " + s(static_cast<long long>(out.size())) + " messages; at most " + s(kMaxMessages));
  return out;
}

std::vector<Sha256Placement> sha256_schedule(const Sha256CoreConfig& g, const std::vector<long long>& blocks) {
  const long long P = g.pipeline, R = g.cycles_per_step();
  std::vector<long long> used(static_cast<std::size_t>(g.lanes()), 0);  // blocks given to each lane
  std::vector<Sha256Placement> out;
  for (long long n : blocks) {
    std::size_t best = 0;
    long long best_free = -1;
    for (std::size_t l = 0; l < used.size(); ++l) {
      const long long free_step = static_cast<long long>(l % P) + used[l] * P;  // lane l = core * P + slot
      if (best_free < 0 || free_step < best_free) {
        best = l;
        best_free = free_step;
      }
    }
    Sha256Placement pl;
    pl.core = static_cast<int>(best / P);
    pl.slot = static_cast<int>(best % P);
    pl.first_step = best_free;
    used[best] += n;
    pl.done_step = best_free + n * P;
    pl.done_cycle = pl.done_step * R + 1;
    out.push_back(pl);
  }
  return out;
}

long long sha256_model_cycles(const Sha256CoreConfig& g, const std::vector<long long>& blocks) {
  long long cycles = 0;
  for (const auto& pl : sha256_schedule(g, blocks)) cycles = std::max(cycles, pl.done_cycle);
  return cycles;
}

const Family& sha256_family() {
  static const Sha256Family family;
  return family;
}

namespace {
const Registration<FamilyEntry> registered{{"sha256", &sha256_family}};
}  // namespace

}  // namespace chipgym::hdl
