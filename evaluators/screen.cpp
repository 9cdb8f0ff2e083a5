#include "evaluators/screen.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "evaluators/runner.h"
#include "evaluators/sandbox.h"

namespace chipgym::evaluators {

namespace {

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

int line_of(const std::string& text, std::size_t at) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + std::min(at, text.size()), '\n'));
}

ScreenResult refuse(const std::string& text, std::size_t at, const std::string& why) {
  ScreenResult r;
  r.ok = false;
  r.line = line_of(text, at);
  r.message = "line " + std::to_string(r.line) + ": " + why;
  return r;
}

// Comments that tools read as commands: Yosys and Verilator skip code between
// "synthesis translate_off" and "translate_on" (simulation and synthesis would then see
// different designs), and Verilator obeys "/*verilator ...*/" metacomments.
// Verilator's lint_off/lint_on/lint_save/lint_restore only silence warnings (lint warnings
// are counted, never fatal), so they are allowed; the canonical quantized kernels use them.
bool tool_directive_comment(const std::string& body) {
  // One line only: a second line of the same comment could carry another metacomment.
  static const std::regex lint_only(R"(^[ \t]*verilator[ \t]+lint_(off|on|save|restore)\b[ \tA-Za-z0-9_,*]*[ \t\r]*$)");
  if (std::regex_search(body, lint_only)) return false;
  static const std::regex re(R"(^\s*(verilator|synopsys|synthesis|pragma|translate_off|translate_on|lint_off|lint_on|cadence|ambit|xilinx|altera)\b)",
                             std::regex::icase);
  return std::regex_search(body, re);
}

}  // namespace

const std::vector<std::string>& allowed_system_functions() {
  static const std::vector<std::string> names = {"$signed", "$unsigned", "$clog2", "$bits"};
  return names;
}

std::string strip_comments_and_strings(const std::string& text) {
  std::string out = text;
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto blank = [&](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to && k < n; ++k)
      if (out[k] != '\n') out[k] = ' ';
  };
  while (i < n) {
    const char c = text[i];
    if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      std::size_t end = text.find('\n', i);
      if (end == std::string::npos) end = n;
      blank(i, end);
      i = end;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      std::size_t end = text.find("*/", i + 2);
      if (end == std::string::npos) return out;  // unterminated: left for the caller to refuse
      blank(i, end + 2);
      i = end + 2;
    } else if (c == '"') {
      std::size_t k = i + 1;
      while (k < n && text[k] != '"' && text[k] != '\n') k += text[k] == '\\' ? 2 : 1;
      if (k >= n || text[k] != '"') return out;  // unterminated string
      blank(i + 1, k);
      i = k + 1;
    } else {
      ++i;
    }
  }
  return out;
}

namespace {

// Macros the tools predefine differently (or only one of them defines): a branch on one of
// them would let simulation and synthesis read two designs from one file.
const std::set<std::string>& tool_macro_names() {
  static const std::set<std::string> names = {
      "VERILATOR",  "verilator",  "verilator3", "YOSYS",      "SYNTHESIS", "SIMULATION",  "FORMAL",
      "COCOTB_SIM", "IVERILOG",   "__ICARUS__", "VCS",        "MODEL_TECH", "XILINX_SIMULATOR", "QUESTA",
      "SYSTEMVERILOG", "coverage_block_off", "SV_COV_START", "SV_COV_STOP", "SV_COV_RESET", "SV_COV_CHECK",
      "SV_COV_MODULE", "SV_COV_HIER", "SV_COV_ASSERTION", "SV_COV_FSM_STATE", "SV_COV_STATEMENT",
      "SV_COV_TOGGLE", "SV_COV_OVERFLOW", "SV_COV_ERROR", "SV_COV_NOCOV", "SV_COV_OK", "SV_COV_PARTIAL"};
  return names;
}

// Keywords that rearrange designs from outside them (bind, config) or define what Yosys does
// not synthesize (user primitives): a kernel needs none of them.
const std::set<std::string>& refused_keywords() {
  static const std::set<std::string> words = {"bind", "config", "primitive", "table", "library", "checker"};
  return words;
}

enum class Pass { Raw, Expanded };

// The rules on `code` (comments and string contents blanked, same length as `text`).
// `where(at)` names the place of a problem for the message.
ScreenResult screen_code(const std::string& text, const std::string& code, Pass pass,
                         const std::function<std::string(std::size_t)>& where) {
  auto refuse_at = [&](std::size_t at, const std::string& why) {
    ScreenResult r;
    r.ok = false;
    r.line = pass == Pass::Raw ? line_of(text, at) : 0;
    r.message = where(at) + why;
    return r;
  };
  for (std::size_t i = 0; i < code.size(); ++i)
    if (static_cast<unsigned char>(code[i]) >= 0x80) return refuse_at(i, "a non-ASCII character outside comments");

  // Macros the file defines may be used; every other backtick word must be a harmless directive.
  std::set<std::string> defined;
  static const std::regex define_re(R"(`define\s+([A-Za-z_][A-Za-z0-9_$]*))");
  for (std::sregex_iterator it(code.begin(), code.end(), define_re), end; it != end; ++it) defined.insert((*it)[1]);
  static const std::set<std::string> raw_directives = {"timescale", "default_nettype", "define", "undef",
                                                       "ifdef",     "ifndef",          "elsif",  "else",
                                                       "endif",     "resetall",        "celldefine", "endcelldefine"};
  static const std::set<std::string> expanded_directives = {"timescale", "default_nettype", "resetall", "celldefine",
                                                            "endcelldefine"};
  const auto& directives = pass == Pass::Raw ? raw_directives : expanded_directives;
  const auto& allowed = allowed_system_functions();
  std::string allowed_list;
  for (const auto& a : allowed) allowed_list += (allowed_list.empty() ? "" : ", ") + a;
  static const std::regex dpi_re(R"(\b(import|export)\s*")");
  std::smatch dpi;
  if (std::regex_search(code, dpi, dpi_re))
    return refuse_at(dpi.position(0), "DPI " + dpi[1].str() + " is not allowed: it links host C code");

  for (std::size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    if (c == '`') {
      if (i + 1 < code.size() && code[i + 1] == '`') return refuse_at(i, "`` token pasting is not allowed");
      std::size_t k = i + 1;
      while (k < code.size() && ident_char(code[k])) ++k;
      const std::string word = code.substr(i + 1, k - i - 1);
      if (word.empty()) return refuse_at(i, "a stray ` (backtick)");
      if (word == "include")
        return refuse_at(i, "`include is not allowed: a candidate is one self-contained file and may not read others");
      if (pass == Pass::Expanded && !directives.count(word))
        return refuse_at(i, "`" + word + " is not allowed after preprocessing (only `timescale, `default_nettype)");
      if (!directives.count(word) && !defined.count(word))
        return refuse_at(i, "`" + word + " is not allowed: only `timescale, `default_nettype, `define/`ifdef/... and macros the file defines");
      i = k - 1;
    } else if (c == '$') {
      // Every $ must begin a whitelisted name: "a$b" identifiers are refused too, so no
      // lexer subtlety (8'hFF$fopen) can turn a name into a call.
      if (i > 0 && ident_char(code[i - 1]))
        return refuse_at(i, "$ inside a name is not allowed (only " + allowed_list + " may use $)");
      std::size_t k = i + 1;
      while (k < code.size() && ident_char(code[k])) ++k;
      const std::string name = code.substr(i, k - i);
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return refuse_at(i, (name == "$" ? std::string("a stray $") : name) +
                                " is not allowed: system tasks can reach the host (files, processes, C code); only " +
                                allowed_list + " may be used");
      }
      i = k - 1;
    } else if (c == '\\') {
      return refuse_at(i, "escaped identifiers (\\name) are not allowed");
    } else if (c == '(' && i + 1 < code.size() && code[i + 1] == '*') {
      std::size_t k = i + 2;
      while (k < code.size() && std::isspace(static_cast<unsigned char>(code[k]))) ++k;
      if (k < code.size() && code[k] != ')')
        return refuse_at(i, "attributes (* ... *) are not allowed: tools act on them (e.g. blackbox, keep)");
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      if (i > 0 && (ident_char(code[i - 1]) || code[i - 1] == '`' || code[i - 1] == '\'')) {
        continue;  // inside a word, a directive, or a based number (8'hff)
      }
      std::size_t k = i;  // the word up to a '$', which the '$' rule above then sees
      while (k < code.size() && (std::isalnum(static_cast<unsigned char>(code[k])) || code[k] == '_')) ++k;
      const std::string word = code.substr(i, k - i);
      if (tool_macro_names().count(word))
        return refuse_at(i, "'" + word + "' is not allowed: it names a tool's predefined macro, and a branch on it would "
                             "let simulation and synthesis read different designs");
      if (refused_keywords().count(word))
        return refuse_at(i, "'" + word + "' is not allowed in a candidate (bind, config, primitive, table, library, "
                             "checker): a kernel is plain modules");
      i = k - 1;
    }
  }
  try {
    (void)defined_modules(code);
  } catch (const std::invalid_argument& e) {
    ScreenResult r;
    r.ok = false;
    r.message = (pass == Pass::Raw ? std::string() : std::string("after preprocessing: ")) + e.what();
    return r;
  }
  ScreenResult ok;
  ok.code = code;
  return ok;
}

}  // namespace

ScreenResult screen_verilog(const std::string& text, std::size_t max_bytes) {
  if (text.size() > max_bytes)
    return {false, 0,
            "the file is " + std::to_string(text.size()) + " bytes; at most " + std::to_string(max_bytes) +
                " bytes of Verilog are accepted",
            ""};
  if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
    return {false, 0, "the file is empty: no Verilog to score", ""};
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0) return refuse(text, i, "binary data (a NUL byte); a candidate must be Verilog text");
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') || c == 0x7f)
      return refuse(text, i, "binary data (control byte " + std::to_string(c) + "); a candidate must be Verilog text");
  }

  // Walk the text once more to find unterminated comments/strings and tool-directive comments.
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "//") == 0) {
      std::size_t end = std::min(text.find('\n', i), text.size());
      if (tool_directive_comment(text.substr(i + 2, end - i - 2)))
        return refuse(text, i, "tool directives in comments (verilator/synthesis/translate_off ...) are not allowed");
      i = end;
    } else if (text.compare(i, 2, "/*") == 0) {
      std::size_t end = text.find("*/", i + 2);
      if (end == std::string::npos) return refuse(text, i, "a /* comment is never closed");
      if (tool_directive_comment(text.substr(i + 2, end - i - 2)))
        return refuse(text, i, "tool directives in comments (verilator/synthesis/translate_off ...) are not allowed");
      i = end + 2;
    } else if (text[i] == '"') {
      std::size_t k = i + 1;
      while (k < text.size() && text[k] != '"' && text[k] != '\n') k += text[k] == '\\' ? 2 : 1;
      if (k >= text.size() || text[k] != '"') return refuse(text, i, "a string is never closed on its line");
      i = k + 1;
    } else {
      ++i;
    }
  }
  const std::string code = strip_comments_and_strings(text);
  return screen_code(text, code, Pass::Raw,
                     [&](std::size_t at) { return "line " + std::to_string(line_of(text, at)) + ": "; });
}

ScreenResult screen_expanded(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0 || ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') || c == 0x7f))
      return {false, 0, "after preprocessing: binary data (control byte " + std::to_string(c) + ")", ""};
  }
  const std::string code = strip_comments_and_strings(text);
  if (code.find("/*") != std::string::npos || code.find("//") != std::string::npos)
    return {false, 0, "after preprocessing: a comment that is never closed", ""};
  return screen_code(text, code, Pass::Expanded, [&](std::size_t at) {
    const std::size_t begin = text.rfind('\n', at) + 1;  // npos + 1 == 0
    std::string line = text.substr(begin, text.find('\n', at) - begin);
    line = std::regex_replace(line, std::regex(R"(\s+)"), " ");
    if (line.size() > 120) line = line.substr(0, 117) + "...";
    return "after macro expansion, in \"" + line + "\": ";
  });
}

std::vector<std::string> defined_modules(const std::string& code) {
  static const std::regex module_re(R"(\b(module|macromodule)\s+([A-Za-z_][A-Za-z0-9_$]*))");
  std::vector<std::string> names;
  std::map<std::string, int> first_line;
  for (std::sregex_iterator it(code.begin(), code.end(), module_re), end; it != end; ++it) {
    const std::string name = (*it)[2];
    const int line = line_of(code, it->position(0));
    if (auto seen = first_line.find(name); seen != first_line.end())
      throw std::invalid_argument("module " + name + " is defined twice (lines " + std::to_string(seen->second) +
                                  " and " + std::to_string(line) + "); a candidate defines each module once");
    first_line[name] = line;
    names.push_back(name);
  }
  return names;
}

std::string strip_comments(const std::string& text) {
  std::string out = text;
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    if (text.compare(i, 2, "//") == 0) {
      const std::size_t end = std::min(text.find('\n', i), n);
      std::fill(out.begin() + static_cast<long>(i), out.begin() + static_cast<long>(end), ' ');
      i = end;
    } else if (text.compare(i, 2, "/*") == 0) {
      std::size_t end = text.find("*/", i + 2);
      end = end == std::string::npos ? n : end + 2;
      for (std::size_t k = i; k < end; ++k)
        if (out[k] != '\n') out[k] = ' ';
      i = end;
    } else if (text[i] == '"') {
      std::size_t k = i + 1;
      while (k < n && text[k] != '"' && text[k] != '\n') k += text[k] == '\\' ? 2 : 1;
      i = std::min(k + 1, n);
    } else {
      ++i;
    }
  }
  return out;
}

UntrustedVerilog prepare_untrusted(const std::string& text, const PrepareOptions& o) {
  UntrustedVerilog u;
  auto fail = [&](const std::string& category, const std::string& message) {
    u.ok = false;
    u.category = category;
    u.message = message;
    u.text.clear();
    u.modules.clear();
    return u;
  };
  const ScreenResult raw = screen_verilog(text, o.max_bytes);
  if (!raw.ok) return fail("screen", raw.message);

  // One preprocessing for every tool, inside the sandbox: what it prints is what lint,
  // simulation and synthesis will read, so no tool can take another branch.
  TempDir dir("chipgym-pp-");
  write_file(dir.path() / "candidate.v", text);
  RunRequest req;
  req.argv = {o.verilator, "-E", "-P", "candidate.v"};
  req.cwd = dir.path();
  req.sandbox = Sandbox{};
  req.limits.wall_seconds = o.timeout;
  req.limits.cpu_seconds = o.timeout + 5;
  req.limits.memory_bytes = 2ull << 30;
  req.limits.output_bytes = o.max_expanded_bytes + 1;
  const RunResult r = run_process(req);
  if (r.status == RunStatus::NoSandbox) return fail("sandbox", r.exec_error);
  if (r.status == RunStatus::NotFound) return fail("environment", r.describe("verilator -E"));
  if (r.out_truncated || r.out.size() > o.max_expanded_bytes)
    return fail("screen", "after macro expansion the text is larger than " + std::to_string(o.max_expanded_bytes) +
                              " bytes: a macro that expands to something huge is refused");
  if (r.err.find("Too many preprocessor tokens") != std::string::npos)
    return fail("screen", "a macro that expands to something huge is refused (verilator -E: " +
                              r.err.substr(0, r.err.find('\n')) + ")");
  if (r.status == RunStatus::TimedOut || !r.ok()) {
    if (r.status == RunStatus::Exited && r.err.find("%Error") != std::string::npos)
      return fail("preprocess", "the preprocessor (verilator -E) rejected the file: " + r.err.substr(0, 800));
    return fail("preprocess", "preprocessing failed: " + r.explain("verilator -E", req.limits) + ": " +
                                  r.err.substr(0, 400));
  }
  const std::string expanded = strip_comments(r.out);
  const ScreenResult screened = screen_expanded(expanded);
  if (!screened.ok) return fail("screen", screened.message);
  u.ok = true;
  u.text = expanded;
  u.modules = defined_modules(screened.code);
  if (u.modules.empty()) return fail("screen", "the file defines no module");
  return u;
}

}  // namespace chipgym::evaluators
