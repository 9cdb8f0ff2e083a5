// A typed parameter space: named parameters (integer range, choice list, power of two) plus
// constraints between them. Params are validated against a space, hashable and JSON.
#pragma once
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace chipgym::hdl {

using json = nlohmann::json;

// Bad user input about parameters (unknown name, out of range, malformed --set, broken
// constraint). The message names what was wrong and the valid choices.
class ParamError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A parameter value: an integer or a symbol from a choice list.
using Value = std::variant<long long, std::string>;
std::string to_string(const Value& v);

struct Param {
  enum class Kind { IntRange, PowerOfTwo, Choice };
  std::string name;
  Kind kind = Kind::IntRange;
  long long lo = 0, hi = 0;              // IntRange and PowerOfTwo (inclusive bounds)
  std::vector<std::string> choices;      // Choice: symbols; IntRange of listed ints uses int_choices
  std::vector<long long> int_choices;    // a Choice of integers (e.g. in_bits: 4, 8, 16)
  Value default_value;
  std::string help;                      // one line, in the designer's words
  // false: a parameter added to a space after designs of it were cached. At its default it is
  // left out of the design's key (ParamSpace::key), so those designs keep their keys.
  bool keyed_at_default = true;

  static Param int_range(std::string name, long long lo, long long hi, long long dflt, std::string help);
  static Param pow2(std::string name, long long lo, long long hi, long long dflt, std::string help);
  static Param int_choice(std::string name, std::vector<long long> values, long long dflt, std::string help);
  static Param choice(std::string name, std::vector<std::string> values, std::string dflt, std::string help);
  // This parameter with keyed_at_default = false.
  Param added_later() const;

  // All legal values in order (the discrete domain an agent can index into).
  std::vector<Value> domain() const;
  bool contains(const Value& v) const;
  std::string describe_domain() const;  // e.g. "1..32", "one of 4, 8, 16", "power of two in 1..256"
  json to_json() const;
};

class Params;

struct Constraint {
  std::string description;  // e.g. "acc_bits >= 2 * in_bits"
  std::function<bool(const Params&)> holds;
};

class ParamSpace {
 public:
  ParamSpace& add(Param p);
  ParamSpace& require(std::string description, std::function<bool(const Params&)> holds);

  const std::vector<Param>& params() const { return params_; }
  const std::vector<Constraint>& constraints() const { return constraints_; }
  const Param* find(const std::string& name) const;

  Params defaults() const;
  // Parses "rows=8,cols=8,dataflow=ws" over the defaults, then validates. Throws ParamError.
  Params parse_assignments(const std::string& text) const;
  // The same over `base` instead of the defaults.
  Params apply_assignments(const Params& base, const std::string& text) const;
  Params with(const Params& base, const std::string& name, const std::string& value_text) const;
  // Missing names take defaults; unknown names throw. Constraints are checked unless the
  // caller will change the values further and validate then.
  Params from_json(const json& j, bool check_constraints = true) const;
  void validate(const Params& p) const;   // throws ParamError naming the parameter or constraint
  // The hashing form of a design (cache keys): Params::canonical() less the parameters added
  // later (Param::added_later) that are at their defaults.
  std::string key(const Params& p) const;
  Params key_params(const Params& p) const;  // the same, as Params (e.g. for a file header)
  json to_json() const;
  double size() const;  // number of points before constraints (as a double; may be large)

 private:
  Value parse_value(const Param& p, const std::string& text) const;
  std::vector<Param> params_;
  std::vector<Constraint> constraints_;
};

// Values by name, ordered (so JSON and hashes are canonical).
class Params {
 public:
  long long integer(const std::string& name) const;
  const std::string& symbol(const std::string& name) const;
  const Value& at(const std::string& name) const;
  void set(const std::string& name, Value v) { values_[name] = std::move(v); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, Value>& values() const { return values_; }
  json to_json() const;
  std::string canonical() const;  // compact JSON with sorted keys: the hashing form
  std::string to_assignments() const;  // "a_depth=16,cols=4,..." (round-trips parse_assignments)
  bool operator==(const Params& o) const { return values_ == o.values_; }

 private:
  std::map<std::string, Value> values_;
};

}  // namespace chipgym::hdl
