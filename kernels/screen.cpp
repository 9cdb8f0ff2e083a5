#include "kernels/screen.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

namespace chipgym::kernels {

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
  static const std::regex lint_only(R"(^\s*verilator\s+lint_(off|on|save|restore)\b[\sA-Za-z0-9_,*]*$)");
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

  ScreenResult ok;
  ok.code = strip_comments_and_strings(text);
  const std::string& code = ok.code;
  for (std::size_t i = 0; i < code.size(); ++i)
    if (static_cast<unsigned char>(code[i]) >= 0x80)
      return refuse(text, i, "a non-ASCII character outside comments");

  // Macros the file defines may be used; every other backtick word must be a harmless directive.
  std::set<std::string> defined;
  static const std::regex define_re(R"(`define\s+([A-Za-z_][A-Za-z0-9_$]*))");
  for (std::sregex_iterator it(code.begin(), code.end(), define_re), end; it != end; ++it) defined.insert((*it)[1]);
  static const std::set<std::string> directives = {"timescale", "default_nettype", "define", "undef",
                                                   "ifdef",     "ifndef",          "elsif",  "else",
                                                   "endif",     "resetall",        "celldefine", "endcelldefine"};
  const auto& allowed = allowed_system_functions();
  std::string allowed_list;
  for (const auto& a : allowed) allowed_list += (allowed_list.empty() ? "" : ", ") + a;
  static const std::regex dpi_re(R"(\b(import|export)\s*")");
  std::smatch dpi;
  if (std::regex_search(code, dpi, dpi_re))
    return refuse(text, dpi.position(0), "DPI " + dpi[1].str() + " is not allowed: it links host C code");

  for (std::size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    if (c == '`') {
      if (i + 1 < code.size() && code[i + 1] == '`') return refuse(text, i, "`` token pasting is not allowed");
      std::size_t k = i + 1;
      while (k < code.size() && ident_char(code[k])) ++k;
      const std::string word = code.substr(i + 1, k - i - 1);
      if (word.empty()) return refuse(text, i, "a stray ` (backtick)");
      if (word == "include")
        return refuse(text, i, "`include is not allowed: a candidate is one self-contained file and may not read others");
      if (!directives.count(word) && !defined.count(word))
        return refuse(text, i, "`" + word + " is not allowed: only `timescale, `default_nettype, `define/`ifdef/... and macros the file defines");
      i = k - 1;
    } else if (c == '$') {
      // Every $ must begin a whitelisted name: "a$b" identifiers are refused too, so no
      // lexer subtlety (8'hFF$fopen) can turn a name into a call.
      if (i > 0 && ident_char(code[i - 1]))
        return refuse(text, i, "$ inside a name is not allowed (only " + allowed_list + " may use $)");
      std::size_t k = i + 1;
      while (k < code.size() && ident_char(code[k])) ++k;
      const std::string name = code.substr(i, k - i);
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return refuse(text, i, (name == "$" ? std::string("a stray $") : name) +
                                   " is not allowed: system tasks can reach the host (files, processes, C code); only " +
                                   allowed_list + " may be used");
      }
      i = k - 1;
    } else if (c == '\\') {
      return refuse(text, i, "escaped identifiers (\\name) are not allowed");
    } else if (c == '(' && i + 1 < code.size() && code[i + 1] == '*') {
      std::size_t k = i + 2;
      while (k < code.size() && std::isspace(static_cast<unsigned char>(code[k]))) ++k;
      if (k < code.size() && code[k] != ')')
        return refuse(text, i, "attributes (* ... *) are not allowed: tools act on them (e.g. blackbox, keep)");
    }
  }
  return ok;
}

}  // namespace chipgym::kernels
