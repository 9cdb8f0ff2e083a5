#include "env/port_score.h"

#include <algorithm>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "env/equiv.h"
#include "evaluators/screen.h"
#include "evaluators/sha256.h"
#include "hdl/family.h"
#include "hdl/param_space.h"

namespace chipgym::env {

using evaluators::Metrics;
using hdl::ParamError;

// --- ports -----------------------------------------------------------------------------------

std::vector<const Port*> PortSpec::inputs() const {
  std::vector<const Port*> out;
  for (const auto& p : ports)
    if (p.input && p.name != clock) out.push_back(&p);
  return out;
}

std::vector<const Port*> PortSpec::outputs() const {
  std::vector<const Port*> out;
  for (const auto& p : ports)
    if (!p.input) out.push_back(&p);
  return out;
}

const Port* PortSpec::find(const std::string& name) const {
  for (const auto& p : ports)
    if (p.name == name) return &p;
  return nullptr;
}

json PortSpec::to_json() const {
  json ports_json = json::object();
  for (const auto& p : ports) ports_json[p.name] = p.input ? p.width : -p.width;
  json j = {{"module", module}, {"ports", ports_json}, {"clock", clock.empty() ? json() : json(clock)}};
  j["reset"] = reset.empty() ? json() : json{{"name", reset}, {"active_low", reset_active_low}, {"async", reset_async}};
  return j;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The one 1-bit input whose lower-case name is among `names`; empty if none, an error if several.
std::string find_port(const PortSpec& spec, const std::set<std::string>& names, const char* what) {
  std::vector<std::string> found;
  for (const auto& p : spec.ports)
    if (p.input && p.width == 1 && names.count(lower(p.name))) found.push_back(p.name);
  if (found.size() > 1)
    throw ParamError("module " + spec.module + " has several inputs that look like its " + what + " (" + join(found, ", ") +
                     "); name it with --" + what);
  return found.empty() ? "" : found[0];
}

}  // namespace

PortSpec read_port_spec(const std::string& screened_code, const std::string& module, const std::string& clock,
                        const std::string& reset, std::optional<bool> active_low, std::optional<bool> async) {
  PortSpec spec;
  spec.module = module;
  for (const auto& [name, width] : evaluators::parse_module_ports(screened_code, module))
    spec.ports.push_back({name, std::abs(width), width > 0});
  if (spec.outputs().empty()) throw ParamError("module " + module + " has no outputs: nothing to compare");
  auto named = [&](const std::string& name, const char* what) {
    const Port* p = spec.find(name);
    if (!p || !p->input || p->width != 1)
      throw ParamError(std::string("--") + what + " " + name + ": module " + module + " has no 1-bit input of that name");
    return name;
  };
  spec.clock = clock.empty() ? find_port(spec, {"clk", "clock", "clk_i", "i_clk"}, "clock") : named(clock, "clock");
  spec.reset = reset.empty()
                   ? find_port(spec, {"rst", "reset", "areset", "rst_n", "resetn", "reset_n", "arst_n", "aresetn", "arst"}, "reset")
                   : named(reset, "reset");
  if (!spec.reset.empty()) {
    const std::string r = lower(spec.reset);
    spec.reset_active_low = active_low.value_or(r.back() == 'n');
    spec.reset_async = async.value_or(r[0] == 'a');
  }
  return spec;
}

// --- stimulus --------------------------------------------------------------------------------

namespace {

std::string bits_of(std::uint64_t value, int width) {
  std::string s(static_cast<std::size_t>(width), '0');
  for (int i = 0; i < width && i < 64; ++i)
    if ((value >> i) & 1) s[static_cast<std::size_t>(width - 1 - i)] = '1';
  return s;
}

// Bits as a person reads them: binary up to 16 bits, else hex (binary when a bit is x or z).
std::string shown(const std::string& bits) {
  if (bits.size() <= 16 || bits.find_first_not_of("01") != std::string::npos) return bits;
  std::string hex = "0x";
  const std::size_t lead = bits.size() % 4;
  std::size_t at = 0;
  auto digit = [&](std::size_t n) {
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v * 2 + (bits[at++] - '0');
    hex += "0123456789abcdef"[v];
  };
  if (lead) digit(lead);
  while (at < bits.size()) digit(4);
  return hex;
}

std::string random_bits(std::mt19937_64& rng, int width) {
  std::string s(static_cast<std::size_t>(width), '0');
  for (int i = 0; i < width; ++i) s[static_cast<std::size_t>(i)] = (rng() & 1) ? '1' : '0';
  return s;
}

}  // namespace

std::vector<PortCycle> generate_stimulus(const PortSpec& spec, const StimulusOptions& o) {
  if (o.cycles < 1 || o.seeds < 1) throw ParamError("--cycles and --seeds must be >= 1");
  const auto inputs = spec.inputs();
  auto data_inputs = inputs;
  data_inputs.erase(std::remove_if(data_inputs.begin(), data_inputs.end(), [&](const Port* p) { return p->name == spec.reset; }),
                    data_inputs.end());
  const std::string reset_on = spec.reset_active_low ? "0" : "1", reset_off = spec.reset_active_low ? "1" : "0";
  std::vector<PortCycle> out;
  for (int s = 0; s < o.seeds; ++s) {
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(s));
    std::vector<PortCycle> run;
    auto cycle = [&](const std::string& origin, const std::function<std::string(const Port&)>& value) {
      PortCycle c;
      c.origin = origin;
      for (const Port* p : data_inputs) c.in[p->name] = value(*p);
      if (!spec.reset.empty()) c.in[spec.reset] = reset_off;
      run.push_back(std::move(c));
    };
    const std::string seed_tag = o.seeds > 1 ? " (seed " + std::to_string(s) + ")" : "";
    if (!spec.reset.empty())
      for (int k = 0; k < o.reset_cycles; ++k) {
        cycle("reset" + seed_tag, [](const Port& p) { return std::string(static_cast<std::size_t>(p.width), '0'); });
        run.back().in[spec.reset] = reset_on;
      }
    // Directed values: zeros, ones, each input at its extremes, single bits.
    cycle("zeros" + seed_tag, [](const Port& p) { return std::string(static_cast<std::size_t>(p.width), '0'); });
    cycle("ones" + seed_tag, [](const Port& p) { return std::string(static_cast<std::size_t>(p.width), '1'); });
    for (const Port* q : data_inputs) {
      cycle("max " + q->name + seed_tag, [&](const Port& p) {
        return std::string(static_cast<std::size_t>(p.width), &p == q ? '1' : '0');
      });
      if (q->width > 1) {
        // Signed extremes: the sign bit alone, and all but it.
        cycle("min signed " + q->name + seed_tag, [&](const Port& p) {
          std::string v(static_cast<std::size_t>(p.width), '0');
          if (&p == q) v[0] = '1';
          return v;
        });
        cycle("max signed " + q->name + seed_tag, [&](const Port& p) {
          std::string v(static_cast<std::size_t>(p.width), &p == q ? '1' : '0');
          if (&p == q) v[0] = '0';
          return v;
        });
      }
      for (int b = 0; b < std::min(q->width, 8); ++b)
        cycle("bit " + std::to_string(b) + " of " + q->name + seed_tag, [&](const Port& p) {
          std::string v(static_cast<std::size_t>(p.width), '0');
          if (&p == q) v[static_cast<std::size_t>(p.width - 1 - b)] = '1';
          return v;
        });
    }
    if (static_cast<int>(run.size()) > o.cycles) run.resize(static_cast<std::size_t>(o.cycles));
    int random = 0;
    while (static_cast<int>(run.size()) < o.cycles) {
      cycle("random " + std::to_string(random++) + seed_tag, [&](const Port& p) { return random_bits(rng, p.width); });
      // One reset pulse in the middle of the random part, then random again.
      if (!spec.reset.empty() && random == std::max(1, (o.cycles - 10) / 2)) run.back().in[spec.reset] = reset_on;
    }
    out.insert(out.end(), run.begin(), run.end());
  }
  return out;
}

// --- vectors from JSON ------------------------------------------------------------------------

namespace {

// A value as bits of `width`, MSB first: "0x..", "0b..", or plain binary; `dont_care` allows
// '?'/'x' (as 'x'). Throws ParamError naming the port.
std::string parse_value(const json& v, int width, const std::string& port, bool dont_care) {
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<long long>() >= 0)) {
    const std::uint64_t n = v.get<std::uint64_t>();
    if (width < 64 && (n >> width) != 0) throw ParamError("port " + port + ": " + v.dump() + " does not fit in " + std::to_string(width) + " bits");
    return bits_of(n, width);
  }
  if (!v.is_string()) throw ParamError("port " + port + ": a value must be a string (\"0x1f\", \"0b101\") or a non-negative number");
  std::string s = v.get<std::string>();
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  std::string bits;
  auto dc = [&](char c) {
    if (!dont_care) throw ParamError("port " + port + ": '" + std::string(1, c) + "' (don't care) is only allowed in expected outputs");
  };
  if (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0) {
    for (char c : s.substr(2)) {
      if (c == '?' || c == 'x' || c == 'X') {
        dc(c);
        bits += "xxxx";
      } else if (std::isxdigit(static_cast<unsigned char>(c))) {
        const int d = std::stoi(std::string(1, c), nullptr, 16);
        bits += bits_of(static_cast<std::uint64_t>(d), 4);
      } else {
        throw ParamError("port " + port + ": '" + s + "' is not a hex value");
      }
    }
  } else {
    if (s.rfind("0b", 0) == 0 || s.rfind("0B", 0) == 0) s = s.substr(2);
    for (char c : s) {
      if (c == '?' || c == 'x' || c == 'X') {
        dc(c);
        bits += 'x';
      } else if (c == '0' || c == '1') {
        bits += c;
      } else {
        throw ParamError("port " + port + ": '" + v.get<std::string>() + "' is not a binary value (or 0x... hex)");
      }
    }
  }
  if (bits.empty()) throw ParamError("port " + port + ": empty value");
  // Wider than the port: only leading zeros may go.
  while (static_cast<int>(bits.size()) > width) {
    if (bits[0] != '0') throw ParamError("port " + port + ": " + v.dump() + " is wider than its " + std::to_string(width) + " bits");
    bits.erase(0, 1);
  }
  return std::string(static_cast<std::size_t>(width) - bits.size(), bits[0] == 'x' ? 'x' : '0') + bits;
}

}  // namespace

PortSpec port_spec_from_json(const json& j, const std::string& top) {
  PortSpec spec;
  spec.module = !top.empty() ? top : j.value("module", std::string());
  if (spec.module.empty()) throw ParamError("port vectors: name the module (\"module\": \"top_module\", or --top)");
  if (!j.contains("ports") || !j["ports"].is_object() || j["ports"].empty())
    throw ParamError("port vectors: \"ports\" must name the module's ports, name -> width (+ input, - output)");
  for (auto it = j["ports"].begin(); it != j["ports"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int>() == 0)
      throw ParamError("port vectors: port '" + it.key() + "' needs a non-zero width (+ input, - output)");
    const int w = it.value().get<int>();
    spec.ports.push_back({it.key(), std::abs(w), w > 0});
  }
  if (spec.outputs().empty()) throw ParamError("port vectors: no output ports, nothing to compare");
  if (j.contains("clock") && !j["clock"].is_null()) {
    spec.clock = j["clock"].get<std::string>();
    const Port* p = spec.find(spec.clock);
    if (!p || !p->input || p->width != 1) throw ParamError("port vectors: the clock '" + spec.clock + "' is not a 1-bit input");
  }
  return spec;
}

bool is_port_vectors_json(const json& j) { return j.is_object() && j.contains("sequences"); }

PortVectors port_vectors_from_json(const json& j, const PortSpec& spec) {
  if (!is_port_vectors_json(j) || !j["sequences"].is_array())
    throw ParamError("port vectors: \"sequences\" must be an array of sequences (docs/ports.md)");
  PortVectors v;
  v.spec = spec;
  if (j.contains("ports")) {
    // The file's ports, when it names them, must be the module's.
    std::map<std::string, int> theirs;
    for (const auto& p : spec.ports) theirs[p.name] = p.input ? p.width : -p.width;
    if (!j["ports"].is_object()) throw ParamError("port vectors: \"ports\" must be an object name -> signed width");
    for (auto it = j["ports"].begin(); it != j["ports"].end(); ++it) {
      auto t = theirs.find(it.key());
      if (t == theirs.end()) throw ParamError("port vectors: port '" + it.key() + "' is not a port of module " + spec.module);
      if (!it.value().is_number_integer() || it.value().get<int>() != t->second)
        throw ParamError("port vectors: port '" + it.key() + "' is " + it.value().dump() + " in the vectors but " +
                         std::to_string(t->second) + " in module " + spec.module + " (+ input, - output width)");
    }
  }
  int s = 0;
  for (const auto& seq : j["sequences"]) {
    if (!seq.is_array()) throw ParamError("port vectors: sequence " + std::to_string(s) + " is not an array of cycles");
    int k = 0;
    for (const auto& c : seq) {
      const std::string where = "sequence " + std::to_string(s) + ", cycle " + std::to_string(k);
      if (!c.is_object() || !c.contains("in") || !c["in"].is_object())
        throw ParamError("port vectors: " + where + " needs an \"in\" object");
      PortCycle cycle;
      cycle.origin = "vectors " + std::to_string(s) + ":" + std::to_string(k);
      for (const Port* p : spec.inputs()) {
        if (!c["in"].contains(p->name)) throw ParamError("port vectors: " + where + " has no value for input " + p->name);
      }
      try {
        for (auto it = c["in"].begin(); it != c["in"].end(); ++it) {
          const Port* p = spec.find(it.key());
          if (!p || !p->input || p->name == spec.clock)
            throw ParamError("port '" + it.key() + "' is not a data input of module " + spec.module);
          cycle.in[p->name] = parse_value(it.value(), p->width, p->name, false);
        }
        if (c.contains("out")) {
          if (!c["out"].is_object()) throw ParamError("\"out\" must be an object");
          for (auto it = c["out"].begin(); it != c["out"].end(); ++it) {
            const Port* p = spec.find(it.key());
            if (!p || p->input) throw ParamError("port '" + it.key() + "' is not an output of module " + spec.module);
            cycle.out[p->name] = parse_value(it.value(), p->width, p->name, true);
          }
        }
        if (c.contains("mask")) {
          for (auto it = c["mask"].begin(); it != c["mask"].end(); ++it) {
            auto out = cycle.out.find(it.key());
            if (out == cycle.out.end()) throw ParamError("mask of '" + it.key() + "', which has no expected value");
            const std::string mask = parse_value(it.value(), static_cast<int>(out->second.size()), it.key(), false);
            for (std::size_t b = 0; b < mask.size(); ++b)
              if (mask[b] == '0') out->second[b] = 'x';
          }
        }
      } catch (const ParamError& e) {
        throw ParamError("port vectors: " + where + ": " + e.what());
      }
      v.cycles.push_back(std::move(cycle));
      ++k;
    }
    ++s;
  }
  if (v.cycles.empty()) throw ParamError("port vectors: no cycles");
  return v;
}

// --- the family: a module at its ports, simulated with Icarus --------------------------------

namespace {

class PortModule final : public hdl::Family {
 public:
  PortModule(PortVectors v, std::string file, int shown) : v_(std::move(v)), file_(std::move(file)), shown_(shown) {}

  std::string name() const override { return "port-module"; }
  int version() const override { return 1; }
  std::string description() const override { return "a module at its ports against a reference or port vectors"; }
  const hdl::ParamSpace& space() const override {
    static const hdl::ParamSpace none;
    return none;
  }
  const std::string& file() const { return file_; }
  bool records() const { return v_.cycles.empty() || v_.cycles[0].out.empty(); }

  json workload() const {
    json cycles = json::array();
    for (const auto& c : v_.cycles)
      cycles.push_back({{"in", c.in}, {"out", c.out}, {"before", c.out_before}, {"origin", c.origin}});
    return {{"spec", v_.spec.to_json()}, {"cycles_digest", evaluators::sha256_hex(cycles.dump())}, {"shown", shown_}};
  }

  hdl::Rtl emit(const hdl::Params&) const override {
    hdl::Rtl rtl;
    rtl.top = v_.spec.module;
    rtl.files[file_] = "";  // the candidate (or the reference), once screened
    rtl.interface = {{"ports", v_.spec.to_json()["ports"]}};
    return rtl;
  }
  std::string harness_cpp() const override { return {}; }

  std::string harness_verilog() const override {
    const auto ins = v_.spec.inputs();
    const auto outs = v_.spec.outputs();
    int in_bits = 0;
    for (const Port* p : ins) in_bits += p->width;
    std::ostringstream tb;
    auto range = [](int w) { return w > 1 ? "[" + std::to_string(w - 1) + ":0] " : std::string(); };
    tb << "// Generated by chipgym: one line of stimulus.txt per cycle, every output printed per cycle.\n"
       << "module chipgym_tb;\n";
    if (!v_.spec.clock.empty()) tb << "  reg chipgym_clk = 1'b0;\n";
    for (const Port* p : ins) tb << "  reg " << range(p->width) << "chipgym_in_" << p->name << ";\n";
    for (const Port* p : outs) tb << "  wire " << range(p->width) << "chipgym_out_" << p->name << ";\n";
    int out_bits = 0;
    for (const Port* p : outs) out_bits += p->width;
    tb << "  reg [" << std::max(in_bits, 1) - 1 << ":0] chipgym_stim;\n"
       << "  reg [" << out_bits - 1 << ":0] chipgym_before;\n"
       << "  reg [8*512-1:0] chipgym_vcd;\n"
       << "  integer chipgym_fd, chipgym_rc, chipgym_cycle;\n"
       << "  " << v_.spec.module << " dut (";
    bool first = true;
    for (const auto& p : v_.spec.ports) {
      tb << (first ? "" : ", ") << "." << p.name << "(";
      if (p.name == v_.spec.clock) tb << "chipgym_clk";
      else tb << (p.input ? "chipgym_in_" : "chipgym_out_") << p.name;
      tb << ")";
      first = false;
    }
    tb << ");\n  initial begin\n"
       << "    if ($value$plusargs(\"vcd=%s\", chipgym_vcd)) begin $dumpfile(chipgym_vcd); $dumpvars(0, chipgym_tb); end\n"
       << "    chipgym_fd = $fopen(\"stimulus.txt\", \"r\");\n"
       << "    if (chipgym_fd == 0) begin $display(\"ERROR no stimulus\"); $finish; end\n"
       << "    chipgym_cycle = 0;\n"
       << "    while (!$feof(chipgym_fd)) begin\n"
       << "      chipgym_rc = $fscanf(chipgym_fd, \"%b\\n\", chipgym_stim);\n"
       << "      if (chipgym_rc == 1) begin\n";
    if (!ins.empty()) {
      tb << "        {";
      for (std::size_t i = 0; i < ins.size(); ++i) tb << (i ? ", " : "") << "chipgym_in_" << ins[i]->name;
      tb << "} = chipgym_stim;\n";
    }
    std::string all_outputs = "{";
    for (std::size_t i = 0; i < outs.size(); ++i) all_outputs += (i ? ", " : "") + std::string("chipgym_out_") + outs[i]->name;
    all_outputs += "}";
    if (v_.spec.clock.empty()) {
      tb << "        #5;\n        $display(\"C %0d %b\", chipgym_cycle, " << all_outputs << ");\n        #5;\n";
    } else {
      tb << "        #4 chipgym_before = " << all_outputs << ";\n        #1 chipgym_clk = 1'b1;\n        #4;\n"
         << "        $display(\"C %0d %b %b\", chipgym_cycle, " << all_outputs << ", chipgym_before);\n"
         << "        #1 chipgym_clk = 1'b0;\n";
    }
    tb << "        chipgym_cycle = chipgym_cycle + 1;\n"
       << "      end\n    end\n    $display(\"END %0d\", chipgym_cycle);\n    $finish;\n  end\nendmodule\n";
    return tb.str();
  }

  hdl::Stimulus stimulus(const hdl::Params&, const json&) const override {
    std::string text;
    for (const auto& c : v_.cycles) {
      std::string line;
      for (const Port* p : v_.spec.inputs()) line += c.in.at(p->name);
      text += (line.empty() ? "0" : line) + "\n";
    }
    json expected = json::array();
    for (const auto& c : v_.cycles) expected.push_back({c.out, c.out_before});
    return {text, json::object(), evaluators::sha256_hex(expected.dump() + std::to_string(shown_))};
  }

  hdl::SimCheck check(const hdl::Params&, const hdl::Stimulus&, const std::string& output) const override {
    hdl::SimCheck c;
    const auto outs = v_.spec.outputs();
    std::vector<std::string> lines, before;
    std::istringstream in(output);
    long long end = -1;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("C ", 0) == 0) {
        std::istringstream words(line.substr(2));
        std::string cycle, after, early;
        words >> cycle >> after >> early;
        lines.push_back(after);
        before.push_back(early);
      } else if (line.rfind("END ", 0) == 0) {
        end = std::stoll(line.substr(4));
      }
    }
    c.cycles = static_cast<long long>(lines.size());
    if (end < 0 || lines.size() != v_.cycles.size()) {
      c.error = "the simulation printed " + std::to_string(lines.size()) + " of " + std::to_string(v_.cycles.size()) +
                " cycles (it stopped early: $finish or $stop in the design?)";
      c.category = "sim_crash";
      return c;
    }
    json outputs = json::array();
    json mismatches = json::array();
    long long bad_cycles = 0;
    auto split = [&](const std::string& word) {
      std::map<std::string, std::string> got;
      std::size_t at = 0;
      for (const Port* p : outs) {
        std::string bits = word.size() >= at + static_cast<std::size_t>(p->width) ? word.substr(at, static_cast<std::size_t>(p->width))
                                                                                  : std::string(static_cast<std::size_t>(p->width), '?');
        std::transform(bits.begin(), bits.end(), bits.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        got[p->name] = bits;
        at += static_cast<std::size_t>(p->width);
      }
      return got;
    };
    for (std::size_t k = 0; k < lines.size(); ++k) {
      const std::map<std::string, std::string> got = split(lines[k]), got_before = split(before[k]);
      if (records()) {
        outputs.push_back(json{{"after", got}, {"before", before[k].empty() ? json::object() : json(got_before)}});
        continue;
      }
      std::vector<std::string> wrong;
      std::map<std::string, std::string> expected_shown, got_shown;
      auto compare = [&](const std::map<std::string, std::string>& want, const std::map<std::string, std::string>& have,
                         const std::string& when) {
        for (const auto& [name, expected] : want) {
          const std::string& g = have.at(name);
          bool differs = false;
          for (std::size_t b = 0; b < expected.size(); ++b) {
            const char e = expected[b];
            if (e != '0' && e != '1') continue;  // x or z in the reference: don't care
            ++c.checked;
            if (g[b] != e) differs = true;
          }
          if (!differs) continue;
          wrong.push_back(name + when);
          expected_shown[name + when] = expected;
          got_shown[name + when] = g;
        }
      };
      compare(v_.cycles[k].out, got, "");
      compare(v_.cycles[k].out_before, got_before, " (before the edge)");
      if (wrong.empty()) continue;
      ++bad_cycles;
      c.mismatches += static_cast<long long>(wrong.size());
      if (static_cast<int>(mismatches.size()) < shown_) {
        json m = {{"cycle", k}, {"origin", v_.cycles[k].origin}, {"inputs", v_.cycles[k].in}, {"expected", json::object()},
                  {"got", json::object()}};
        for (const auto& name : wrong) {
          m["expected"][name] = expected_shown[name];
          m["got"][name] = got_shown[name];
        }
        mismatches.push_back(m);
      }
    }
    c.details = {{"cycles", c.cycles}, {"compared_bits", c.checked}, {"mismatched_cycles", bad_cycles},
                 {"first_mismatches", mismatches}, {"simulator", "icarus"}};
    if (records()) {
      c.correct = true;
      c.details["outputs"] = outputs;
      return c;
    }
    c.correct = bad_cycles == 0;
    if (!c.correct) {
      const json& m = mismatches[0];
      std::string what;
      for (auto it = m["expected"].begin(); it != m["expected"].end(); ++it)
        what += (what.empty() ? "" : "; ") + it.key() + " expected " + shown(it.value().get<std::string>()) + " got " +
                shown(m["got"][it.key()].get<std::string>());
      std::string inputs;
      for (auto it = m["inputs"].begin(); it != m["inputs"].end(); ++it)
        inputs += (inputs.empty() ? "" : " ") + it.key() + "=" + shown(it.value().get<std::string>());
      c.first_mismatch = "cycle " + m["cycle"].dump() + " (" + m["origin"].get<std::string>() + "): " + what;
      c.error = std::to_string(bad_cycles) + " of " + std::to_string(c.cycles) + " cycles differ; first at cycle " +
                m["cycle"].dump() + " (" + m["origin"].get<std::string>() + ", inputs " + (inputs.empty() ? "none" : inputs) +
                "): " + what;
      c.category = "mismatch";
    }
    return c;
  }

  long long model_cycles(const hdl::Params&, const json&) const override { return static_cast<long long>(v_.cycles.size()); }
  json derived(const hdl::Params&, const json&) const override { return json::object(); }
  json score(const json&, const json&) const override { return json::object(); }

 private:
  PortVectors v_;
  std::string file_;
  int shown_;
};

Metrics run_module(const std::string& text, const PortVectors& v, const std::string& file, const PortScoreOptions& o,
                   bool synthesize, std::optional<std::filesystem::path> vcd = std::nullopt) {
  const PortModule subject(v, file, o.mismatches_shown);
  evaluators::EvalOptions eval = o.eval;
  eval.inject = std::make_pair(file, text);  // untrusted: screened once, every tool run sandboxed
  eval.synthesis = synthesize && eval.synthesis;
  if (vcd) {
    eval.vcd = vcd;
    eval.use_cache = false;
  }
  evaluators::Pipeline pipeline(vcd ? nullptr : o.cache);
  return pipeline.evaluate(subject, hdl::Params{}, subject.workload(), eval);
}

ScoreReport report_of(const Metrics& m, const PortVectors& v, const std::string& what) {
  ScoreReport r;
  r.result = {{"task", nullptr}, {"seed", nullptr}, {"interface", v.spec.to_json()}, {"cycles", v.cycles.size()}};
  const json& st = m.stages;
  auto stage = [&](const char* name) { return st.contains(name) && st[name].is_object() ? st[name] : json::object(); };
  if (stage("screen").contains("modules")) r.result["modules"] = stage("screen")["modules"];
  if (stage("simulate").contains("details")) {
    r.result["simulation"] = stage("simulate")["details"];
    r.result["simulation"].erase("outputs");
  }
  fill_report(r, m, what, "was not simulated");
  // Scoring at the ports judges function: a candidate that matches on every cycle but that
  // Yosys cannot synthesize (Yosys 0.23 does not read every legal form, e.g. an asynchronous
  // reset written as a ?: under its edge, or a dual-edge register) passes, without area.
  std::string unsynthesized;
  if (m.error && m.error->stage == "synthesize" && m.correct == true && r.verdict == "fail") {
    unsynthesized = m.error->message;
    r.result["synthesis"] = {{"error", {{"category", m.error->category}, {"message", m.error->message}}}};
    r.verdict = "pass";
    r.stage.clear();
    r.category.clear();
  }
  if (r.passed()) {
    r.message = "every output matches on " + std::to_string(v.cycles.size()) + " cycles (" +
                std::to_string(m.checked) + " bits compared)";
    if (!unsynthesized.empty())
      r.message += "; not synthesized, so no area: " + unsynthesized.substr(0, 300);
  }
  return r;
}

}  // namespace

evaluators::EvalOptions PortScoreOptions::port_eval_options() {
  evaluators::EvalOptions o = untrusted_eval_options();
  o.fidelity = "ports";
  return o;
}

ScoreReport score_ports(const std::string& candidate, const PortVectors& vectors, const PortScoreOptions& o) {
  const Metrics m = run_module(candidate, vectors, "candidate.v", o, true);
  ScoreReport r = report_of(m, vectors, "");
  if (r.category == "mismatch" && o.vcd) {
    run_module(candidate, vectors, "candidate.v", o, false, o.vcd);
    r.result["vcd"] = o.vcd->string();
  }
  return r;
}

ScoreReport score_against_reference(const std::string& reference, const std::string& candidate, const std::string& top,
                                    const PortScoreOptions& o, const std::string& clock, const std::string& reset) {
  // The reference is untrusted text too: its ports are read from its screened text.
  evaluators::PrepareOptions prepare;
  prepare.verilator = evaluators::Toolchain::from_env().verilator;
  const evaluators::UntrustedVerilog u = evaluators::prepare_untrusted(reference, prepare);
  auto refused = [&](const std::string& category, const std::string& message) {
    ScoreReport r;
    r.verdict = category == "environment" ? "error" : "bad_input";
    r.stage = "reference";
    r.category = category;
    r.message = "the reference: " + message;
    r.result = {{"task", nullptr}, {"seed", nullptr}, {"reference", {{"module", top}}}};
    r.stages = json::object();
    return r;
  };
  if (!u.ok) return refused(u.category == "sandbox" || u.category == "environment" ? "environment" : "screen", u.message);
  std::string module = top;
  if (module.empty()) {
    if (u.modules.size() == 1) module = u.modules[0];
    else if (std::find(u.modules.begin(), u.modules.end(), "top_module") != u.modules.end()) module = "top_module";
    else return refused("input", "it defines " + join(u.modules, ", ") + "; name the module to compare with --top");
  } else if (std::find(u.modules.begin(), u.modules.end(), module) == u.modules.end()) {
    return refused("input", "it defines no module " + module + " (it defines " + join(u.modules, ", ") + ")");
  }
  PortVectors v;
  try {
    v.spec = read_port_spec(evaluators::strip_comments_and_strings(u.text), module, clock, reset);
    v.cycles = generate_stimulus(v.spec, o.stimulus);
  } catch (const ParamError& e) {
    return refused("interface", e.what());
  }
  // The reference's outputs on the stimulus are the expected values (X and Z: don't care).
  const Metrics ref = run_module(reference, v, "reference.v", o, false);
  if (ref.error) {
    ScoreReport r = report_of(ref, v, "the reference: ");
    r.stage = "reference";
    r.result["reference"] = {{"module", module}};
    if (r.verdict == "fail") r.verdict = "bad_input";  // a reference that does not build or crashes
    return r;
  }
  const json outputs = ref.stages["simulate"]["details"]["outputs"];
  for (std::size_t k = 0; k < v.cycles.size(); ++k) {
    v.cycles[k].out = outputs.at(k).at("after").get<std::map<std::string, std::string>>();
    v.cycles[k].out_before = outputs.at(k).at("before").get<std::map<std::string, std::string>>();
  }
  ScoreReport r = score_ports(candidate, v, o);
  r.result["reference"] = {{"module", module}, {"seconds", ref.seconds}, {"cache_hit", ref.cache_hit}};
  r.result["stimulus"] = {{"seed", o.stimulus.seed}, {"seeds", o.stimulus.seeds}, {"cycles", o.stimulus.cycles}};
  // The proof runs on what was simulated: a candidate refused before (screen, ports) is not proved.
  if (o.equiv && (r.verdict == "pass" || r.category == "mismatch")) {
    evaluators::PrepareOptions cand_prepare = prepare;
    const evaluators::UntrustedVerilog c = evaluators::prepare_untrusted(candidate, cand_prepare);
    if (c.ok) {
      EquivOptions eo;
      eo.depth = o.equiv_depth;
      eo.timeout = o.equiv_timeout;
      eo.cache = o.cache;
      if (o.vcd) {
        if (r.result.contains("vcd")) {
          std::filesystem::path f = *o.vcd;
          eo.vcd = f.replace_extension(".formal.vcd");
        } else {
          eo.vcd = o.vcd;
        }
      }
      const EquivResult formal = prove_equivalence(u.text, c.text, v.spec, eo);
      r.result["formal"] = formal.to_json();
      r.stages["equivalence"] = formal.seconds;
      r.result["formal"].erase("seconds");
      r.result["formal"].erase("cache_hit");
      if (r.passed() && formal.differs()) {
        std::string inputs;
        if (!formal.trace.empty())
          for (auto it = formal.trace.back()["inputs"].begin(); it != formal.trace.back()["inputs"].end(); ++it)
            inputs += (inputs.empty() ? "" : " ") + it.key() + "=" + shown(it.value().get<std::string>());
        r.verdict = "fail";
        r.stage = "equivalence";
        r.category = "formal_mismatch";
        r.message = "the simulation found no difference, but the formal proof did: " + formal.message +
                    (inputs.empty() ? "" : " (" + std::string(formal.method == "combinational" ? "inputs " : "inputs of the last cycle ") + inputs + ")");
      }
    }
  }
  return r;
}

}  // namespace chipgym::env
