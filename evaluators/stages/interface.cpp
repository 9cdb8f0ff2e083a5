// interface: the top module's ports against the interface the design declares (Rtl::interface
// "ports": name -> signed width, + input, - output), read from its ANSI header before any tool
// runs. A design that declares no ports is not checked. Writes Metrics::stages.interface.
#include <algorithm>
#include <regex>

#include "evaluators/screen.h"
#include "evaluators/stage.h"
#include "hdl/param_space.h"

namespace chipgym::evaluators {

using hdl::ParamError;

namespace {

// Constant expressions in a range: integers, parameters, + - * / and parentheses.
struct ExprParser {
  const std::string& s;
  const std::map<std::string, long long>& params;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  long long primary() {
    ws();
    if (i < s.size() && s[i] == '(') {
      ++i;
      long long v = sum();
      ws();
      if (i >= s.size() || s[i] != ')') throw ParamError("')' expected");
      ++i;
      return v;
    }
    if (i < s.size() && s[i] == '-') {
      ++i;
      return -primary();
    }
    std::size_t k = i;
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      while (k < s.size() && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
      std::string digits = s.substr(i, k - i);
      digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
      i = k;
      return std::stoll(digits);
    }
    while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
    std::string name = s.substr(i, k - i);
    auto it = params.find(name);
    if (name.empty() || it == params.end()) throw ParamError("cannot evaluate '" + s.substr(i) + "'");
    i = k;
    return it->second;
  }
  long long product() {
    long long v = primary();
    for (ws(); i < s.size() && (s[i] == '*' || s[i] == '/'); ws()) {
      const char op = s[i++];
      const long long r = primary();
      if (op == '/' && r == 0) throw ParamError("division by zero");
      v = op == '*' ? v * r : v / r;
    }
    return v;
  }
  long long sum() {
    long long v = product();
    for (ws(); i < s.size() && (s[i] == '+' || s[i] == '-'); ws()) {
      const char op = s[i++];
      const long long r = product();
      v = op == '+' ? v + r : v - r;
    }
    return v;
  }
  long long all() {
    long long v = sum();
    ws();
    if (i != s.size()) throw ParamError("cannot evaluate '" + s + "'");
    return v;
  }
};

long long eval_expr(const std::string& text, const std::map<std::string, long long>& params) {
  ExprParser p{text, params};
  return p.all();
}

// The text inside the balanced parenthesis that opens at code[open]; `end` is set past it.
std::string balanced(const std::string& code, std::size_t open, std::size_t& end) {
  int depth = 0;
  for (std::size_t k = open; k < code.size(); ++k) {
    if (code[k] == '(') ++depth;
    else if (code[k] == ')' && --depth == 0) {
      end = k + 1;
      return code.substr(open + 1, k - open - 1);
    }
  }
  throw ParamError("unbalanced parentheses in the module header");
}

std::vector<std::string> split_top_level(const std::string& s) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (cur.find_first_not_of(" \t\r\n") != std::string::npos) parts.push_back(cur);
  return parts;
}

}  // namespace

std::map<std::string, int> parse_module_ports(const std::string& code, const std::string& module) {
  static const std::regex module_re(R"(\b(module|macromodule)\s+([A-Za-z_][A-Za-z0-9_]*))");
  std::size_t at = std::string::npos;
  std::string found;
  for (std::sregex_iterator it(code.begin(), code.end(), module_re), end; it != end; ++it) {
    if ((*it)[2] == module) at = it->position(0) + it->length(0);
    found += (found.empty() ? "" : ", ") + (*it)[2].str();
  }
  if (at == std::string::npos)
    throw ParamError("no module '" + module + "' in the candidate" +
                     (found.empty() ? std::string(" (it defines no module)") : " (it defines: " + found + ")"));
  auto skip_ws = [&] {
    while (at < code.size() && std::isspace(static_cast<unsigned char>(code[at]))) ++at;
  };
  std::map<std::string, long long> params;
  skip_ws();
  if (at < code.size() && code[at] == '#') {
    ++at;
    skip_ws();
    if (at >= code.size() || code[at] != '(') throw ParamError("module " + module + ": '(' expected after '#'");
    std::string list = balanced(code, at, at);
    static const std::regex param_re(
        R"(^\s*(?:parameter\s+)?(?:(?:integer|int|logic|signed|unsigned|\[[^\]]*\])\s*)*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$)");
    for (const auto& entry : split_top_level(list)) {
      std::smatch m;
      if (!std::regex_match(entry, m, param_re)) continue;
      try {
        params[m[1]] = eval_expr(m[2], params);
      } catch (const std::exception&) {
        // a parameter that is not a plain number cannot size a port we check
      }
    }
    skip_ws();
  }
  if (at >= code.size() || code[at] != '(') throw ParamError("module " + module + " has no port list");
  const std::string list = balanced(code, at, at);
  static const std::regex port_re(
      R"(^\s*(input|output|inout)?\s*((?:(?:wire|reg|logic|var|signed|unsigned)\s+)*)(\[[^\]]*\])?\s*(?:(?:signed|unsigned)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$)");
  std::map<std::string, int> ports;
  std::string dir;
  int width = 1;
  for (const auto& entry : split_top_level(list)) {
    std::smatch m;
    if (!std::regex_match(entry, m, port_re))
      throw ParamError("module " + module + ": cannot read the port declaration '" +
                       std::regex_replace(entry, std::regex(R"(\s+)"), " ") +
                       "'; declare ports ANSI-style: input wire [7:0] name");
    if (m[1].matched) {
      dir = m[1];
      width = 1;
      if (m[3].matched) {
        const std::string range = m[3].str().substr(1, m[3].length() - 2);
        const auto colon = range.find(':');
        if (colon == std::string::npos) throw ParamError("module " + module + ": range " + m[3].str() + " has no ':'");
        try {
          width = static_cast<int>(std::llabs(eval_expr(range.substr(0, colon), params) -
                                              eval_expr(range.substr(colon + 1), params)) + 1);
        } catch (const ParamError& e) {
          throw ParamError("module " + module + ": the width of port '" + m[4].str() + "' (" + m[3].str() +
                           ") is not a constant: " + e.what());
        }
      }
    } else if (dir.empty()) {
      throw ParamError("module " + module +
                       " uses a non-ANSI port list; declare directions and widths in the header: input wire [7:0] name");
    } else if (m[3].matched || !m[2].str().empty()) {
      throw ParamError("module " + module + ": port '" + m[4].str() + "' needs its own direction");
    }
    if (dir == "inout") throw ParamError("module " + module + ": port '" + m[4].str() + "' is inout; stream ports are input or output");
    ports[m[4]] = dir == "input" ? width : -width;
  }
  return ports;
}

namespace {

bool check_interface(Evaluation& e) {
  const auto t0 = std::chrono::steady_clock::now();
  const hdl::Rtl& rtl = e.rtl;
  Metrics& m = e.metrics;
  if (!rtl.interface.is_object() || !rtl.interface.contains("ports") || !rtl.interface["ports"].is_object()) return true;
  std::map<std::string, int> declared;
  for (auto it = rtl.interface["ports"].begin(); it != rtl.interface["ports"].end(); ++it) declared[it.key()] = it.value();
  std::string code;
  for (const auto& [name, text] : rtl.files) code += strip_comments_and_strings(text) + "\n";
  std::string problems;
  try {
    const auto ports = parse_module_ports(code, rtl.top);
    auto describe = [](int w) {
      return std::string(w > 0 ? "input" : "output") + " [" + std::to_string(std::abs(w)) + " bit" +
             (std::abs(w) == 1 ? "" : "s") + "]";
    };
    for (const auto& [name, width] : declared) {
      auto it = ports.find(name);
      if (it == ports.end()) problems += "; port '" + name + "' is missing (expected " + describe(width) + ")";
      else if (it->second != width)
        problems += "; port '" + name + "' is " + describe(it->second) + ", expected " + describe(width);
    }
    for (const auto& [name, width] : ports)
      if (!declared.count(name)) problems += "; port '" + name + "' is not part of the interface";
    if (!problems.empty()) problems = "module " + rtl.top + " does not match the interface: " + problems.substr(2);
  } catch (const ParamError& ex) {
    problems = ex.what();
  }
  m.stages["interface"] = {{"seconds", seconds_since(t0)}};
  if (problems.empty()) return true;
  m.error = ErrorInfo{"interface", problems};
  return false;
}

const StageRegistration stage{{"interface",
                               "the top module's ANSI header against the declared interface (ports, directions, widths)",
                               check_interface}};

}  // namespace
}  // namespace chipgym::evaluators
