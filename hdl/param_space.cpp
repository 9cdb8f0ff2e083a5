#include "hdl/param_space.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace chipgym::hdl {

std::string to_string(const Value& v) {
  if (auto i = std::get_if<long long>(&v)) return std::to_string(*i);
  return std::get<std::string>(v);
}

Param Param::int_range(std::string name, long long lo, long long hi, long long dflt, std::string help) {
  Param p;
  p.name = std::move(name);
  p.kind = Kind::IntRange;
  p.lo = lo;
  p.hi = hi;
  p.default_value = dflt;
  p.help = std::move(help);
  return p;
}

Param Param::pow2(std::string name, long long lo, long long hi, long long dflt, std::string help) {
  Param p = int_range(std::move(name), lo, hi, dflt, std::move(help));
  p.kind = Kind::PowerOfTwo;
  return p;
}

Param Param::int_choice(std::string name, std::vector<long long> values, long long dflt, std::string help) {
  Param p;
  p.name = std::move(name);
  p.kind = Kind::Choice;
  p.int_choices = std::move(values);
  p.default_value = dflt;
  p.help = std::move(help);
  return p;
}

Param Param::choice(std::string name, std::vector<std::string> values, std::string dflt, std::string help) {
  Param p;
  p.name = std::move(name);
  p.kind = Kind::Choice;
  p.choices = std::move(values);
  p.default_value = std::move(dflt);
  p.help = std::move(help);
  return p;
}

static bool is_pow2(long long v) { return v > 0 && (v & (v - 1)) == 0; }

std::vector<Value> Param::domain() const {
  std::vector<Value> out;
  switch (kind) {
    case Kind::IntRange:
      for (long long v = lo; v <= hi; ++v) out.emplace_back(v);
      break;
    case Kind::PowerOfTwo:
      for (long long v = 1; v <= hi; v *= 2)
        if (v >= lo) out.emplace_back(v);
      break;
    case Kind::Choice:
      for (long long v : int_choices) out.emplace_back(v);
      for (const auto& s : choices) out.emplace_back(s);
      break;
  }
  return out;
}

bool Param::contains(const Value& v) const {
  switch (kind) {
    case Kind::IntRange: {
      auto i = std::get_if<long long>(&v);
      return i && *i >= lo && *i <= hi;
    }
    case Kind::PowerOfTwo: {
      auto i = std::get_if<long long>(&v);
      return i && *i >= lo && *i <= hi && is_pow2(*i);
    }
    case Kind::Choice:
      if (auto i = std::get_if<long long>(&v))
        return std::find(int_choices.begin(), int_choices.end(), *i) != int_choices.end();
      return std::find(choices.begin(), choices.end(), std::get<std::string>(v)) != choices.end();
  }
  return false;
}

std::string Param::describe_domain() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::IntRange:
      os << "an integer in " << lo << ".." << hi;
      break;
    case Kind::PowerOfTwo:
      os << "a power of two in " << lo << ".." << hi;
      break;
    case Kind::Choice: {
      os << "one of ";
      bool first = true;
      for (const auto& v : domain()) {
        os << (first ? "" : ", ") << to_string(v);
        first = false;
      }
      break;
    }
  }
  return os.str();
}

static json value_json(const Value& v) {
  if (auto i = std::get_if<long long>(&v)) return *i;
  return std::get<std::string>(v);
}

Param Param::added_later() const {
  Param p = *this;
  p.keyed_at_default = false;
  return p;
}

json Param::to_json() const {
  json j;
  j["name"] = name;
  j["kind"] = kind == Kind::IntRange ? "int" : kind == Kind::PowerOfTwo ? "pow2" : "choice";
  if (kind != Kind::Choice) {
    j["min"] = lo;
    j["max"] = hi;
  } else {
    json vals = json::array();
    for (const auto& v : domain()) vals.push_back(value_json(v));
    j["values"] = vals;
  }
  j["default"] = value_json(default_value);
  j["help"] = help;
  return j;
}

ParamSpace& ParamSpace::add(Param p) {
  params_.push_back(std::move(p));
  return *this;
}

ParamSpace& ParamSpace::require(std::string description, std::function<bool(const Params&)> holds) {
  constraints_.push_back({std::move(description), std::move(holds)});
  return *this;
}

const Param* ParamSpace::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

Params ParamSpace::defaults() const {
  Params out;
  for (const auto& p : params_) out.set(p.name, p.default_value);
  return out;
}

static std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::string names_of(const std::vector<Param>& params) {
  std::string out;
  for (const auto& p : params) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

Value ParamSpace::parse_value(const Param& p, const std::string& text) const {
  bool symbolic = p.kind == Param::Kind::Choice && !p.choices.empty();
  Value v;
  if (symbolic) {
    v = text;
  } else {
    long long i = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (ec != std::errc() || ptr != text.data() + text.size())
      throw ParamError("parameter '" + p.name + "': '" + text + "' is not an integer; expected " +
                       p.describe_domain());
    v = i;
  }
  if (!p.contains(v))
    throw ParamError("parameter '" + p.name + "' = " + text + " is out of range; expected " +
                     p.describe_domain());
  return v;
}

Params ParamSpace::with(const Params& base, const std::string& name, const std::string& value_text) const {
  const Param* p = find(name);
  if (!p) throw ParamError("unknown parameter '" + name + "'; valid parameters: " + names_of(params_));
  Params out = base;
  out.set(name, parse_value(*p, value_text));
  return out;
}

Params ParamSpace::parse_assignments(const std::string& text) const { return apply_assignments(defaults(), text); }

Params ParamSpace::apply_assignments(const Params& base, const std::string& text) const {
  Params out = base;
  std::string item;
  std::istringstream in(text);
  std::map<std::string, int> seen;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos)
      throw ParamError("malformed assignment '" + item + "': expected name=value (e.g. rows=8,cols=8)");
    std::string name = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
    if (name.empty() || value.empty())
      throw ParamError("malformed assignment '" + item + "': expected name=value (e.g. rows=8,cols=8)");
    if (seen[name]++)
      throw ParamError("parameter '" + name + "' is set twice");
    out = with(out, name, value);
  }
  validate(out);
  return out;
}

Params ParamSpace::from_json(const json& j, bool check_constraints) const {
  if (!j.is_object()) throw ParamError("parameters must be a JSON object of name: value");
  Params out = defaults();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Param* p = find(it.key());
    if (!p) throw ParamError("unknown parameter '" + it.key() + "'; valid parameters: " + names_of(params_));
    std::string text;
    if (it->is_number_integer()) text = std::to_string(it->get<long long>());
    else if (it->is_number_float() && it->get<double>() == static_cast<double>(static_cast<long long>(it->get<double>())))
      text = std::to_string(static_cast<long long>(it->get<double>()));
    else if (it->is_string()) text = it->get<std::string>();
    else throw ParamError("parameter '" + it.key() + "' must be a number or a string");
    out.set(it.key(), parse_value(*p, text));
  }
  if (check_constraints) validate(out);
  return out;
}

void ParamSpace::validate(const Params& params) const {
  for (const auto& [name, v] : params.values())
    if (!find(name)) throw ParamError("unknown parameter '" + name + "'; valid parameters: " + names_of(params_));
  for (const auto& p : params_) {
    if (!params.has(p.name)) throw ParamError("parameter '" + p.name + "' is missing");
    if (!p.contains(params.at(p.name)))
      throw ParamError("parameter '" + p.name + "' = " + to_string(params.at(p.name)) +
                       " is out of range; expected " + p.describe_domain());
  }
  for (const auto& c : constraints_)
    if (!c.holds(params)) throw ParamError("parameters violate the constraint " + c.description);
}

Params ParamSpace::key_params(const Params& p) const {
  Params out;
  for (const auto& [name, v] : p.values()) {
    const Param* param = find(name);
    if (param && !param->keyed_at_default && v == param->default_value) continue;
    out.set(name, v);
  }
  return out;
}

std::string ParamSpace::key(const Params& p) const { return key_params(p).canonical(); }

json ParamSpace::to_json() const {
  json j;
  j["params"] = json::array();
  for (const auto& p : params_) j["params"].push_back(p.to_json());
  j["constraints"] = json::array();
  for (const auto& c : constraints_) j["constraints"].push_back(c.description);
  return j;
}

double ParamSpace::size() const {
  double n = 1;
  for (const auto& p : params_) n *= static_cast<double>(p.domain().size());
  return n;
}

long long Params::integer(const std::string& name) const {
  const auto& v = at(name);
  if (auto i = std::get_if<long long>(&v)) return *i;
  throw std::logic_error("parameter '" + name + "' is not an integer");
}

const std::string& Params::symbol(const std::string& name) const {
  const auto& v = at(name);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  throw std::logic_error("parameter '" + name + "' is not a symbol");
}

const Value& Params::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("parameter '" + name + "' is not set");
  return it->second;
}

json Params::to_json() const {
  json j = json::object();
  for (const auto& [k, v] : values_) j[k] = value_json(v);
  return j;
}

std::string Params::canonical() const { return to_json().dump(); }

std::string Params::to_assignments() const {
  std::string out;
  for (const auto& [k, v] : values_) out += (out.empty() ? "" : ",") + k + "=" + to_string(v);
  return out;
}

}  // namespace chipgym::hdl
