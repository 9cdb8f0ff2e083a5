// Small helpers of the Verilog generators (hdl/*.cpp): templates with ${NAME} slots, so each
// generated module reads as Verilog in the source, and the usual width arithmetic.
#pragma once
#include <map>
#include <stdexcept>
#include <string>

namespace chipgym::hdl::text {

// `text` with every ${NAME} replaced by vars[NAME]; a slot without a value is a generator bug.
inline std::string fill(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      auto end = text.find('}', i);
      std::string key = text.substr(i + 2, end - i - 2);
      auto it = vars.find(key);
      if (it == vars.end()) throw std::logic_error("Verilog generator: no value for slot ${" + key + "}");
      out += it->second;
      i = end + 1;
    } else {
      out += text[i++];
    }
  }
  return out;
}

// Bits to address (or count 0..v-1 of) v entries, at least 1.
inline int clog2(long long v) {
  int bits = 0;
  while ((1LL << bits) < v) ++bits;
  return bits < 1 ? 1 : bits;
}

inline std::string s(long long v) { return std::to_string(v); }

// {W{mask[i]}} for every element, most significant first: a bit mask that keeps or zeroes
// whole elements of a packed vector.
inline std::string element_keep(const std::string& mask, int elements, int width) {
  std::string out = "{";
  for (int i = elements - 1; i >= 0; --i)
    out += "{" + s(width) + "{" + mask + "[" + s(i) + "]}}" + (i ? ", " : "");
  return out + "}";
}

}  // namespace chipgym::hdl::text
