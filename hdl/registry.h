// One registry for every kind of entry (design families, tasks, agents, evaluator stages), as
// Yosys registers its passes: an entry is a value with a name and a one-line help, added by a
// static object in its own file, and found by name. Libraries holding entries are linked with
// WHOLE_ARCHIVE (CMakeLists.txt), so an entry that nothing references is still registered.
//
//   namespace { const Registration<StageInfo> lint{{"lint", "verilator --lint-only -Wall", ...}}; }
//
// A failed lookup names the known entries and the nearest one, as Gymnasium's does:
// "unknown agent 'pp0'; did you mean 'ppo'? known agents: dqn, ga, ..." (hdl::ParamError, so the
// CLI reports it as bad input, exit 2).
#pragma once
#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "hdl/param_space.h"

namespace chipgym {

// Levenshtein distance: the edits (insert, delete, substitute) from a to b.
inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The candidate nearest to `name` when it is near enough to be a slip (at most a third of the
// longer name's letters differ, or one name contains the other), else "".
inline std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 0;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(name, c);
    const bool contains = !name.empty() && (c.find(name) != std::string::npos || name.find(c) != std::string::npos);
    if (contains) d = std::min<std::size_t>(d, 1);
    if (d > std::max(name.size(), c.size()) / 3 && !contains) continue;
    if (best.empty() || d < best_distance) best = c, best_distance = d;
  }
  return best;
}

// "family" -> "families", "agent" -> "agents".
inline std::string plural(const std::string& kind) {
  if (kind.size() > 1 && kind.back() == 'y' && std::string("aeiou").find(kind[kind.size() - 2]) == std::string::npos)
    return kind.substr(0, kind.size() - 1) + "ies";
  return kind + "s";
}

// "unknown <kind> 'x'; did you mean 'y'? known <kind>s: a, b, c"
inline std::string unknown_name_message(const std::string& kind, const std::string& name,
                                        const std::vector<std::string>& known) {
  std::string message = "unknown " + kind + " '" + name + "'";
  if (auto near = nearest_name(name, known); !near.empty()) message += "; did you mean '" + near + "'?";
  else message += ";";
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return message + " known " + plural(kind) + ": " + list;
}

// Entries of one kind by name. Entry is a value type with a `std::string name` member; an
// optional `int order` member places it in listings (then by name), where an order people
// already read (`chipgym tasks`, the agents in `--help`) must stay as it was.
template <class Entry>
class Registry {
 public:
  static Registry& instance() {
    static Registry registry;  // constructed on first use: safe from static initializers
    return registry;
  }
  // Throws std::logic_error when the name is taken: names are unique within a kind.
  void add(Entry entry) {
    if (entry.name.empty()) throw std::logic_error("an entry needs a name");
    if (entries_.count(entry.name)) throw std::logic_error("registered twice: " + entry.name);
    std::string name = entry.name;
    entries_.emplace(std::move(name), std::move(entry));
  }
  const Entry* find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  // Throws hdl::ParamError with unknown_name_message(kind, ...).
  const Entry& get(const std::string& name, const std::string& kind) const {
    return get(name, kind, [](const Entry&) { return true; });
  }
  // The same among the entries `accept` takes (e.g. the RL agents only): another entry of that
  // name is unknown here too, and only accepted names are listed and suggested.
  template <class Accept>
  const Entry& get(const std::string& name, const std::string& kind, Accept accept) const {
    if (const Entry* e = find(name); e && accept(*e)) return *e;
    std::vector<std::string> known;
    for (const Entry* e : entries())
      if (accept(*e)) known.push_back(e->name);
    throw hdl::ParamError(unknown_name_message(kind, name, known));
  }
  // In listing order (`order`, then name), so listings and help do not depend on link order.
  std::vector<const Entry*> entries() const {
    std::vector<const Entry*> out;
    for (const auto& [name, e] : entries_) out.push_back(&e);
    if constexpr (requires(const Entry& e) { e.order; })
      std::stable_sort(out.begin(), out.end(), [](const Entry* a, const Entry* b) { return a->order < b->order; });
    return out;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Entry* e : entries()) out.push_back(e->name);
    return out;
  }
  std::size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, Entry> entries_;
};

// A static object of this type registers its entry at start-up.
template <class Entry>
struct Registration {
  explicit Registration(Entry entry) { Registry<Entry>::instance().add(std::move(entry)); }
};

}  // namespace chipgym
