// The MPI pool and session (see mpi_pool.h). One dispatcher thread on rank 0 makes every MPI
// call after the handshake (MPI_THREAD_SERIALIZED is enough); workers are single-threaded.
#include "evaluators/mpi_pool.h"

#include <mpi.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include "hdl/family.h"

namespace chipgym::evaluators::mpi {

namespace {

constexpr const char* kChipgymVersion = "chipgym 0.1.0";
enum Tag : int { kHello = 1, kGo = 2, kJob = 3, kResult = 4, kStop = 5 };
constexpr std::chrono::microseconds kMinIdleSleep{50};

Session* g_current = nullptr;

void send(const std::string& text, int dest, int tag) {
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD);
}

struct Message {
  int source = -1, tag = -1;
  std::string text;
};

// A message matching (source, tag) if one has arrived; never blocks.
std::optional<Message> try_receive(int source, int tag) {
  int flag = 0;
  MPI_Message handle;
  MPI_Status status;
  MPI_Improbe(source, tag, MPI_COMM_WORLD, &flag, &handle, &status);
  if (!flag) return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  Message m{status.MPI_SOURCE, status.MPI_TAG, std::string(static_cast<std::size_t>(count), '\0')};
  MPI_Mrecv(m.text.data(), count, MPI_CHAR, &handle, MPI_STATUS_IGNORE);
  return m;
}

// How long to sleep between probes: a blocking MPI_Recv busy-polls a core (61% measured here),
// so a waiting rank probes and sleeps. Shortly after a message more tend to follow (the next
// job of a batch, fast evaluations): the first kEager after activity it sleeps kMinIdleSleep,
// then the sleep doubles up to `max`.
class Backoff {
 public:
  explicit Backoff(std::chrono::microseconds max) : max_(max) {}
  void activity() {
    last_ = std::chrono::steady_clock::now();
    sleep_ = kMinIdleSleep;
  }
  void sleep() {
    std::this_thread::sleep_for(sleep_);
    if (std::chrono::steady_clock::now() - last_ > kEager) sleep_ = std::min(sleep_ * 2, max_);
  }

 private:
  static constexpr std::chrono::milliseconds kEager{20};
  std::chrono::microseconds max_, sleep_ = kMinIdleSleep;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Waits for a message without spinning (Backoff).
Message wait_message(int source, int tag, Backoff& backoff) {
  for (;;) {
    if (auto m = try_receive(source, tag)) {
      backoff.activity();
      return *m;
    }
    backoff.sleep();
  }
}
Message wait_message(int source, int tag) {
  Backoff backoff(kMaxIdleSleep);
  return wait_message(source, tag, backoff);
}

bool is_timeout(const Metrics& m) {
  return m.error && (m.error->category == "sim_timeout" || m.error->category == "synth_timeout" ||
                     m.error->category == "tool_timeout");
}

class MpiPool final : public EvalPool {
 public:
  MpiPool(std::shared_ptr<Pipeline> pipeline, int size, std::vector<std::string> hosts)
      : pipeline_(std::move(pipeline)),
        size_(size),
        hosts_(std::move(hosts)),
        running_(static_cast<std::size_t>(size)),
        evaluated_(static_cast<std::size_t>(size)) {
    dispatcher_ = std::thread([this] { dispatch(); });
  }
  ~MpiPool() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    dispatcher_.join();
  }

  std::vector<Metrics> evaluate(const std::vector<EvalJob>& jobs) override {
    std::vector<Metrics> out(jobs.size());
    std::vector<std::pair<std::size_t, std::future<Metrics>>> waiting;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      auto task = std::make_shared<Task>();
      task->job = jobs[i];
      task->family = hdl::family_for(task->job.family, task->job.workload);
      const hdl::Family& family = *task->family;
      try {
        task->params = family.space().from_json(task->job.params, false);
      } catch (const std::exception& e) {
        out[i].fidelity = task->job.options.fidelity;
        out[i].error = ErrorInfo{"input", e.what()};
        continue;
      }
      // Hits and input errors here, where the cache is; a VCD, which does not travel, too.
      if (auto answer = pipeline_->answer_without_tools(family, task->params, task->job.workload, task->job.options)) {
        out[i] = *answer;
        continue;
      }
      if (task->job.options.vcd) {
        out[i] = pipeline_->evaluate(family, task->params, task->job.workload, task->job.options);
        continue;
      }
      task->message = to_json(task->job).dump();
      waiting.emplace_back(i, task->done.get_future());
      std::lock_guard lock(mu_);
      pending_.push_back(std::move(task));
    }
    cv_.notify_all();
    for (auto& [i, future] : waiting) out[i] = future.get();
    return out;
  }

  json launch() const override { return {{"mpi", true}, {"ranks", size_}, {"hosts", unique_hosts()}}; }

  std::string usage() const override {
    std::lock_guard lock(mu_);
    long long total = 0;
    for (long long n : evaluated_) total += n;
    if (total == 0 && retried_ == 0) return "";
    std::string line = "MPI: designs evaluated per worker rank:";
    for (int r = 1; r < size_; ++r)
      line += std::string(r > 1 ? "," : "") + " rank " + std::to_string(r) + " (" + host(r) + ") " +
              std::to_string(evaluated_[static_cast<std::size_t>(r)]);
    if (retried_) line += "; " + std::to_string(retried_) + " timed out and ran again on another rank";
    return line;
  }

 private:
  struct Task {
    EvalJob job;
    std::shared_ptr<const hdl::Family> family;
    hdl::Params params;
    std::string message;
    std::promise<Metrics> done;
    int attempts = 0;
    int avoid = -1;  // the rank where it timed out
  };

  json unique_hosts() const {
    json out = json::array();
    for (const auto& h : hosts_)
      if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
    return out;
  }

  // An idle worker for `task`, not the one where it timed out while another exists; -1: none.
  int idle_worker(const Task& task) const {
    for (int r = 1; r < size_; ++r)
      if (!running_[static_cast<std::size_t>(r)] && (r != task.avoid || size_ == 2)) return r;
    return -1;
  }

  void dispatch() {
    Backoff backoff(std::chrono::milliseconds(1));
    for (;;) {
      std::vector<std::pair<int, std::shared_ptr<Task>>> sends;
      {
        std::unique_lock lock(mu_);
        const bool busy = std::any_of(running_.begin(), running_.end(), [](const auto& t) { return t != nullptr; });
        if (pending_.empty() && !busy) {
          if (stopping_) return;
          cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
          continue;
        }
        // First come, first served, to the lowest idle rank.
        for (auto it = pending_.begin(); it != pending_.end();) {
          const int r = idle_worker(**it);
          if (r < 0) {
            ++it;
            continue;
          }
          running_[static_cast<std::size_t>(r)] = *it;
          sends.emplace_back(r, *it);
          it = pending_.erase(it);
        }
      }
      for (const auto& [r, task] : sends) send(task->message, r, kJob);
      bool received = false;
      while (auto m = try_receive(MPI_ANY_SOURCE, kResult)) {
        received = true;
        finish(*m);
      }
      if (received || !sends.empty()) backoff.activity();
      else backoff.sleep();
    }
  }

  void finish(const Message& m) {
    std::shared_ptr<Task> task;
    {
      std::lock_guard lock(mu_);
      task = std::move(running_[static_cast<std::size_t>(m.source)]);
      running_[static_cast<std::size_t>(m.source)] = nullptr;
    }
    if (!task) return;  // cannot happen: one job per worker at a time
    Metrics metrics;
    try {
      metrics = Metrics::from_json(json::parse(m.text).at("metrics"));
    } catch (const std::exception& e) {
      metrics.fidelity = task->job.options.fidelity;
      metrics.error = ErrorInfo{"environment", "rank " + std::to_string(m.source) + " on host " + host(m.source) +
                                                   " sent a result that cannot be read: " + e.what()};
    }
    {
      std::lock_guard lock(mu_);
      ++evaluated_[static_cast<std::size_t>(m.source)];
    }
    // A timeout says nothing about the design (a loaded node): once more, on another rank.
    if (is_timeout(metrics) && task->attempts == 0 && size_ > 2) {
      task->attempts = 1;
      task->avoid = m.source;
      std::lock_guard lock(mu_);
      ++retried_;
      pending_.push_front(std::move(task));
      return;
    }
    if (is_timeout(metrics))
      metrics.error->message += " (on MPI rank " + std::to_string(m.source) + ", host " + host(m.source) + ")";
    if (task->attempts > 0 && metrics.error)
      metrics.error->message += " (also on a second rank, after a timeout on rank " + std::to_string(task->avoid) + ", host " +
                                host(task->avoid) + ")";
    pipeline_->keep(*task->family, task->params, task->job.workload, task->job.options, metrics);
    task->done.set_value(std::move(metrics));
  }

  std::string host(int rank) const {
    return rank >= 0 && static_cast<std::size_t>(rank) < hosts_.size() ? hosts_[static_cast<std::size_t>(rank)] : "?";
  }

  std::shared_ptr<Pipeline> pipeline_;
  int size_;
  std::vector<std::string> hosts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Task>> pending_;
  std::vector<std::shared_ptr<Task>> running_;  // by rank; null: idle (rank 0 is never a worker)
  std::vector<long long> evaluated_;            // results received, by rank
  long long retried_ = 0;                       // jobs sent again after a timeout
  bool stopping_ = false;
  std::thread dispatcher_;
};

}  // namespace

bool launched() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

std::string version_line(const Toolchain& tools) {
  const char* test_version = std::getenv("CHIPGYM_TEST_CHIPGYM_VERSION");  // the test hook of mpi_pool.h
  return "chipgym " + std::string(test_version ? test_version : kChipgymVersion) + " | " + tools.versions();
}

Session* Session::current() { return g_current; }

Session::Session(int& argc, char**& argv) {
  if (!launched()) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  active_ = true;
  g_current = this;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (size_ > 1 && provided < MPI_THREAD_SERIALIZED) {
    if (rank_ == 0)
      refused_ = "this MPI library does not allow calls from a second thread (MPI_THREAD_SERIALIZED), which rank 0's "
                 "dispatcher needs";
    if (rank_ == 0) std::cerr << "error: " << *refused_ << "\n";
    return;
  }
  handshake();
}

void Session::handshake() {
  hosts_.assign(static_cast<std::size_t>(size_), "?");
  hosts_[static_cast<std::size_t>(rank_)] = host_name();
  pids_.assign(static_cast<std::size_t>(size_), 0);
  pids_[static_cast<std::size_t>(rank_)] = static_cast<long long>(::getpid());
  const std::string mine = version_line(Toolchain::from_env());
  if (size_ == 1) return;
  if (rank_ > 0) {
    send(json{{"host", hosts_[static_cast<std::size_t>(rank_)]}, {"versions", mine}, {"pid", ::getpid()}}.dump(), 0, kHello);
    const json go = json::parse(wait_message(0, kGo).text);
    hosts_ = go.at("hosts").get<std::vector<std::string>>();
    if (!go.at("ok").get<bool>()) refused_ = go.value("why", std::string("refused by rank 0"));
    return;
  }
  std::string why;
  for (int n = 1; n < size_; ++n) {
    const Message m = wait_message(MPI_ANY_SOURCE, kHello);
    const json hello = json::parse(m.text);
    const std::string host = hello.value("host", std::string("?")), theirs = hello.value("versions", std::string());
    hosts_[static_cast<std::size_t>(m.source)] = host;
    pids_[static_cast<std::size_t>(m.source)] = hello.value("pid", 0LL);
    std::string problem;
    if (theirs.find("missing") != std::string::npos)
      problem = "a tool is missing there (" + theirs + "): install Yosys and Verilator on that node, or set CHIPGYM_YOSYS "
                "and CHIPGYM_VERILATOR";
    else if (theirs.find("unknown") != std::string::npos)
      problem = "a tool there does not say its version (" + theirs + ")";
    else if (theirs != mine)
      problem = "it has " + theirs + ", rank 0 has " + mine + ": the cache keys would differ; install the same chipgym, "
                "Yosys and Verilator on every node";
    if (!problem.empty())
      why += (why.empty() ? "" : "\n") + std::string("MPI rank ") + std::to_string(m.source) + " on host " + host +
             " cannot evaluate for rank 0: " + problem;
  }
  for (int r = 1; r < size_; ++r) send(json{{"ok", why.empty()}, {"why", why}, {"hosts", hosts_}}.dump(), r, kGo);
  if (!why.empty()) {
    refused_ = why;
    std::cerr << "error: " << why << "\n";
  }
}

int Session::serve() {
  if (refused_) return 2;  // rank 0 said why
  Pipeline pipeline(nullptr);  // never the cache: rank 0 owns it
  const char* hook = std::getenv("CHIPGYM_TEST_TIMEOUT_ON_RANK");
  const bool timeout_hook = hook && std::to_string(rank_) == hook;
  Backoff backoff(kMaxIdleSleep);
  for (;;) {
    const Message m = wait_message(0, MPI_ANY_TAG, backoff);
    if (m.tag == kStop) return 0;
    if (m.tag != kJob) continue;
    Metrics metrics;
    try {
      if (timeout_hook) {
        metrics.fidelity = job_from_json(json::parse(m.text)).options.fidelity;
        metrics.error = ErrorInfo{"tool_timeout", "test hook CHIPGYM_TEST_TIMEOUT_ON_RANK: not evaluated"};
      } else {
        metrics = evaluate_job(pipeline, job_from_json(json::parse(m.text)));
      }
    } catch (const std::exception& e) {
      metrics.error = ErrorInfo{"environment", "MPI rank " + std::to_string(rank_) + " on host " + host_name() +
                                                   " could not evaluate: " + e.what()};
    }
    send(json{{"metrics", metrics.to_json()}}.dump(), 0, kResult);
    backoff.activity();
  }
}

std::shared_ptr<EvalPool> Session::pool(std::shared_ptr<Pipeline> pipeline) {
  if (!active_ || rank_ != 0 || size_ < 2 || refused_) return nullptr;
  if (!pool_) pool_ = std::make_shared<MpiPool>(std::move(pipeline), size_, hosts_);
  return pool_;
}

Session::~Session() {
  if (!active_) return;
  pool_.reset();  // joins the dispatcher: no evaluation is in flight after this
  if (rank_ == 0 && size_ > 1 && !refused_)
    for (int r = 1; r < size_; ++r) send("", r, kStop);
  MPI_Finalize();
  if (g_current == this) g_current = nullptr;
}

}  // namespace chipgym::evaluators::mpi
