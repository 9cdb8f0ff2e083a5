// Child processes for the EDA tools. See runner.h for the contract.
//
// The child leads its own process group so that a timeout, or the clean-up after a normal
// exit, can kill everything the tool started (kill(-pgid)), never anything by name.
#include "evaluators/runner.h"

#include "evaluators/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace chipgym::evaluators {

namespace {

using Clock = std::chrono::steady_clock;

// Which step of the child's set-up failed; sent to the parent with errno.
enum class ChildStep : int { Chdir = 1, Exec = 2 };
struct ChildFailure {
  int step;
  int err;
};

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A pipe whose both ends are close-on-exec, so that children forked concurrently by other
// threads never inherit them (an inherited write end would delay our EOF indefinitely).
void make_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
}

// All fds of one run, closed on every path out of run_process.
struct Fds {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
  ~Fds() {
    for (int* p : {in, out, err, status}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  }
};

// Writing to a pipe whose reader has exited raises SIGPIPE, whose default action would kill
// the whole parent. Block it in this thread for the duration of the run and swallow the
// ones we cause, without touching the process-wide disposition.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  // After a write failed with EPIPE: consume the SIGPIPE it left pending on this thread,
  // unless the caller had SIGPIPE blocked already (then it is theirs to handle).
  void swallow() {
    if (sigismember(&old_, SIGPIPE)) return;
    const timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) == SIGPIPE) {
    }
  }

 private:
  sigset_t set_, old_;
};

// setrlimit fails if we ask for more than the inherited hard limit; never ask for more.
void limit(int resource, rlim_t soft, rlim_t hard) {
  rlimit current{};
  if (::getrlimit(resource, &current) == 0 && current.rlim_max != RLIM_INFINITY) {
    soft = std::min(soft, current.rlim_max);
    hard = std::min(hard, current.rlim_max);
  }
  rlimit wanted{soft, hard};
  ::setrlimit(resource, &wanted);  // best effort: a failure leaves the inherited limit
}

// Runs in the forked child; only returns by exec or _exit.
// `envp`: the whole environment (a sandboxed run), or null to inherit ours plus env_extra.
[[noreturn]] void child_main(const Fds& fds, const RunRequest& req, char* const* argv, char* const* envp,
                             const SandboxIdentity* who, pid_t parent) {
  // Own process group, so the parent can kill the tool and all its descendants at once.
  ::setpgid(0, 0);
  // If the parent dies (crash, Ctrl-C) do not leave the tool running for minutes.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);

  // The parent's signal mask and ignored signals would survive exec; the tool should start
  // with defaults (e.g. SIGPIPE blocked above, or SIGINT ignored by a shell).
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);

  // dup2 clears close-on-exec on the copies, so only these three reach the tool.
  ::dup2(fds.in[0], STDIN_FILENO);
  ::dup2(fds.out[1], STDOUT_FILENO);
  ::dup2(fds.err[1], STDERR_FILENO);

  auto fail = [&](ChildStep step) {
    const ChildFailure failure{static_cast<int>(step), errno};
    [[maybe_unused]] auto n = ::write(fds.status[1], &failure, sizeof failure);
    ::_exit(127);
  };

  if (!req.cwd.empty() && ::chdir(req.cwd.c_str()) != 0) fail(ChildStep::Chdir);

  const RunLimits& lim = req.limits;
  if (lim.memory_bytes > 0) limit(RLIMIT_AS, lim.memory_bytes, lim.memory_bytes);
  if (lim.cpu_seconds > 0) {
    // SIGXCPU at the soft limit, SIGKILL one second later if the tool ignores it.
    const auto soft = static_cast<rlim_t>(std::ceil(lim.cpu_seconds));
    limit(RLIMIT_CPU, soft, soft + 1);
  }

  if (req.sandbox) {
    // A fork bomb stops at the process limit, a flood of output at max_file_bytes; no core
    // files. Root first becomes the sandbox user (evaluators/sandbox.h: SandboxIdentity).
    const rlim_t processes = static_cast<rlim_t>(who->max_processes);
    limit(RLIMIT_NPROC, processes, processes);
    limit(RLIMIT_FSIZE, req.sandbox->max_file_bytes, req.sandbox->max_file_bytes);
    limit(RLIMIT_CORE, 0, 0);
    if (who->drop && (::setgroups(0, nullptr) != 0 || ::setgid(who->gid) != 0 || ::setuid(who->uid) != 0))
      fail(ChildStep::Exec);
  }

  if (envp) {
    ::execvpe(argv[0], argv, envp);
    fail(ChildStep::Exec);
  }
  for (const auto& [name, value] : req.env_extra) ::setenv(name.c_str(), value.c_str(), 1);

  ::execvp(argv[0], argv);
  fail(ChildStep::Exec);
  ::_exit(127);  // not reached; fail() exits
}

// Appends what is readable on the non-blocking `fd` to `sink` (up to `cap` bytes; the rest
// is read and dropped so the child never blocks on a full pipe). Closes `fd` at end of file.
void drain(int& fd, std::string& sink, std::size_t cap, bool* truncated = nullptr) {
  char buf[65536];
  // Bounded, so that a tool writing as fast as we read cannot keep us from the timeout check.
  for (int reads = 0; reads < 16; ++reads) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const std::size_t keep = std::min<std::size_t>(n, cap - std::min(cap, sink.size()));
      sink.append(buf, keep);
      if (truncated && keep < static_cast<std::size_t>(n)) *truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    close_fd(fd);  // EOF or a real error: nothing more will come
    return;
  }
}

// "5", "0.5", "300": the wall time as a person would write it.
std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  std::string text = buf;
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) text.resize(text.size() - 2);
  return text;
}

// Whether `p` names a regular file we may execute.
bool is_executable_file(const std::filesystem::path& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// The first executable `name` in the ':'-separated directory list `path`.
std::optional<std::filesystem::path> search_path(const std::string& name, const std::string& path) {
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = path.find(':', begin);
    const std::string dir = path.substr(begin, end == std::string::npos ? end : end - begin);
    // An empty entry means the current directory (POSIX).
    const std::filesystem::path candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (end == std::string::npos) return std::nullopt;
    begin = end + 1;
  }
}

// The PATH execvp used: the child's, which env_extra may have replaced. The same default
// as execvp when PATH is unset.
std::string child_path(const RunRequest& req) {
  if (auto it = req.env_extra.find("PATH"); it != req.env_extra.end()) return it->second;
  const char* env = std::getenv("PATH");
  return env ? env : "/bin:/usr/bin";
}

}  // namespace

std::string RunResult::describe(const std::string& tool) const {
  switch (status) {
    case RunStatus::Exited:
      return tool + " exited with code " + std::to_string(exit_code);
    case RunStatus::Signaled: {
      const char* what = ::sigdescr_np(signal);  // thread-safe, unlike strsignal
      return tool + " was killed by signal " + std::to_string(signal) +
             (what ? std::string(" (") + what + ")" : std::string());
    }
    case RunStatus::TimedOut:
      return tool + " timed out after " + format_seconds(seconds) + " s";
    case RunStatus::NoSandbox:
      return tool + " was not run: " + exec_error;
    case RunStatus::NotFound:
      if (exec_error == std::generic_category().message(ENOENT))
        return tool + " not found on PATH (" + exec_error + ")";
      return tool + " could not be executed (" + exec_error + ")";
  }
  return tool + " ended in an unknown state";
}

namespace {

std::string format_bytes(std::size_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0) std::snprintf(buf, sizeof buf, "%zu GiB", bytes >> 30);
  else if (bytes >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  else std::snprintf(buf, sizeof buf, "%zu MiB", bytes >> 20);
  return buf;
}

}  // namespace

bool RunResult::out_of_memory() const {
  if (status == RunStatus::TimedOut || status == RunStatus::NoSandbox || status == RunStatus::NotFound) return false;
  if (ok()) return false;
  const std::string text = err + "\n" + out;
  // RLIMIT_AS makes allocations fail: C++ tools throw bad_alloc (abort), perl and C ones say so.
  for (const char* words : {"bad_alloc", "Out of memory", "out of memory", "Cannot allocate memory", "memory exhausted"})
    if (text.find(words) != std::string::npos) return true;
  return false;
}

std::string RunResult::explain(const std::string& tool, const RunLimits& limits) const {
  if (out_of_memory() && limits.memory_bytes > 0)
    return tool + " ran out of memory (limit " + format_bytes(limits.memory_bytes) + ")";
  if (status == RunStatus::Signaled && (signal == SIGXCPU || (signal == SIGKILL && limits.cpu_seconds > 0 &&
                                                               seconds < limits.wall_seconds)))
    return tool + " used up its CPU time (limit " + format_seconds(limits.cpu_seconds) + " s)";
  if (status == RunStatus::TimedOut)
    return tool + " ran past its time limit (" + format_seconds(limits.wall_seconds) + " s wall clock) and was stopped";
  return describe(tool);
}

RunResult run_process(const RunRequest& req) {
  RunResult result;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  if (req.argv.empty() || req.argv[0].empty()) {
    result.status = RunStatus::NotFound;
    result.exec_error = "empty command line";
    return result;
  }
  // Everything the child needs is prepared here: between fork and exec it should do as
  // little as possible (other threads may hold locks that the child would inherit).
  std::vector<std::string> command = req.argv;
  std::vector<std::string> environment;
  SandboxIdentity who;
  if (req.sandbox) {
    if (!unsandboxed_allowed()) {
      if (auto problem = sandbox_problem()) {
        result.status = RunStatus::NoSandbox;
        result.exec_error = *problem;
        return result;
      }
      command = sandbox_command(req, bwrap_executable());
    }
    environment = sandbox_environment(req);
    who = sandbox_identity(req);
    if (!unsandboxed_allowed()) hand_over_paths(req, who);
    else who.drop = false;  // --unsafe-no-sandbox: as we are
  }
  std::vector<char*> argv;
  for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  Fds fds;
  make_pipe(fds.in);
  make_pipe(fds.out);
  make_pipe(fds.err);
  make_pipe(fds.status);
  SigpipeBlock sigpipe;  // before fork, so the child also starts with it blocked (and resets it)

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) child_main(fds, req, argv.data(), req.sandbox ? envp.data() : nullptr, &who, parent);

  // Also set the group from the parent: whichever runs first wins, so by the time we could
  // kill(-pid) the group exists. EACCES (the child already exec'd) is harmless.
  ::setpgid(pid, pid);
  close_fd(fds.in[0]);
  close_fd(fds.out[1]);
  close_fd(fds.err[1]);
  close_fd(fds.status[1]);

  // The status pipe reaches EOF at a successful exec (close-on-exec) or carries the errno
  // of the failed step. The child does nothing before exec that could block, so this read
  // is short.
  ChildFailure failure{};
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(sizeof failure)) {
    const ssize_t n = ::read(fds.status[0], reinterpret_cast<char*>(&failure) + got,
                             sizeof failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += n;
  }
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = RunStatus::NotFound;
    // execvp reports EACCES if some PATH directory could not be searched, even when the
    // tool is in none of them; "not found" is then the message a person can act on.
    if (failure.step == static_cast<int>(ChildStep::Exec) && failure.err == EACCES &&
        req.argv[0].find('/') == std::string::npos && !search_path(req.argv[0], child_path(req)))
      failure.err = ENOENT;
    const std::string reason = std::generic_category().message(failure.err);
    result.exec_error = failure.step == static_cast<int>(ChildStep::Chdir)
                            ? "cannot enter working directory " + req.cwd.string() + ": " + reason
                            : reason;
    result.seconds = elapsed();
    return result;
  }

  // Our ends never block: a tool that writes a lot before reading its stdin (or the other
  // way round) would otherwise deadlock against us. The tool's ends stay blocking.
  for (int fd : {fds.in[1], fds.out[0], fds.err[0]})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string_view pending;
  if (req.stdin_text && !req.stdin_text->empty()) {
    pending = *req.stdin_text;
  } else {
    close_fd(fds.in[1]);
  }

  const double wall = req.limits.wall_seconds;
  const auto deadline = wall > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(wall))
                                 : Clock::time_point::max();
  // After the tool exits, stray descendants are killed, which closes the pipes. One that
  // escaped the group (setsid) could hold them open; stop reading after this grace.
  constexpr auto kGrace = std::chrono::seconds(2);
  // While the output pipes are open we learn about the tool's exit only by checking, so
  // poll() wakes up at least this often; with the pipes closed, back off from 1 ms.
  constexpr int kMaxSleepMs = 50;
  int idle_sleep_ms = 1;

  const std::size_t cap = req.limits.output_bytes;
  bool leader_exited = false;
  bool timed_out = false;
  Clock::time_point grace_end{};

  for (;;) {
    const auto now = Clock::now();
    if (!leader_exited && now >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);  // the leader is not reaped yet, so the group id is still ours
      break;
    }
    const bool outputs_open = fds.out[0] >= 0 || fds.err[0] >= 0;
    if (leader_exited && (!outputs_open || now >= grace_end)) break;

    pollfd pfds[3];
    nfds_t n = 0;
    int* owners[3];
    if (fds.in[1] >= 0) owners[n] = &fds.in[1], pfds[n++] = {fds.in[1], POLLOUT, 0};
    if (fds.out[0] >= 0) owners[n] = &fds.out[0], pfds[n++] = {fds.out[0], POLLIN, 0};
    if (fds.err[0] >= 0) owners[n] = &fds.err[0], pfds[n++] = {fds.err[0], POLLIN, 0};

    const auto until = leader_exited ? grace_end : deadline;
    auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    if (!leader_exited) {
      const int cap_ms = outputs_open ? kMaxSleepMs : idle_sleep_ms;
      wait_ms = std::min<long long>(wait_ms, cap_ms);
      if (!outputs_open) idle_sleep_ms = std::min(idle_sleep_ms * 2, kMaxSleepMs);
    }
    const int ready = ::poll(pfds, n, static_cast<int>(std::max<long long>(wait_ms, 0)));
    if (ready < 0 && errno != EINTR) break;  // cannot happen with valid fds; do not spin

    for (nfds_t i = 0; ready > 0 && i < n; ++i) {
      if (pfds[i].revents == 0) continue;
      int& fd = *owners[i];
      if (&fd == &fds.in[1]) {
        if (pfds[i].revents & (POLLERR | POLLHUP)) {
          close_fd(fd);  // the tool closed its stdin; the rest of the text is unwanted
          continue;
        }
        const ssize_t w = ::write(fd, pending.data(), pending.size());
        if (w > 0) pending.remove_prefix(static_cast<std::size_t>(w));
        if (w < 0 && errno == EPIPE) sigpipe.swallow();
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || pending.empty()) close_fd(fd);
      } else {
        const bool is_out = &fd == &fds.out[0];
        drain(fd, is_out ? result.out : result.err, cap, is_out ? &result.out_truncated : nullptr);
      }
    }

    if (!leader_exited) {
      // WNOWAIT leaves the leader a zombie: its pid, and so the group id, cannot be reused
      // while we kill the stray members of the group below.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        leader_exited = true;
        ::kill(-pid, SIGKILL);  // ESRCH (no one left) is the normal case and fine
        close_fd(fds.in[1]);
        grace_end = Clock::now() + kGrace;
      }
    }
  }

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.seconds = elapsed();
  if (timed_out) {
    result.status = RunStatus::TimedOut;
  } else if (WIFEXITED(status)) {
    result.status = RunStatus::Exited;
    result.exit_code = WEXITSTATUS(status);
    // bubblewrap exits with 128 + the signal that killed the tool inside.
    if (req.sandbox && !unsandboxed_allowed() && result.exit_code > 128 && result.exit_code < 128 + NSIG) {
      result.status = RunStatus::Signaled;
      result.signal = result.exit_code - 128;
    }
  } else if (WIFSIGNALED(status)) {
    result.status = RunStatus::Signaled;
    result.signal = WTERMSIG(status);
  }
  return result;
}

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  const std::filesystem::path base = (tmp && *tmp) ? tmp : "/tmp";
  std::string pattern = (base / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::system_error(errno, std::generic_category(),
                            "cannot create a temporary directory in " + base.string());
  path_ = pattern;
}

TempDir::~TempDir() {
  if (keep_ || path_.empty()) return;
  try {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (!ec) return;
    // A tool may leave read-only directories behind; make them writable and try again.
    namespace fs = std::filesystem;
    for (fs::recursive_directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ignored;
      if (it->is_directory(ignored))
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ignored);
    }
    fs::remove_all(path_, ec);
  } catch (...) {
    // A destructor must not throw (e.g. bad_alloc while walking); the directory stays.
  }
}

std::optional<std::filesystem::path> find_executable(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name)) return std::filesystem::path(name);
    return std::nullopt;
  }
  const char* env = std::getenv("PATH");
  return search_path(name, env ? env : "/bin:/usr/bin");  // execvp's default when unset
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace chipgym::evaluators
