// The offline proposer's operators (see evolve_ops.h). They work on lines of Verilog with small
// regular expressions, not on a parse tree: each recognizes the forms the generators in hdl/
// and the operators themselves write, and a form it does not recognize is left alone. What a
// child does is judged by the scorer (every child is simulated against the golden outputs), so
// an operator may be wrong sometimes; it is written so that it rarely is.
#include "agents/evolve_ops.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "agents/diff.h"
#include "agents/evolve.h"

namespace chipgym::agents {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

namespace {

std::string join_lines(const std::vector<std::string>& lines, std::size_t from = 0, std::size_t to = std::string::npos) {
  std::string out;
  for (std::size_t i = from; i < std::min(to, lines.size()); ++i) out += lines[i] + "\n";
  return out;
}

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

// The line that ends the module's header: the one holding the first `;` after `module`
// (outside comments), which closes the port list. lines.size() when there is none.
std::size_t header_end(const std::vector<std::string>& lines) {
  bool in_module = false, in_block_comment = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    for (std::size_t k = 0; k < l.size(); ++k) {
      if (in_block_comment) {
        if (l.compare(k, 2, "*/") == 0) in_block_comment = false, ++k;
        continue;
      }
      if (l.compare(k, 2, "//") == 0) break;
      if (l.compare(k, 2, "/*") == 0) {
        in_block_comment = true, ++k;
        continue;
      }
      if (!in_module && l.compare(k, 6, "module") == 0 && (k == 0 || !ident_char(l[k - 1])) &&
          (k + 6 == l.size() || !ident_char(l[k + 6])))
        in_module = true, k += 5;
      else if (in_module && l[k] == ';')
        return i;
    }
  }
  return lines.size();
}

// The index of the first body line (after the header), lines.size() when there is none.
std::size_t body_start(const std::vector<std::string>& lines) {
  const std::size_t end = header_end(lines);
  return end == lines.size() ? end : end + 1;
}

std::string code_part(const std::string& line) { return line.substr(0, line.find("//")); }

std::string hex(unsigned long long v) {
  std::ostringstream os;
  os << std::hex << v;
  return os.str();
}
unsigned long long mask(int w) { return w >= 64 ? ~0ULL : (1ULL << w) - 1; }
long long sign_extend(unsigned long long v, int w) {
  v &= mask(w);
  return w < 64 && (v >> (w - 1)) & 1 ? static_cast<long long>(v) - static_cast<long long>(1ULL << w) : static_cast<long long>(v);
}
// A sized literal: two's complement hex when signed ("8'sh7f"), decimal when not ("8'd5").
std::string literal(long long v, int w, bool is_signed) {
  if (is_signed) return std::to_string(w) + "'sh" + hex(static_cast<unsigned long long>(v) & mask(w));
  return std::to_string(w) + "'d" + std::to_string(v);
}
// Bits a table entry needs: two's complement when signed.
int bits_for_range(long long lo, long long hi, bool is_signed) {
  for (int w = 1; w < 63; ++w) {
    const long long min = is_signed ? -(1LL << (w - 1)) : 0, max = is_signed ? (1LL << (w - 1)) - 1 : (1LL << w) - 1;
    if (lo >= min && hi <= max) return w;
  }
  return 63;
}

// Declared internal signals (reg or wire, one name per declaration): width and signedness.
struct Signal {
  int width = 1;
  bool is_signed = false;
};
std::map<std::string, Signal> declarations(const std::vector<std::string>& lines) {
  static const std::regex decl(R"(^\s*(?:input|output|inout)?\s*(?:reg|wire)\s+(signed\s+)?(?:\[(\d+):(\d+)\]\s*)?([A-Za-z_]\w*)\s*[;=,)])");
  std::map<std::string, Signal> out;
  for (const auto& line : lines) {
    std::smatch m;
    const std::string code = code_part(line);
    if (!std::regex_search(code, m, decl)) continue;
    Signal s;
    s.is_signed = m[1].matched;
    if (m[2].matched) s.width = std::abs(std::stoi(m[2]) - std::stoi(m[3])) + 1;
    out[m[4]] = s;
  }
  return out;
}

std::size_t count_line_matches(const std::string& text, const std::string& block) {
  // As apply_search_replace matches: whole lines, trailing spaces ignored.
  std::string normalized;
  for (const auto& line : split_lines(text)) normalized += trim_right(line) + "\n";
  std::string needle;
  for (const auto& line : split_lines(block)) needle += trim_right(line) + "\n";
  const std::string haystack = "\n" + normalized;
  needle = "\n" + needle;
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// A child of `parent` as an OperatorChild: its reply, and the code that reply gives (what the
// loop will score); nullopt when the reply does not reproduce it or the header changed.
std::optional<OperatorChild> make_child(const std::string& op, const std::string& what, const std::string& parent,
                                        const std::string& child) {
  if (child == parent) return std::nullopt;
  const std::string reply = reply_between(parent, child);
  if (reply.empty()) return std::nullopt;
  const EditResult edit = apply_reply(parent, reply);
  if (!edit.ok || edit.code == parent) return std::nullopt;
  if (module_header(edit.code) != module_header(parent) || module_header(parent).empty()) return std::nullopt;
  return OperatorChild{op, what, reply, edit.code};
}

// --- narrow --------------------------------------------------------------------------------------

std::vector<OperatorChild> narrow_children(const std::string& code) {
  static const std::regex decl(R"(^(\s*(?:reg|wire)\s+(?:signed\s+)?)\[(\d+):(\d+)\](\s*)([A-Za-z_]\w*)(\s*[;=].*)$)");
  std::vector<OperatorChild> out;
  auto lines = split_lines(code);
  for (std::size_t i = body_start(lines); i < lines.size(); ++i) {
    std::smatch m;
    if (!std::regex_match(lines[i], m, decl)) continue;
    const int hi = std::stoi(m[2]), lo = std::stoi(m[3]);
    if (hi <= lo) continue;
    const std::string name = m[5];
    // A signal whose top bit is selected somewhere would be selected out of range.
    const std::string top = name + "[" + std::to_string(hi);
    bool top_used = false;
    for (std::size_t k = 0; k < lines.size() && !top_used; ++k) {
      const std::string c = code_part(lines[k]);
      for (auto at = c.find(top); at != std::string::npos && !top_used; at = c.find(top, at + 1))
        top_used = (at == 0 || !ident_char(c[at - 1])) && at + top.size() < c.size() &&
                   (c[at + top.size()] == ']' || c[at + top.size()] == ':' || c[at + top.size()] == ' ');
    }
    if (top_used) continue;
    auto next = lines;
    next[i] = m[1].str() + "[" + std::to_string(hi - 1) + ":" + std::to_string(lo) + "]" + m[4].str() + name + m[6].str();
    if (auto c = make_child("narrow", name + " [" + std::to_string(hi) + ":" + std::to_string(lo) + "] -> [" +
                                          std::to_string(hi - 1) + ":" + std::to_string(lo) + "] (line " + std::to_string(i + 1) + ")",
                            code, join_lines(next)))
      out.push_back(*c);
  }
  return out;
}

// --- fold ----------------------------------------------------------------------------------------

struct Literal {
  long long value = 0;   // as written (unsigned bits for a sized literal)
  int width = 32;
  bool is_signed = true; // an unsized decimal is a signed 32-bit integer
  bool sized = false;
};

std::optional<Literal> parse_literal(const std::string& text) {
  static const std::regex sized(R"((\d+)'([sS]?)([bBdDhH])([0-9a-fA-F_]+))");
  static const std::regex plain(R"(\d+)");
  std::smatch m;
  Literal l;
  if (std::regex_match(text, m, sized)) {
    l.width = std::stoi(m[1]);
    if (l.width < 1 || l.width > 62) return std::nullopt;
    l.is_signed = m[2].matched && !m[2].str().empty();
    l.sized = true;
    std::string digits = m[4];
    digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
    const char base = static_cast<char>(std::tolower(m[3].str()[0]));
    try {
      l.value = static_cast<long long>(std::stoull(digits, nullptr, base == 'b' ? 2 : base == 'h' ? 16 : 10));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    l.value = static_cast<long long>(static_cast<unsigned long long>(l.value) & mask(l.width));
    return l;
  }
  if (std::regex_match(text, m, plain) && text.size() < 10) {
    l.value = std::stoll(text);
    return l;
  }
  return std::nullopt;
}

// `a op b` of two literals, when its value needs no more bits than the operands have (then it is
// the same at any context width and the literal of that width is exact).
std::optional<std::string> fold_pair(const Literal& a, const std::string& op, const Literal& b) {
  const bool shift = op == "<<" || op == ">>" || op == "<<<" || op == ">>>";
  // A sized and an unsized operand mix widths in ways a literal does not show: left alone.
  if (!shift && a.sized != b.sized) return std::nullopt;
  const int w = shift ? a.width : std::max(a.width, b.width);
  const bool is_signed = shift ? a.is_signed : a.is_signed && b.is_signed;
  const long long x = is_signed ? sign_extend(static_cast<unsigned long long>(a.value), a.width) : a.value;
  const long long y = shift ? b.value : is_signed ? sign_extend(static_cast<unsigned long long>(b.value), b.width) : b.value;
  long long r;
  if (op == "+") r = x + y;
  else if (op == "-") r = x - y;
  else if (op == "*") {
    if (std::abs(x) > (1LL << 30) || std::abs(y) > (1LL << 30)) return std::nullopt;
    r = x * y;
  } else if (op == "&") r = x & y;
  else if (op == "|") r = x | y;
  else if (op == "^") r = x ^ y;
  else if (op == "<<" || op == "<<<") {
    if (y > 40) return std::nullopt;
    r = x * (1LL << y);
  } else if (op == ">>>") r = y > 62 ? (x < 0 ? -1 : 0) : x >> y;  // arithmetic when signed; x >= 0 otherwise
  else if (op == ">>") {
    if (is_signed) return std::nullopt;  // logical on a signed value: depends on the context width
    r = y > 62 ? 0 : x >> y;
  } else return std::nullopt;
  const long long lo = is_signed ? -(1LL << (w - 1)) : 0, hi = is_signed ? (1LL << (w - 1)) - 1 : static_cast<long long>(mask(w));
  if (r < lo || r > hi) return std::nullopt;  // it would need the context's width
  if (!a.sized) return r >= 0 ? std::optional<std::string>(std::to_string(r)) : std::nullopt;  // 32-bit integers
  return literal(r, w, is_signed);
}

std::vector<OperatorChild> fold_children(const std::string& code) {
  static const std::string lit = R"((?:\d+'[sS]?[bBdDhH][0-9a-fA-F_]+|\d+))";
  static const std::regex pair("(" + lit + R"()\s*(<<<|>>>|<<|>>|\+|-|\*|&|\||\^)\s*()" + lit + ")");
  static const std::regex product(R"(([A-Za-z_]\w*)\s*\*\s*(\d+'[sS]?[bBdDhH][0-9a-fA-F_]+)|(\d+'[sS]?[bBdDhH][0-9a-fA-F_]+)\s*\*\s*([A-Za-z_]\w*))");
  std::vector<OperatorChild> out;
  const auto lines = split_lines(code);
  const auto signals = declarations(lines);
  auto child_with = [&](std::size_t i, std::size_t pos, std::size_t len, const std::string& by, const std::string& what) {
    auto next = lines;
    next[i] = lines[i].substr(0, pos) + by + lines[i].substr(pos + len);
    if (auto c = make_child("fold", what + " (line " + std::to_string(i + 1) + ")", code, join_lines(next))) out.push_back(*c);
  };
  for (std::size_t i = body_start(lines); i < lines.size(); ++i) {
    const std::string c = code_part(lines[i]);
    // Two literals with an operator between, standing alone: after = ( ? : , or the start and
    // before ) ; , ? : or the end (so no neighbouring operator binds tighter).
    for (std::sregex_iterator it(c.begin(), c.end(), pair), end; it != end; ++it) {
      const auto pos = static_cast<std::size_t>(it->position()), len = static_cast<std::size_t>(it->length());
      std::size_t before = pos, after = pos + len;
      while (before > 0 && c[before - 1] == ' ') --before;
      while (after < c.size() && c[after] == ' ') ++after;
      const bool left_ok = before == 0 || std::string("=(?:,").find(c[before - 1]) != std::string::npos;
      const bool right_ok = after == c.size() || std::string(");,?:").find(c[after]) != std::string::npos;
      if (!left_ok || !right_ok) continue;
      if (before > 1 && c[before - 1] == '=' && std::string("<>=!").find(c[before - 2]) != std::string::npos) continue;  // <= is an assignment only at the start
      if (before > 0 && c[before - 1] == ':' && before > 1 && c[before - 2] == '-') continue;  // -: part select
      const auto a = parse_literal((*it)[1]), b = parse_literal((*it)[3]);
      if (!a || !b) continue;
      if (const auto v = fold_pair(*a, (*it)[2], *b)) child_with(i, pos, len, *v, it->str() + " -> " + *v);
    }
    // A product by a power of two: a shift, when the literal is no wider than the signal and
    // has its signedness (then width and extension are the same).
    for (std::sregex_iterator it(c.begin(), c.end(), product), end; it != end; ++it) {
      const auto pos = static_cast<std::size_t>(it->position()), len = static_cast<std::size_t>(it->length());
      if ((pos > 0 && (ident_char(c[pos - 1]) || c[pos - 1] == '*' || c[pos - 1] == '\'' || c[pos - 1] == '.')) ||
          (pos + len < c.size() && (ident_char(c[pos + len]) || c[pos + len] == '*' || c[pos + len] == '[')))
        continue;
      std::size_t left = pos;
      while (left > 0 && c[left - 1] == ' ') --left;
      if (left > 0 && std::string("/%*").find(c[left - 1]) != std::string::npos) continue;  // (a / x) * 4 is not a / (x << 2)
      const std::string name = (*it)[1].matched ? (*it)[1] : (*it)[4];
      const auto l = parse_literal((*it)[1].matched ? (*it)[2] : (*it)[3]);
      if (!signals.count(name) || !l || l->value <= 0) continue;
      const Signal s = signals.at(name);
      if (l->width > s.width || l->is_signed != s.is_signed) continue;
      const unsigned long long v = static_cast<unsigned long long>(l->value);
      if (v & (v - 1)) continue;
      int k = 0;
      while ((1ULL << k) != v) ++k;
      const std::string by = k == 0 ? name : "(" + name + (s.is_signed ? " <<< " : " << ") + std::to_string(k) + ")";
      child_with(i, pos, len, by, it->str() + " -> " + by);
    }
  }
  return out;
}

// --- share ---------------------------------------------------------------------------------------

std::vector<OperatorChild> share_children(const std::string& code) {
  // wire [signed] [h:l] name = rhs;   (or assign name = rhs; with name declared above)
  static const std::regex wire_init(R"(^(\s*wire\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?([A-Za-z_]\w*)\s*=\s*)(.+?)(\s*;\s*(?://.*)?)$)");
  static const std::regex assign(R"(^(\s*assign\s+([A-Za-z_]\w*)\s*=\s*)(.+?)(\s*;\s*(?://.*)?)$)");
  // What the low bits of a wider evaluation give exactly: sums, differences, products,
  // concatenations, selects and $signed (no right shifts, comparisons, divisions or ?:).
  static const std::regex low_bits_safe(R"(^[A-Za-z0-9_$'{}()\[\]:,+\-* ]+$)");
  std::vector<OperatorChild> out;
  const auto lines = split_lines(code);
  const auto signals = declarations(lines);
  struct Def {
    std::size_t line;
    std::string name, rhs, head, tail;
    int width;
  };
  std::vector<Def> defs;
  for (std::size_t i = body_start(lines); i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_match(lines[i], m, wire_init)) {
      const int w = m[2].matched ? std::abs(std::stoi(m[2]) - std::stoi(m[3])) + 1 : 1;
      defs.push_back({i, m[4], m[5], m[1], m[6], w});
    } else if (std::regex_match(lines[i], m, assign) && signals.count(m[2])) {
      defs.push_back({i, m[2], m[3], m[1], m[4], signals.at(m[2]).width});
    }
  }
  auto normal = [](std::string s) {
    s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
    return s;
  };
  for (std::size_t a = 0; a < defs.size(); ++a)
    for (std::size_t b = a + 1; b < defs.size(); ++b) {
      const Def &first = defs[a], &second = defs[b];
      const std::string rhs = normal(first.rhs);
      if (rhs != normal(second.rhs) || rhs.find('*') == std::string::npos || rhs.find("**") != std::string::npos) continue;
      if (!std::regex_match(first.rhs, low_bits_safe) || second.width > first.width) continue;
      const std::string by = second.width == first.width ? first.name
                             : second.width == 1        ? first.name + "[0]"
                                                        : first.name + "[" + std::to_string(second.width - 1) + ":0]";
      auto next = lines;
      next[second.line] = second.head + by + second.tail;
      if (auto c = make_child("share", second.name + " = " + trim(second.rhs) + " reads " + first.name + " (line " +
                                           std::to_string(second.line + 1) + ")",
                              code, join_lines(next)))
        out.push_back(*c);
    }
  return out;
}

// --- unpipeline ----------------------------------------------------------------------------------

// The skeleton's valid/last chain: `reg [K:0] vld, lst;` with K >= 1.
int chain_top(const std::vector<std::string>& lines) {
  static const std::regex chain(R"(^\s*reg\s*\[(\d+):0\]\s*vld,\s*lst;\s*(?://.*)?$)");
  for (const auto& line : lines) {
    std::smatch m;
    if (std::regex_match(line, m, chain)) return std::stoi(m[1]);
  }
  return -1;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

std::vector<OperatorChild> unpipeline_children(const std::string& code) {
  static const std::regex boundary(R"(^\s*always @\(posedge clk\) if \(en\) (([A-Za-z]+_)\w*) <= ([A-Za-z_]\w*);\s*$)");
  std::vector<OperatorChild> out;
  const auto lines = split_lines(code);
  const int k = chain_top(lines);
  if (k < 1) return out;
  // The register boundaries, by the prefix of what they hold (ab_, bc_).
  std::map<std::string, std::vector<std::pair<std::size_t, std::pair<std::string, std::string>>>> stages;
  for (std::size_t i = body_start(lines); i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_match(lines[i], m, boundary)) stages[m[2]].push_back({i, {m[1], m[3]}});
  }
  const std::string K = std::to_string(k), K1 = std::to_string(k - 1), K2 = std::to_string(k - 2);
  for (const auto& [prefix, regs] : stages) {
    auto next = lines;
    bool ok = true;
    for (const auto& [at, names] : regs) {
      const auto& [dest, src] = names;
      // Its declaration `reg [signed] [..] dest;` becomes `wire ... dest = src;`.
      const std::regex decl("^(\\s*)reg(\\s+(?:signed\\s+)?(?:\\[\\d+:\\d+\\]\\s*)?" + dest + ")\\s*;\\s*$");
      bool found = false;
      for (auto& line : next) {
        std::smatch m;
        if (std::regex_match(line, m, decl)) {
          line = m[1].str() + "wire" + m[2].str() + " = " + src + ";";
          found = true;
          break;
        }
      }
      ok = ok && found;
      next[at] = "\x01";  // the register's always line goes
    }
    if (!ok) continue;
    std::vector<std::string> body;
    for (const auto& line : next)
      if (line != "\x01") body.push_back(line);
    std::string text = join_lines(body);
    // One stage fewer in the valid/last chain.
    const std::string shorter_v = k - 1 >= 1 ? "{vld[" + K2 + ":0], issue}" : "issue";
    const std::string shorter_l = k - 1 >= 1 ? "{lst[" + K2 + ":0], issue && issue_last}" : "issue && issue_last";
    const std::string chain_v = "{vld[" + K1 + ":0], issue}", chain_l = "{lst[" + K1 + ":0], issue && issue_last}";
    if (text.find(chain_v) == std::string::npos || text.find(chain_l) == std::string::npos) continue;
    text = replace_all(text, chain_v, shorter_v);
    text = replace_all(text, chain_l, shorter_l);
    text = replace_all(text, "vld <= " + std::to_string(k + 1) + "'h0;", "vld <= " + std::to_string(k) + "'h0;");
    text = replace_all(text, "vld[" + K + "]", "vld[" + K1 + "]");
    text = replace_all(text, "lst[" + K + "]", "lst[" + K1 + "]");
    const std::regex decl_chain("reg\\s*\\[" + K + ":0\\]\\s*vld,\\s*lst;");
    text = std::regex_replace(text, decl_chain, "reg [" + K1 + ":0] vld, lst;");
    if (auto c = make_child("unpipeline", "the " + prefix + " register stage (" + std::to_string(regs.size()) +
                                              " registers) -> wires, " + std::to_string(k) + " stage(s) left",
                            code, text))
      out.push_back(*c);
  }
  return out;
}

// --- table ---------------------------------------------------------------------------------------

// The parent's stage count in the skeleton (its vld chain), 1 when it has none.
int stage_count(const std::vector<std::string>& lines) {
  const int k = chain_top(lines);
  return k >= 1 ? k + 1 : 1;
}

std::vector<OperatorChild> table_children(const std::string& code, const OpsContext& ctx) {
  std::vector<OperatorChild> out;
  const TableDomain& d = ctx.domain;
  if (!ctx.tabulate || d.in_bits < 1 || d.in_bits > 8 || d.out_bits < 1 || d.out_bits > 32) return out;
  const auto lines = split_lines(code);
  const std::size_t body = body_start(lines);
  if (body >= lines.size()) return out;
  const auto outputs = ctx.tabulate(code);
  const long long lo = d.is_signed ? -(1LL << (d.in_bits - 1)) : 0;
  const long long n = 1LL << d.in_bits;
  if (!outputs || static_cast<long long>(outputs->size()) != n) return out;
  const auto& y = *outputs;
  auto at = [&](long long v) { return y[static_cast<std::size_t>(v - lo)]; };
  // The ends: a run of one constant or of y = x (same widths only) is a comparison, not entries.
  struct End {
    long long last = 0;  // the run's inner end (inclusive)
    bool identity = false;
    long long value = 0;
    long long length = 0;
  };
  auto run = [&](bool from_low) {
    End best;
    const long long first = from_low ? lo : lo + n - 1, step = from_low ? 1 : -1;
    long long c = 0, id = 0;
    while (c < n && at(first + step * c) == at(first)) ++c;
    if (d.in_bits == d.out_bits)
      while (id < n && at(first + step * id) == first + step * id) ++id;
    if (std::max(c, id) >= 2) {
      best.identity = id > c;
      best.length = std::max(c, id);
      best.value = at(first);
      best.last = first + step * (best.length - 1);
    }
    return best;
  };
  // Two children: the ends as comparisons around a table of the rest, and the direct table of
  // every input (ABC sometimes makes the plain table smaller: docs/quant.md, threshold=8).
  for (const bool with_runs : {true, false}) {
    End low = with_runs ? run(true) : End{};
    End high = with_runs ? run(false) : End{};
    if (with_runs && !low.length && !high.length) continue;  // it would be the direct table
    if (low.length > 0 && high.length > 0 && high.last <= low.last) high = End{};  // the low run covers it
    const long long mid_lo = low.length ? low.last + 1 : lo, mid_hi = high.length ? high.last - 1 : lo + n - 1;
    long long tmin = 0, tmax = 0;
    for (long long v = mid_lo; v <= mid_hi; ++v) tmin = std::min(tmin, at(v)), tmax = std::max(tmax, at(v));
    const bool entries = mid_lo <= mid_hi;
    const int tw = entries ? bits_for_range(tmin, tmax, d.is_signed) : 1;
    if (tw > d.out_bits && entries) continue;  // the parent's outputs are out_data's: cannot happen

    const int S = std::min(3, stage_count(lines)), IW = d.in_bits, OW = d.out_bits;
    auto range = [](int w) { return w > 1 ? "[" + std::to_string(w - 1) + ":0] " : std::string(); };
    const std::string sg = d.is_signed ? "signed " : "";
    auto ext = [&](const std::string& sig, int from) {  // to OW bits, in the interface's signedness
      if (from == OW) return sig;
      if (d.is_signed) return "{{" + std::to_string(OW - from) + "{" + sig + "[" + std::to_string(from - 1) + "]}}, " + sig + "}";
      return "{" + std::to_string(OW - from) + "'b0, " + sig + "}";
    };
    std::string t;
    t += "  // The parent's outputs on all " + std::to_string(n) + " inputs as a table (evolve's table operator): ";
    t += entries ? std::to_string(mid_hi - mid_lo + 1) + " entries of " + std::to_string(tw) + " bits for " +
                       std::to_string(mid_lo) + ".." + std::to_string(mid_hi)
                 : std::string("no entries");
    auto end_text = [&](const End& e, const char* where) {
      return std::string(", ") + where + " " + (e.identity ? "y = x" : "y = " + std::to_string(e.value));
    };
    if (low.length) t += end_text(low, "below");
    if (high.length) t += end_text(high, "above");
    t += ".\n";
    t += "  // Output datapath: " + std::to_string(S) + " register stage(s); it stalls as a whole while the output waits.\n";
    t += "  reg [" + std::to_string(S - 1) + ":0] vld, lst;\n  reg " + range(OW) + "out_q;\n";
    t += "  wire en = !vld[" + std::to_string(S - 1) + "] || out_ready;\n";
    t += "  wire issue = in_valid && en;\n  wire issue_last = in_last;\n  assign in_ready = en;\n\n";
    // Part A: the comparisons and the table.
    std::vector<std::pair<std::string, int>> sigs;  // what part A hands on, and its width (signed when the interface is)
    t += "  // Part A\n";
    if (low.length || high.length) t += "  wire " + sg + range(IW) + "a_x = in_data;\n";  // the comparisons' operand
    const bool need_x = (low.length && low.identity) || (high.length && high.identity);
    if (need_x) sigs.push_back({"x", IW});
    if (low.length) {
      t += "  wire a_low = a_x < " + literal(low.last + 1, IW, d.is_signed) + ";\n";
      sigs.push_back({"low", 1});
    }
    if (high.length) {
      t += "  wire a_high = a_x >= " + literal(high.last, IW, d.is_signed) + ";\n";
      sigs.push_back({"high", 1});
    }
    if (entries) {
      t += "  reg " + sg + range(tw) + "a_t;\n  always @(*) begin\n    case (in_data)\n";
      for (long long v = mid_lo; v <= mid_hi; ++v)
        t += "      " + std::to_string(IW) + "'h" + hex(static_cast<unsigned long long>(v) & mask(IW)) + ": a_t = " +
             literal(at(v), tw, d.is_signed) + ";\n";
      t += "      default: a_t = " + literal(0, tw, d.is_signed) + ";\n    endcase\n  end\n";
      sigs.push_back({"t", tw});
    }
    // The register stages between part A and the output register (the quant generator's
    // boundaries: ab_ after A, bc_ after B), each stalled with the rest.
    std::string from = "a_";
    const std::vector<std::string> prefixes = {"ab_", "bc_"};
    for (int s = 1; s < S && s <= 2; ++s) {
      const std::string to = prefixes[static_cast<std::size_t>(s - 1)];
      for (const auto& [name, w] : sigs) {
        t += "  reg " + (w > 1 ? sg : std::string()) + range(w) + to + name + ";\n";
        t += "  always @(posedge clk) if (en) " + to + name + " <= " + from + name + ";\n";
      }
      from = to;
    }
    std::string value = entries ? ext(from + "t", tw) : literal(0, OW, false);
    auto end_value = [&](const End& e) {
      return e.identity ? ext(from + "x", IW) : (d.is_signed ? literal(e.value, OW, true) : literal(e.value, OW, false));
    };
    if (high.length) value = from + "high ? " + end_value(high) + " : " + value;
    if (low.length) value = from + "low ? " + end_value(low) + " : " + value;
    t += "  // Part C\n  wire " + range(OW) + "c_y = " + value + ";\n";
    t += "  always @(posedge clk) begin\n";
    if (S == 1) {
      t += "    if (rst) vld <= 1'b0;\n    else if (en) vld <= issue;\n    if (en) lst <= issue && issue_last;\n";
    } else {
      t += "    if (rst) vld <= " + std::to_string(S) + "'h0;\n    else if (en) vld <= {vld[" + std::to_string(S - 2) + ":0], issue};\n";
      t += "    if (en) lst <= {lst[" + std::to_string(S - 2) + ":0], issue && issue_last};\n";
    }
    t += "    if (en) out_q <= c_y;\n  end\n";
    t += "  assign out_valid = vld[" + std::to_string(S - 1) + "];\n  assign out_last = lst[" + std::to_string(S - 1) + "];\n";
    t += "  assign out_data = out_q;\nendmodule\n";
    const std::string child = join_lines(lines, 0, body) + t;
    if (auto c = make_child("table",
                            std::string("the datapath -> a table of the parent's outputs (") +
                                (entries ? std::to_string(mid_hi - mid_lo + 1) + " entries of " + std::to_string(tw) + " bits"
                                         : std::string("no entries")) +
                                ", " + std::to_string(S) + " stage(s))",
                            code, child))
      out.push_back(*c);
  }
  return out;
}

// --- textual -------------------------------------------------------------------------------------

std::vector<OperatorChild> textual_children(const std::string& code, std::uint64_t seed,
                                            const std::function<bool(const std::string&)>& avoid) {
  if (module_header(code).empty()) return {};  // no header to keep: nothing is proposed
  std::string what;
  const std::string reply = mutation_reply(code, seed, avoid, &what);
  if (reply.empty()) return {};
  const EditResult edit = apply_reply(code, reply);
  if (!edit.ok || module_header(edit.code) != module_header(code)) return {};
  return {OperatorChild{"textual", what, reply, edit.code}};
}

// Weights of the draw: the operators that keep a kernel correct most often are drawn most.
const std::vector<std::pair<std::string, int>>& weights() {
  static const std::vector<std::pair<std::string, int>> w = {
      {"narrow", 4}, {"table", 3}, {"fold", 2}, {"unpipeline", 2}, {"share", 2}, {"textual", 1}};
  return w;
}

}  // namespace

const std::vector<std::string>& operator_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, w] : weights()) n.push_back(name);
    return n;
  }();
  return names;
}

std::string module_header(const std::string& code) {
  const auto lines = split_lines(code);
  const std::size_t end = header_end(lines);
  return end == lines.size() ? "" : join_lines(lines, 0, end + 1);
}

std::string reply_between(const std::string& parent, const std::string& child) {
  const auto p = split_lines(parent), c = split_lines(child);
  std::size_t prefix = 0;
  while (prefix < p.size() && prefix < c.size() && trim_right(p[prefix]) == trim_right(c[prefix])) ++prefix;
  std::size_t suffix = 0;
  while (suffix < p.size() - prefix && suffix < c.size() - prefix &&
         trim_right(p[p.size() - 1 - suffix]) == trim_right(c[c.size() - 1 - suffix]))
    ++suffix;
  if (prefix == p.size() && prefix == c.size()) return "";
  std::size_t from = prefix, to_p = p.size() - suffix, to_c = c.size() - suffix;
  // Widen until the SEARCH part is not empty and occurs once.
  while (true) {
    const std::string search = join_lines(p, from, to_p);
    if (search.find_first_not_of(" \t\n") != std::string::npos && count_line_matches(parent, search) == 1) break;
    if (from == 0 && to_p == p.size()) return "";
    if (from > 0) --from;
    if (to_p < p.size()) ++to_p, ++to_c;
  }
  return "<<<<<<< SEARCH\n" + join_lines(p, from, to_p) + "=======\n" + join_lines(c, from, to_c) + ">>>>>>> REPLACE\n";
}

std::vector<OperatorChild> operator_children(const std::string& op, const std::string& code, const OpsContext& ctx,
                                             std::uint64_t seed) {
  if (op == "narrow") return narrow_children(code);
  if (op == "table") return table_children(code, ctx);
  if (op == "fold") return fold_children(code);
  if (op == "unpipeline") return unpipeline_children(code);
  if (op == "share") return share_children(code);
  if (op == "textual") return textual_children(code, seed, nullptr);
  std::string names;
  for (const auto& n : operator_names()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown evolve operator '" + op + "'; the operators are " + names);
}

std::optional<OperatorChild> propose_child(const std::string& code, std::uint64_t seed,
                                           const std::function<bool(const std::string&)>& avoid, const OpsContext& ctx) {
  std::uint64_t state = seed;
  auto pool = weights();
  if (!ctx.tabulate) pool.erase(std::remove_if(pool.begin(), pool.end(), [](const auto& w) { return w.first == "table"; }), pool.end());
  // A weighted order without replacement: each operator is tried once, the first with a child wins.
  while (!pool.empty()) {
    int total = 0;
    for (const auto& [name, w] : pool) total += w;
    int pick = static_cast<int>(splitmix64(state) % static_cast<std::uint64_t>(total));
    std::size_t k = 0;
    while (pick >= pool[k].second) pick -= pool[k].second, ++k;
    const std::string op = pool[k].first;
    pool.erase(pool.begin() + static_cast<long>(k));
    std::vector<OperatorChild> children = op == "textual" ? textual_children(code, splitmix64(state), avoid)
                                                          : operator_children(op, code, ctx, seed);
    children.erase(std::remove_if(children.begin(), children.end(),
                                  [&](const OperatorChild& c) { return avoid && avoid(c.code); }),
                   children.end());
    if (!children.empty()) return children[splitmix64(state) % children.size()];
  }
  return std::nullopt;
}

}  // namespace chipgym::agents
