// chipgym cache stats|merge|export: the evaluation cache as a whole. Keys are content hashes,
// so caches from separate runs or machines merge by union; the eval-level entries, with the
// design each one records, are the dataset of a task's family (every evaluated design with its
// parameters and metrics).
#include <fstream>
#include <iostream>
#include <set>

#include "cli/command.h"
#include "cli/common.h"
#include "env/env.h"
#include "evaluators/pipeline.h"
#include "evaluators/sha256.h"

namespace chipgym::cli {

namespace {

namespace fs = std::filesystem;

fs::path cache_file(const std::string& dir) {
  return dir.empty() ? evaluators::Cache::default_file() : fs::path(dir) / "cache.sqlite";
}

std::uintmax_t file_bytes(const fs::path& file) {
  std::uintmax_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    const auto n = fs::file_size(file.string() + suffix, ec);
    if (!ec) total += n;
  }
  return total;
}

// --- stats ----------------------------------------------------------------------------------

int run_stats(const std::string& dir, bool as_json) {
  const fs::path file = cache_file(dir);
  evaluators::Cache::check_cache_file(file);
  evaluators::Cache cache(file);
  const auto stages = cache.stage_stats();
  std::size_t entries = 0;
  json by_stage = json::object();
  for (const auto& s : stages) {
    entries += s.entries;
    by_stage[s.stage] = {{"entries", s.entries}, {"value_bytes", s.value_bytes}};
  }
  const json out = {{"file", fs::absolute(file).string()}, {"bytes", file_bytes(file)}, {"entries", entries}, {"stages", by_stage}};
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "cache " << out["file"].get<std::string>() << ": " << entries << " entries, " << out["bytes"] << " bytes\n";
  for (const auto& s : stages)
    std::cout << "  " << s.stage << std::string(s.stage.size() < 14 ? 14 - s.stage.size() : 1, ' ') << s.entries
              << " entries, " << s.value_bytes << " bytes of results\n";
  return 0;
}

// --- merge ----------------------------------------------------------------------------------

int run_merge(const std::vector<std::string>& inputs, const std::string& into_text, bool as_json) {
  if (inputs.empty() || (into_text.empty() && inputs.size() < 2))
    throw hdl::ParamError("cache merge needs two caches (the second is merged into the first), or --into C and one or more");
  for (const auto& f : inputs) evaluators::Cache::check_cache_file(f);  // all of them, before anything is written
  const fs::path into = into_text.empty() ? fs::path(inputs.front()) : fs::path(into_text);
  std::error_code ec;
  if (fs::exists(into, ec)) evaluators::Cache::check_cache_file(into);  // never rebuild a file that is not a cache
  evaluators::Cache target(into);
  json report = json::array();
  std::size_t added = 0;
  for (const auto& f : inputs) {
    if (fs::exists(into, ec) && fs::equivalent(f, into, ec)) continue;
    const auto count = target.merge_from(f);
    added += count.added;
    report.push_back({{"from", f}, {"added", count.added}, {"present", count.present}});
    if (!as_json)
      std::cout << "merged " << f << ": " << count.added << " entries added, " << count.present << " already present\n";
  }
  if (as_json)
    std::cout << json{{"into", into.string()}, {"merged", report}, {"added", added}, {"entries", target.size()}}.dump(2) << "\n";
  else
    std::cout << into.string() << ": " << target.size() << " entries\n";
  return 0;
}

// --- export ---------------------------------------------------------------------------------

const std::vector<std::string> kMetricColumns = {"correct", "checked", "mismatches", "cycles", "cycles_model", "cells",
                                                 "transistors", "depth", "luts", "ffs", "dsps", "brams", "carries", "seconds"};

std::string csv_field(const json& v) {
  if (v.is_null()) return "";
  std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

// The largest search space whose designs are hashed to recover the parameters of entries that
// do not record them (written by an older chipgym): a few seconds of hashing.
constexpr double kMaxRecoverable = 200000;

int run_export(const std::string& task_name, const std::string& task_file, const std::string& dir, const std::string& format,
               const std::string& out_file) {
  const env::Task task = load_task(task_name, task_file);
  const hdl::Family& family = task.design_family();
  const fs::path file = cache_file(dir);
  evaluators::Cache::check_cache_file(file);
  auto cache = std::make_shared<evaluators::Cache>(file);
  const std::string task_workload = evaluators::sha256_hex(task.workload.dump());

  struct Row {
    std::string key;
    json params, metrics, options;
    bool task_workload = false, recovered = false;
  };
  std::vector<Row> rows;
  std::map<std::string, json> unrecorded;  // key -> metrics, entries without a design record
  cache->for_each("eval", [&](const std::string& key, const std::string& value) {
    json v;
    try {
      v = json::parse(value);
    } catch (const json::exception&) {
      return;  // unreadable: a miss for the pipeline too
    }
    if (!v.contains("design") || !v["design"].is_object()) {
      unrecorded[key] = std::move(v);
      return;
    }
    const json& d = v["design"];
    if (d.value("family", std::string()) != family.name()) return;
    Row r{key, d.value("params", json::object()), v, d.value("options", json::object())};
    r.task_workload = d.value("workload_sha256", std::string()) == task_workload;
    rows.push_back(std::move(r));
  });

  // Entries without a design record: recovered by hashing every design of the task's search
  // space at each fidelity (the task's workload and options, this machine's tool versions).
  std::size_t recovered = 0;
  std::string recovery_note;
  if (!unrecorded.empty()) {
    const env::Env prototype(task, {}, nullptr);
    const json nvec = prototype.design_space().to_json().value("nvec", json::array());
    double points = 1;
    for (const auto& n : nvec) points *= n.get<double>();
    if (nvec.empty() || points > kMaxRecoverable) {
      recovery_note = "the search space of " + task.name + " is too large to hash every design";
    } else {
      evaluators::Pipeline hasher(nullptr);
      std::vector<env::Env> envs;
      for (const std::string& f : fidelities()) {
        env::EnvConfig config;
        config.fidelity = f;
        envs.emplace_back(task, config, nullptr);
      }
      std::vector<long long> indices(nvec.size(), 0);
      for (bool more = true; more && !unrecorded.empty();) {
        for (const auto& e : envs) {
          evaluators::EvalJob job = e.job(indices);
          // The verification of a best at rtl has iCE40 on as well.
          for (bool fpga : {job.options.fpga, true}) {
            job.options.fpga = fpga;
            const hdl::Params params = family.space().from_json(job.params, false);
            const std::string key = hasher.design_key(family, params, job.workload, job.options);
            if (auto it = unrecorded.find(key); it != unrecorded.end()) {
              rows.push_back({key, job.params, it->second, job.options.stage_options(), true, true});
              unrecorded.erase(it);
              ++recovered;
            }
          }
        }
        std::size_t k = 0;
        for (; k < indices.size(); ++k) {
          if (++indices[k] < nvec[k].get<long long>()) break;
          indices[k] = 0;
        }
        more = k < indices.size();
      }
    }
  }

  std::ofstream file_out;
  if (!out_file.empty()) {
    file_out.open(out_file);
    if (!file_out) throw hdl::ParamError("cannot write " + out_file);
  }
  std::ostream& out = out_file.empty() ? std::cout : file_out;
  std::vector<std::string> param_names;
  for (const auto& p : family.space().params()) param_names.push_back(p.name);
  auto reward_of = [&](const Row& r) -> json {
    if (!r.task_workload) return nullptr;  // another workload: the task's objective does not apply
    const double reward = task.reward(evaluators::Metrics::from_json(r.metrics));
    return std::isfinite(reward) ? json(reward) : json(nullptr);
  };
  if (format == "csv") {
    out << "key,family,fidelity,workload,recovered";
    for (const auto& n : param_names) out << "," << n;
    out << ",reward";
    for (const auto& m : kMetricColumns) out << "," << m;
    out << ",error_category,error_message\n";
  }
  for (const auto& r : rows) {
    const json error = r.metrics.value("error", json());
    if (format == "csv") {
      out << r.key << "," << family.name() << "," << csv_field(r.metrics.value("fidelity", json())) << ","
          << (r.task_workload ? "task" : "other") << "," << (r.recovered ? "true" : "false");
      for (const auto& n : param_names) out << "," << csv_field(r.params.value(n, json()));
      out << "," << csv_field(reward_of(r));
      for (const auto& m : kMetricColumns) out << "," << csv_field(r.metrics.value(m, json()));
      out << "," << csv_field(error.is_object() ? error.value("category", json()) : json()) << ","
          << csv_field(error.is_object() ? error.value("message", json()) : json()) << "\n";
    } else {
      json metrics = json::object();
      for (const auto& m : kMetricColumns) metrics[m] = r.metrics.value(m, json());
      out << json{{"key", r.key},
                  {"family", family.name()},
                  {"fidelity", r.metrics.value("fidelity", json())},
                  {"options", r.options},
                  {"workload", r.task_workload ? "task" : "other"},
                  {"recovered", r.recovered},
                  {"params", r.params},
                  {"reward", reward_of(r)},
                  {"metrics", metrics},
                  {"error", error}}
                 .dump()
          << "\n";
    }
  }
  std::cerr << "cache export: " << rows.size() << " evaluated design(s) of family " << family.name() << " from " << file.string();
  if (recovered) std::cerr << " (" << recovered << " without a recorded design, recovered from " << task.name << "'s search space)";
  std::cerr << "\n";
  if (!unrecorded.empty())
    std::cerr << "note: " << unrecorded.size()
              << " eval-level entr" << (unrecorded.size() == 1 ? "y" : "ies")
              << " record no design (written before the cache kept parameters) and match no design of " << task.name
              << "'s search space at its workload and these tool versions"
              << (recovery_note.empty() ? "" : " (" + recovery_note + ")")
              << ": they belong to other tasks, workloads or options, and are not exported\n";
  return 0;
}

std::function<int()> setup(CLI::App& cmd) {
  cmd.require_subcommand(1);
  struct Options {
    std::string dir, into, task, task_file, format = "csv", out;
    std::vector<std::string> inputs;
    bool as_json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* stats = cmd.add_subcommand("stats", "entries per stage, size and file of the evaluation cache");
  stats->add_option("--cache-dir", o->dir, "cache directory (default: as for eval)");
  stats->add_flag("--json", o->as_json, "print as JSON");
  CLI::App* merge = cmd.add_subcommand(
      "merge", "union of caches from separate runs or machines (keys are content hashes): the others into the first, or --into C");
  merge->add_option("caches", o->inputs, "cache files (cache.sqlite)")->required();
  merge->add_option("--into", o->into, "the cache to merge into (created if missing) instead of the first");
  merge->add_flag("--json", o->as_json, "print as JSON");
  CLI::App* exp = cmd.add_subcommand(
      "export", "every evaluated design of a task's family with its parameters and metrics, as CSV or JSON lines");
  exp->add_option("--task", o->task, "benchmark task (see `chipgym tasks`)");
  exp->add_option("--task-file", o->task_file, "a task as JSON instead of --task");
  exp->add_option("--format", o->format, "csv or jsonl")->check(CLI::IsMember({"csv", "jsonl"}))->capture_default_str();
  exp->add_option("--out", o->out, "write to this file (default: standard output)");
  exp->add_option("--cache-dir", o->dir, "cache directory (default: as for eval)");
  return [o, stats, merge, exp]() -> int {
    if (stats->parsed()) return run_stats(o->dir, o->as_json);
    if (merge->parsed()) return run_merge(o->inputs, o->into, o->as_json);
    if (exp->parsed()) {
      if (o->task.empty() && o->task_file.empty()) throw hdl::ParamError("cache export needs --task T (or --task-file)");
      return run_export(o->task, o->task_file, o->dir, o->format, o->out);
    }
    return kBadInput;
  };
}

const CommandRegistration registered{{"cache", "the evaluation cache: stats, merge caches (a union), export a task's dataset", setup}};

}  // namespace

}  // namespace chipgym::cli
