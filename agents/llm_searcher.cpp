// The "llm" searcher: a language model behind an OpenAI-compatible chat-completions endpoint
// proposes designs of a parametric task. Each ask() builds a prompt (the task, its objective,
// the searched parameters with their values, the best and the last evaluated designs with
// their rewards, feedback on the previous answer) and parses the reply, a JSON list of
// {parameter: value} objects. Invalid or missing proposals become seeded random designs not
// evaluated yet, and the reason goes into the next prompt.
//
// Hyper-parameters: url (default $CHIPGYM_LLM_URL), model ($CHIPGYM_LLM_MODEL, else
// "default"), temperature (0.2), timeout (60 s per attempt), retries (2, the client's); the
// key comes from $CHIPGYM_LLM_KEY or $OPENAI_API_KEY. `chipgym train` adds "task" (the
// Task as JSON) and "transcript" (<run>/llm.jsonl); those two are not recorded in config.json.
//
// Resume: every model call is a line of the transcript with the SHA-256 of its prompt. A new
// searcher answers a prompt whose hash matches the next recorded call from the file, so a
// killed run replays to the same designs without calling the model. A failed call (after the
// client's retries) gives random designs and a warning line; three failed calls in a row throw.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "agents/agent.h"
#include "env/task.h"
#include "evaluators/sha256.h"
#include "hdl/param_space.h"
#include "agents/llm_client.h"

namespace chipgym::agents {

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

json value_json(const hdl::Value& v) {
  if (auto i = std::get_if<long long>(&v)) return *i;
  return std::get<std::string>(v);
}

// The JSON part of a reply: a fenced ```json block, else the outermost [...] or {...}.
std::string extract_json(const std::string& content) {
  auto fence = content.find("```");
  if (fence != std::string::npos) {
    auto start = content.find('\n', fence);
    auto end = start == std::string::npos ? std::string::npos : content.find("```", start);
    if (end != std::string::npos) return content.substr(start + 1, end - start - 1);
  }
  auto lb = content.find('['), rb = content.rfind(']');
  if (lb != std::string::npos && rb != std::string::npos && rb > lb) return content.substr(lb, rb - lb + 1);
  auto lc = content.find('{'), rc = content.rfind('}');
  if (lc != std::string::npos && rc != std::string::npos && rc > lc) return content.substr(lc, rc - lc + 1);
  return content;
}

constexpr const char* kSystem =
    "You are an expert hardware architect choosing parameters of a generated hardware design. "
    "Answer with a JSON list only.";

class LlmSearcher final : public Searcher {
 public:
  struct Hyper {
    std::string url, model;
    double temperature = 0.2;
    double timeout = 60;
    int retries = 2;
  };

  LlmSearcher(const env::Space& space, std::uint64_t seed, const json& h) : space_(space), rng_(seed) {
    hyper_.url = h.value("url", std::string());
    if (hyper_.url.empty()) hyper_.url = env_or("CHIPGYM_LLM_URL", "");
    if (hyper_.url.empty())
      throw hdl::ParamError("the llm agent needs --hyper '{\"url\": ...}' or CHIPGYM_LLM_URL "
                            "(an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1)");
    hyper_.model = h.value("model", std::string());
    if (hyper_.model.empty()) hyper_.model = env_or("CHIPGYM_LLM_MODEL", "default");
    hyper_.temperature = h.value("temperature", hyper_.temperature);
    hyper_.timeout = h.value("timeout", hyper_.timeout);
    hyper_.retries = h.value("retries", hyper_.retries);
    if (hyper_.temperature < 0) throw hdl::ParamError("llm: temperature must be >= 0");
    if (hyper_.timeout <= 0) throw hdl::ParamError("llm: timeout must be > 0 seconds");
    if (hyper_.retries < 0) throw hdl::ParamError("llm: retries must be >= 0");
    LlmConfig c;
    c.base_url = hyper_.url;
    c.model = hyper_.model;
    c.api_key_env = std::getenv("CHIPGYM_LLM_KEY") ? "CHIPGYM_LLM_KEY" : "OPENAI_API_KEY";
    c.temperature = hyper_.temperature;
    c.timeout_seconds = hyper_.timeout;
    c.max_retries = hyper_.retries;
    client_ = std::make_unique<LlmClient>(c);  // checks the URL

    if (!h.contains("task") || !h["task"].is_object())
      throw hdl::ParamError("the llm agent needs the task (hyper 'task'; chipgym train fills it in)");
    task_ = env::Task::from_json(h["task"]);
    for (auto& [name, values] : task_.search_domains()) {
      json vs = json::array();
      for (const auto& v : values) vs.push_back(value_json(v));
      names_.push_back(name);
      values_.push_back(vs);
    }
    if (space_.kind() != env::Space::Kind::MultiDiscrete || space_.nvec().size() != names_.size())
      throw hdl::ParamError("llm: the design space does not match the task's searched parameters");
    transcript_ = h.value("transcript", std::string());
  }

  std::vector<Design> ask(int n) override {
    load_transcript();
    const std::string prompt = build_prompt(n);
    const std::string hash = evaluators::sha256_hex(std::string(kSystem) + "\n" + prompt);
    bool ok = false;
    std::string content, error;
    if (next_ < replayable_.size() && entries_[replayable_[next_]].value("prompt_sha256", "") == hash) {
      const json& e = entries_[replayable_[next_++]];
      ok = e.value("ok", false);
      content = e.value("content", std::string());
      error = e.value("error", std::string());
    } else {
      drop_unused_entries();
      auto r = client_->chat({{"system", kSystem}, {"user", prompt}});
      ok = r.ok;
      content = r.content;
      error = r.error;
      json entry = {{"call", calls_}, {"prompt_sha256", hash}, {"n", n}, {"ok", ok}, {"prompt", prompt}};
      if (ok) entry["content"] = content;
      else entry["error"] = error;
      if (!ok) {
        entry["warning"] = "the model call failed; " + std::to_string(n) + " random design(s) instead";
        if (failures_ + 1 >= kMaxFailures) entry["fatal"] = true;
      }
      append(entry);
    }
    ++calls_;
    std::vector<Design> out;
    feedback_.clear();
    if (ok) {
      failures_ = 0;
      out = parse(content, n);
    } else {
      if (++failures_ >= kMaxFailures)
        throw std::runtime_error("the llm agent: " + std::to_string(kMaxFailures) +
                                 " model calls in a row failed; last: " + error);
      feedback_.push_back("(the previous model call failed: " + error + "; random designs were evaluated instead)");
    }
    // Missing or invalid proposals: seeded random designs not evaluated yet.
    std::set<Design> batch(out.begin(), out.end());
    while (static_cast<int>(out.size()) < n) {
      Design d = space_.sample(rng_);
      for (int t = 0; t < 1000 && (seen_.count(d) || batch.count(d)); ++t) d = space_.sample(rng_);
      batch.insert(d);
      out.push_back(d);
    }
    for (const auto& d : out) seen_.insert(d);
    return out;
  }

  void tell(const std::vector<Design>& designs, const std::vector<double>& rewards) override {
    for (std::size_t i = 0; i < designs.size() && i < rewards.size(); ++i) told_.push_back({designs[i], rewards[i]});
  }

  bool done() const override { return static_cast<double>(seen_.size()) >= space_.size(); }

  json hyper_parameters() const override {
    return {{"url", hyper_.url}, {"model", hyper_.model}, {"temperature", hyper_.temperature},
            {"timeout", hyper_.timeout}, {"retries", hyper_.retries}};
  }

 private:
  static constexpr int kMaxFailures = 3;

  json params_of(const Design& d) const {
    json p = json::object();
    for (std::size_t i = 0; i < names_.size(); ++i) p[names_[i]] = values_[i].at(static_cast<std::size_t>(d[i]));
    return p;
  }

  std::string build_prompt(int n) const {
    std::ostringstream os;
    os << "Task: " << task_.name << " (hardware family " << task_.family << "): " << task_.description << "\n"
       << "Objective (the reward; higher is better): " << task_.objective << "\n";
    if (!task_.budget.is_null() && !task_.budget.empty()) os << "Constraints: " << task_.budget.dump() << "\n";
    os << "Rewards: an admissible design earns its objective (>= 0); -1 infeasible (over the constraints), "
          "-2 incorrect results, -3 a failed evaluation.\n\n"
       << "Searched parameters (choose every value from its list):\n";
    json params = json::object();
    for (std::size_t i = 0; i < names_.size(); ++i) params[names_[i]] = values_[i];
    os << params.dump() << "\n\n";
    if (told_.empty()) {
      os << "No design has been evaluated yet.\n";
    } else {
      std::vector<std::size_t> order(told_.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return told_[a].second > told_[b].second; });
      json best = json::array(), last = json::array();
      for (std::size_t k = 0; k < order.size() && k < 10; ++k)
        best.push_back({{"design", params_of(told_[order[k]].first)}, {"reward", told_[order[k]].second}});
      for (std::size_t k = told_.size() > 10 ? told_.size() - 10 : 0; k < told_.size(); ++k)
        last.push_back({{"design", params_of(told_[k].first)}, {"reward", told_[k].second}});
      os << told_.size() << " design(s) evaluated so far.\nThe best (up to 10): " << best.dump()
         << "\nThe last (up to 10): " << last.dump() << "\n";
    }
    if (!feedback_.empty()) {
      os << "\nFeedback on your previous answer:\n";
      for (const auto& f : feedback_) os << "- " << f << "\n";
    }
    os << "\nPropose " << n << " new design(s), not evaluated before, that you expect to earn a high reward. "
       << "Answer with only a JSON list of " << n << " object(s), each mapping every searched parameter to a value, e.g. "
       << [&] {
            json ex = json::object();
            for (std::size_t i = 0; i < names_.size(); ++i) ex[names_[i]] = values_[i].at(0);
            return json::array({ex}).dump();
          }()
       << "\n";
    return os.str();
  }

  // The index of `v` in value list i, or -1.
  long long index_of(std::size_t i, const json& v) const {
    for (std::size_t k = 0; k < values_[i].size(); ++k) {
      const json& w = values_[i][k];
      if (w == v) return static_cast<long long>(k);
      if (w.is_number_integer() && v.is_number_float() && static_cast<double>(w.get<long long>()) == v.get<double>())
        return static_cast<long long>(k);
      if (w.is_number_integer() && v.is_string() && std::to_string(w.get<long long>()) == v.get<std::string>())
        return static_cast<long long>(k);
    }
    return -1;
  }

  std::vector<Design> parse(const std::string& content, int n) {
    std::vector<Design> out;
    json reply;
    try {
      reply = json::parse(extract_json(content));
    } catch (const json::exception& e) {
      feedback_.push_back("your answer was not valid JSON (" + std::string(e.what()) +
                          "); random designs were evaluated instead");
      return out;
    }
    if (reply.is_object() && reply.contains("designs")) reply = reply["designs"];
    if (reply.is_object()) reply = json::array({reply});
    if (!reply.is_array()) {
      feedback_.push_back("your answer was not a JSON list of designs; random designs were evaluated instead");
      return out;
    }
    std::set<Design> batch;
    for (std::size_t k = 0; k < reply.size() && static_cast<int>(out.size()) < n; ++k) {
      const json& p = reply[k];
      const std::string which = "design " + std::to_string(k + 1);
      if (!p.is_object()) {
        feedback_.push_back(which + " is not a JSON object; replaced by a random design");
        continue;
      }
      Design d(names_.size());
      std::string problem;
      for (std::size_t i = 0; i < names_.size() && problem.empty(); ++i) {
        if (!p.contains(names_[i])) {
          problem = "it lacks parameter '" + names_[i] + "'";
        } else if ((d[i] = index_of(i, p[names_[i]])) < 0) {
          problem = "'" + names_[i] + "' = " + p[names_[i]].dump() + " is not one of " + values_[i].dump();
        }
      }
      for (auto it = p.begin(); it != p.end() && problem.empty(); ++it)
        if (std::find(names_.begin(), names_.end(), it.key()) == names_.end())
          problem = "'" + it.key() + "' is not a searched parameter";
      if (problem.empty() && (seen_.count(d) || batch.count(d))) problem = "it was evaluated (or proposed) before";
      if (!problem.empty()) {
        feedback_.push_back(which + " " + p.dump() + " was invalid: " + problem + "; replaced by a random design");
        continue;
      }
      batch.insert(d);
      out.push_back(d);
    }
    if (static_cast<int>(out.size()) < n && static_cast<int>(reply.size()) < n)
      feedback_.push_back("you proposed " + std::to_string(reply.size()) + " design(s) where " + std::to_string(n) +
                          " were asked; random designs filled the rest");
    return out;
  }

  // Reads the transcript once (on the first ask, after the run directory exists).
  void load_transcript() {
    if (loaded_) return;
    loaded_ = true;
    if (transcript_.empty()) return;
    std::ifstream in(transcript_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        json e = json::parse(line);
        if (!e.is_object()) continue;
        entries_.push_back(e);
        if (e.contains("prompt_sha256") && e.contains("ok") && !e.value("fatal", false))
          replayable_.push_back(entries_.size() - 1);
      } catch (const json::exception&) {  // a line torn by a crash
      }
    }
  }

  // Going live: recorded calls that were not replayed are dropped from the transcript, so
  // that the file stays the sequence of calls this run made.
  void drop_unused_entries() {
    if (next_ >= replayable_.size()) return;
    std::vector<json> keep;
    std::set<std::size_t> unused(replayable_.begin() + static_cast<std::ptrdiff_t>(next_), replayable_.end());
    for (std::size_t i = 0; i < entries_.size(); ++i)
      if (!unused.count(i)) keep.push_back(entries_[i]);
    entries_ = keep;
    replayable_.clear();
    next_ = 0;
    if (transcript_.empty()) return;
    std::ofstream out(transcript_, std::ios::trunc);
    for (const auto& e : entries_) out << e.dump() << "\n";
  }

  void append(const json& entry) {
    if (transcript_.empty()) return;
    std::ofstream out(transcript_, std::ios::app);
    out << entry.dump() + "\n";
    out.flush();
    if (!out) throw std::runtime_error("the llm agent cannot write its transcript " + transcript_);
  }

  env::Space space_;
  std::mt19937_64 rng_;
  Hyper hyper_;
  std::unique_ptr<LlmClient> client_;
  env::Task task_;
  std::vector<std::string> names_;
  std::vector<json> values_;
  std::string transcript_;
  bool loaded_ = false;
  std::vector<json> entries_;
  std::vector<std::size_t> replayable_;
  std::size_t next_ = 0;
  long long calls_ = 0;
  int failures_ = 0;
  std::vector<std::string> feedback_;
  std::set<Design> seen_;
  std::vector<std::pair<Design, double>> told_;
};

Agent llm_agent() {
  Agent a;
  a.name = "llm";
  a.kind = AgentKind::llm;
  a.description = "a language model proposes designs, over an OpenAI-compatible endpoint: hyper url or $CHIPGYM_LLM_URL";
  a.defaults = {{"url", ""},      {"model", ""}, {"temperature", 0.2},   {"timeout", 60.0},
                {"retries", 2},   {"task", nullptr}, {"transcript", ""}};
  a.order = 60;
  a.make_searcher = [](const env::Space& s, std::uint64_t seed, const json& h) -> std::unique_ptr<Searcher> {
    return std::make_unique<LlmSearcher>(s, seed, h);
  };
  return a;
}

const Registration<Agent> registered{llm_agent()};

}  // namespace

}  // namespace chipgym::agents
