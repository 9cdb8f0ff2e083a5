#include "env/problem_set.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "hdl/param_space.h"

namespace chipgym::env {

namespace fs = std::filesystem;
using hdl::ParamError;

double pass_at_k(int n, int c, int k) {
  if (k < 1 || k > n) throw ParamError("pass@" + std::to_string(k) + " needs at least " + std::to_string(k) + " samples");
  if (n - c < k) return 1.0;
  // 1 - prod_{i=n-c+1}^{n} (1 - k / i), the numerically stable form of 1 - C(n-c, k) / C(n, k)
  double fail = 1.0;
  for (int i = n - c + 1; i <= n; ++i) fail *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - fail;
}

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ParamError("cannot read " + p.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string csv_field(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out + "\"";
}

}  // namespace

ProblemSetResult score_problem_set(const fs::path& problems, const fs::path& samples, const ProblemSetOptions& o,
                                   const std::function<void(const SampleResult&)>& progress) {
  std::error_code ec;
  if (!fs::is_directory(problems, ec)) throw ParamError("--problems " + problems.string() + " is not a folder");
  if (!fs::is_directory(samples, ec)) throw ParamError("--samples " + samples.string() + " is not a folder");
  for (int k : o.k)
    if (k < 1) throw ParamError("--k values must be >= 1");
  std::vector<std::string> names;
  for (const auto& d : fs::directory_iterator(problems))
    if (d.is_directory() && (fs::exists(d.path() / "ref.v") || fs::exists(d.path() / "vectors.json")))
      names.push_back(d.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.empty())
    throw ParamError("--problems " + problems.string() + " holds no problem (a folder with ref.v or vectors.json)");

  ProblemSetResult result;
  struct Job {
    std::string problem;
    fs::path file;
  };
  std::vector<Job> jobs;
  for (const auto& name : names) {
    std::vector<fs::path> files;
    if (fs::is_directory(samples / name, ec))
      for (const auto& f : fs::directory_iterator(samples / name))
        if (f.is_regular_file() && f.path().extension() == ".v") files.push_back(f.path());
    std::sort(files.begin(), files.end());
    result.problems[name] = {{"n", files.size()}, {"c", 0}, {"missing", files.empty()}};
    for (const auto& f : files) jobs.push_back({name, f});
  }
  result.samples.resize(jobs.size());
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  auto work = [&] {
    for (std::size_t i; (i = next++) < jobs.size();) {
      const Job& job = jobs[i];
      SampleResult s;
      s.problem = job.problem;
      s.sample = job.file.filename().string();
      try {
        const fs::path dir = problems / job.problem;
        const std::string candidate = read_text(job.file);
        ScoreReport r;
        if (fs::exists(dir / "ref.v")) {
          r = score_against_reference(read_text(dir / "ref.v"), candidate, "", o.score);
        } else {
          const json vectors = json::parse(read_text(dir / "vectors.json"));
          r = score_ports(candidate, port_vectors_from_json(vectors, port_spec_from_json(vectors)), o.score);
        }
        s.verdict = r.verdict;
        s.stage = r.stage;
        s.category = r.category;
        s.message = r.message;
        s.cache_hit = r.stages.value("cache_hit", false);
      } catch (const std::exception& e) {  // a problem whose own files are broken
        s.verdict = "bad_input";
        s.stage = "problem";
        s.category = "input";
        s.message = e.what();
      }
      std::lock_guard<std::mutex> lock(mu);
      result.samples[i] = s;
      if (progress) progress(s);
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < std::max(1, std::min<int>(o.workers, static_cast<int>(jobs.size()))); ++w) pool.emplace_back(work);
  for (auto& t : pool) t.join();

  for (const auto& s : result.samples) {
    if (s.verdict == "pass") result.problems[s.problem]["c"] = result.problems[s.problem]["c"].get<int>() + 1;
    else result.failures[s.stage + "/" + s.category] = result.failures.value(s.stage + "/" + s.category, 0) + 1;
  }
  for (int k : o.k) {
    double sum = 0;
    int counted = 0;
    for (auto& [name, p] : result.problems.items()) {
      const int n = p["n"], c = p["c"];
      if (n < k) continue;
      const double v = pass_at_k(n, c, k);
      p["pass_at_k"][std::to_string(k)] = v;
      sum += v;
      ++counted;
    }
    result.pass_at_k[std::to_string(k)] = {{"value", counted ? json(sum / counted) : json(nullptr)}, {"problems", counted}};
  }
  return result;
}

json ProblemSetResult::to_json() const {
  json s = json::array();
  for (const auto& r : samples)
    s.push_back({{"problem", r.problem}, {"sample", r.sample}, {"verdict", r.verdict}, {"stage", r.stage},
                 {"category", r.category}, {"message", r.message}, {"cache_hit", r.cache_hit}});
  return {{"pass_at_k", pass_at_k}, {"problems", problems}, {"failures", failures}, {"samples", s}};
}

std::string ProblemSetResult::to_csv() const {
  std::string out = "problem,sample,verdict,stage,category,message\n";
  for (const auto& r : samples)
    out += csv_field(r.problem) + "," + csv_field(r.sample) + "," + r.verdict + "," + r.stage + "," + r.category + "," +
           csv_field(r.message) + "\n";
  return out;
}

}  // namespace chipgym::env
