#include "agents/diff.h"

#include <regex>
#include <sstream>
#include <vector>

namespace chipgym::agents {

namespace {

constexpr const char* kSearch = "<<<<<<< SEARCH";
constexpr const char* kDivider = "=======";
constexpr const char* kReplace = ">>>>>>> REPLACE";

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string first_line(const std::string& s) {
  const auto start = s.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  return trim_right(s.substr(start, s.find('\n', start) - start));
}

EditResult failure(const std::string& kind, const std::string& error) {
  EditResult r;
  r.kind = kind;
  r.error = error;
  return r;
}

std::size_t count_occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

EditResult apply_search_replace(const std::string& code, const std::string& reply) {
  std::istringstream in(reply);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(trim_right(line));
  std::string current = code;
  int block = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != kSearch) continue;
    ++block;
    const std::string name = "SEARCH/REPLACE block " + std::to_string(block);
    std::string search, replace;
    std::size_t k = i + 1;
    for (; k < lines.size() && lines[k] != kDivider; ++k) {
      if (lines[k] == kSearch || lines[k] == kReplace)
        return failure("diff", name + " has no ======= line between SEARCH and REPLACE");
      search += lines[k] + "\n";
    }
    if (k == lines.size()) return failure("diff", name + " is not finished: no ======= line after <<<<<<< SEARCH");
    for (++k; k < lines.size() && lines[k] != kReplace; ++k) {
      if (lines[k] == kSearch || lines[k] == kDivider)
        return failure("diff", name + " is not finished: no >>>>>>> REPLACE line after =======");
      replace += lines[k] + "\n";
    }
    if (k == lines.size()) return failure("diff", name + " is not finished: no >>>>>>> REPLACE line after =======");
    i = k;
    if (search.find_first_not_of(" \t\n") == std::string::npos)
      return failure("diff", name + " has an empty SEARCH part; copy the exact lines to replace");
    // Match whole lines exactly (trailing spaces ignored on both sides).
    std::string normalized;
    {
      std::istringstream cs(current);
      for (std::string line; std::getline(cs, line);) normalized += trim_right(line) + "\n";
    }
    // Whole lines only: "a\n" must not match the end of "data\n".
    const std::string haystack = "\n" + normalized, needle = "\n" + search;
    const std::size_t hits = count_occurrences(haystack, needle);
    if (hits == 0)
      return failure("diff", name + ": the SEARCH text does not match the current code exactly (it starts with '" +
                                 first_line(search) + "'); copy the lines verbatim from the code");
    if (hits > 1)
      return failure("diff", name + ": the SEARCH text matches " + std::to_string(hits) +
                                 " places; include more lines so that it matches exactly one");
    const std::size_t at = haystack.find(needle);  // == the index of `search` in `normalized`
    current = normalized.replace(at, search.size(), replace);
  }
  if (block == 0) return failure("diff", "the reply has no <<<<<<< SEARCH block");
  EditResult r;
  r.ok = true;
  r.kind = "diff";
  r.code = current;
  r.blocks = block;
  return r;
}

EditResult extract_code(const std::string& reply) {
  static const std::regex fence(R"(```[ \t]*([A-Za-z]*)[^\n]*\n([\s\S]*?)```)");
  std::string best;
  for (std::sregex_iterator it(reply.begin(), reply.end(), fence), end; it != end; ++it) {
    const std::string lang = (*it)[1];
    if (!lang.empty() && lang != "verilog" && lang != "systemverilog" && lang != "v" && lang != "sv") continue;
    const std::string body = (*it)[2];
    if (std::regex_search(body, std::regex(R"(\bmodule\b)"))) best = body;
  }
  if (best.empty()) {
    const auto start = reply.find("module ");
    const auto stop = reply.rfind("endmodule");
    if (start != std::string::npos && stop != std::string::npos && stop > start)
      best = reply.substr(start, stop + 9 - start) + "\n";
  }
  if (best.empty())
    return failure("rewrite",
                   "the reply contains no code: expected SEARCH/REPLACE blocks or the whole module in a ```verilog block");
  EditResult r;
  r.ok = true;
  r.kind = "rewrite";
  r.code = best;
  return r;
}

EditResult apply_reply(const std::string& code, const std::string& reply) {
  std::istringstream in(reply);
  for (std::string line; std::getline(in, line);)
    if (trim_right(line) == kSearch) return apply_search_replace(code, reply);
  return extract_code(reply);
}

}  // namespace chipgym::agents
