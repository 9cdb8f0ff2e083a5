#include "evaluators/sandbox.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

namespace chipgym::evaluators {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_unsandboxed{false};
thread_local bool t_probing = false;  // inside sandbox_problem's own probe run

// As root, each sandboxed run gets a uid of its own from this range (no account needs to exist):
// RLIMIT_NPROC counts per uid, so a fork bomb in one sandbox cannot starve the others. They
// share the group nogroup, through which the sandbox ccache is shared.
constexpr unsigned kSandboxUidBase = 100000, kSandboxGid = 65534;
std::atomic<unsigned> g_sandbox_serial{0};

// Processes of `uid` now (a scan of /proc; a few milliseconds).
long processes_of(uid_t uid) {
  long n = 0;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
      struct stat st{};
      if (::stat((std::string("/proc/") + e->d_name).c_str(), &st) == 0 && st.st_uid == uid) ++n;
    }
    ::closedir(d);
  }
  return n;
}

bool under(const fs::path& path, const fs::path& root) {
  const std::string p = path.lexically_normal().string(), r = root.lexically_normal().string();
  return p == r || (p.size() > r.size() && p.compare(0, r.size(), r) == 0 && (r.back() == '/' || p[r.size()] == '/'));
}

// The host's top-level system entries: a merged-/usr system (Debian 12) has /bin, /lib, ...
// as symlinks into /usr, an older one as directories; the sandbox mirrors whichever it is.
void system_layout(std::vector<std::string>& cmd) {
  cmd.insert(cmd.end(), {"--ro-bind", "/usr", "/usr"});
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    std::error_code ec;
    const auto status = fs::symlink_status(top, ec);
    if (ec || !fs::exists(status)) continue;
    if (fs::is_symlink(status)) {
      cmd.insert(cmd.end(), {"--symlink", fs::read_symlink(top, ec).string(), top});
    } else if (fs::is_directory(status)) {
      cmd.insert(cmd.end(), {"--ro-bind", top, top});
    }
  }
  // The dynamic loader's cache (without it libraries in /usr/lib/<triplet> are not found) and
  // the alternatives that name the compilers; no other file of /etc.
  for (const char* file : {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"})
    cmd.insert(cmd.end(), {"--ro-bind-try", file, file});
}

}  // namespace

void allow_unsandboxed(bool allow) {
  static std::atomic<bool> warned{false};
  g_unsandboxed = allow;
  if (allow && !warned.exchange(true))
    std::fprintf(stderr,
                 "chipgym: WARNING: --unsafe-no-sandbox: untrusted Verilog and the models built from it run WITHOUT "
                 "bubblewrap, with the host's files and network in reach. Use it only for text you trust.\n");
}

bool unsandboxed_allowed() { return g_unsandboxed; }

std::string bwrap_executable() {
  if (const char* v = std::getenv("CHIPGYM_BWRAP"); v && *v) return find_executable(v) ? v : "";
  auto found = find_executable("bwrap");
  return found ? found->string() : "";
}

std::vector<std::string> sandbox_command(const RunRequest& req, const std::string& bwrap) {
  const Sandbox& box = *req.sandbox;
  std::vector<std::string> cmd = {bwrap, "--die-with-parent", "--new-session", "--unshare-user", "--unshare-ipc",
                                  "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                                  "--disable-userns", "--hostname", "sandbox"};
  system_layout(cmd);
  cmd.insert(cmd.end(), {"--proc", "/proc", "--dev", "/dev", "--size", std::to_string(box.tmp_bytes), "--tmpfs", "/tmp"});
  const fs::path cwd = fs::absolute(req.cwd.empty() ? fs::current_path() : req.cwd);
  cmd.insert(cmd.end(), {"--bind", cwd.string(), cwd.string()});
  for (const auto& p : box.writable) cmd.insert(cmd.end(), {"--bind", fs::absolute(p).string(), fs::absolute(p).string()});
  for (const auto& p : box.shared) cmd.insert(cmd.end(), {"--bind", fs::absolute(p).string(), fs::absolute(p).string()});
  for (const auto& p : box.readable)
    cmd.insert(cmd.end(), {"--ro-bind", fs::absolute(p).string(), fs::absolute(p).string()});
  // A tool named by a path outside the system (a cached model, $CHIPGYM_YOSYS=/opt/...) is
  // made visible, read-only, by itself.
  const fs::path tool = req.argv.at(0);
  if (tool.is_absolute() && !under(tool, "/usr") && !under(tool, cwd)) {
    bool listed = false;
    for (const auto& p : box.writable) listed = listed || under(tool, fs::absolute(p));
    for (const auto& p : box.shared) listed = listed || under(tool, fs::absolute(p));
    for (const auto& p : box.readable) listed = listed || under(tool, fs::absolute(p));
    if (!listed) cmd.insert(cmd.end(), {"--ro-bind", tool.string(), tool.string()});
  }
  cmd.insert(cmd.end(), {"--chdir", cwd.string(), "--"});
  cmd.insert(cmd.end(), req.argv.begin(), req.argv.end());
  return cmd;
}

std::vector<std::string> sandbox_environment(const RunRequest& req) {
  const fs::path cwd = fs::absolute(req.cwd.empty() ? fs::current_path() : req.cwd);
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", cwd.string()}, {"TMPDIR", "/tmp"}, {"LC_ALL", "C"}};
  if (unsandboxed_allowed()) env["TMPDIR"] = cwd.string();  // no private /tmp to write into
  for (const auto& [name, value] : req.env_extra) env[name] = value;
  std::vector<std::string> out;
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

std::optional<std::string> sandbox_problem() {
  if (t_probing) return std::nullopt;  // the probe itself asks
  static std::mutex mu;
  static std::set<std::string> working;  // bwrap paths whose probe succeeded
  const std::string bwrap = bwrap_executable();
  const std::string fallback =
      " Only for text you trust, --unsafe-no-sandbox runs the tools without it (never the default).";
  if (bwrap.empty())
    return std::string("bubblewrap is not installed (no `bwrap` on PATH") +
           (std::getenv("CHIPGYM_BWRAP") ? std::string(", and $CHIPGYM_BWRAP=") + std::getenv("CHIPGYM_BWRAP") +
                                               " is not an executable"
                                         : std::string()) +
           "): untrusted Verilog is only run inside it. Install it with `apt-get install bubblewrap` (scripts/setup "
           "does)." + fallback;
  std::lock_guard<std::mutex> lock(mu);
  if (working.count(bwrap)) return std::nullopt;
  std::optional<std::string> problem;
  try {
    TempDir dir("chipgym-sandbox-probe-");
    RunRequest probe;
    probe.argv = {"/bin/sh", "-c", "echo sandbox-ok"};
    probe.cwd = dir.path();
    probe.sandbox = Sandbox{};
    probe.limits.wall_seconds = 20;
    t_probing = true;  // the same path as every sandboxed run, without asking this again
    RunResult r;
    try {
      r = run_process(probe);
    } catch (...) {
      t_probing = false;
      throw;
    }
    t_probing = false;
    if (!r.ok() || r.out.find("sandbox-ok") == std::string::npos) {
      std::string why = r.err.substr(0, r.err.find('\n'));
      if (why.empty()) why = r.describe("bwrap");
      problem = "bubblewrap (" + bwrap + ") cannot create its sandbox here: " + why +
                ". It needs user namespaces: on a host allow them (`sysctl -w kernel.unprivileged_userns_clone=1`, "
                "user.max_user_namespaces > 0); in a container, start it with user namespaces allowed (e.g. Docker's "
                "--security-opt seccomp=unconfined --security-opt apparmor=unconfined)." + fallback;
    }
  } catch (const std::exception& e) {
    problem = std::string("cannot try bubblewrap: ") + e.what() + "." + fallback;
  }
  // Only success is remembered: a failure may be passing (EAGAIN while the machine is full).
  if (!problem) working.insert(bwrap);
  return problem;
}

SandboxIdentity sandbox_identity(const RunRequest& req) {
  SandboxIdentity who;
  const long limit = req.sandbox ? req.sandbox->max_processes : 256;
  if (::geteuid() == 0) {
    who.drop = true;
    who.uid = kSandboxUidBase + ((static_cast<unsigned>(::getpid()) & 0xfff) << 8) + (g_sandbox_serial++ & 0xff);
    who.gid = kSandboxGid;
    who.max_processes = limit;
  } else {
    who.uid = ::geteuid();
    who.gid = ::getegid();
    who.max_processes = processes_of(::geteuid()) + limit;
  }
  return who;
}

void hand_over_paths(const RunRequest& req, const SandboxIdentity& who) {
  if (!who.drop || !req.sandbox) return;
  std::vector<fs::path> paths = req.sandbox->writable;
  paths.push_back(req.cwd.empty() ? fs::current_path() : req.cwd);
  for (const auto& p : paths) {
    // Through the group, not the owner: several sandboxes (each its own uid) may work in one
    // directory at once, as the per-module Yosys runs do. Each sees only its own directories.
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0) continue;
    [[maybe_unused]] int rc = ::chown(p.c_str(), static_cast<uid_t>(-1), who.gid);
    rc = ::chmod(p.c_str(), (st.st_mode & 07777) | S_IRWXG);
  }
}

Sandbox untrusted_sandbox() { return Sandbox{}; }

void sandbox_ccache(const Toolchain& tools, RunRequest& req) {
  if (tools.ccache.empty()) return;
  // The scrubbed environment would drop a user's CCACHE_DISABLE: pass it on.
  if (const char* off = std::getenv("CCACHE_DISABLE"); off && *off) req.env_extra["CCACHE_DISABLE"] = off;
  fs::path dir;
  if (const char* v = std::getenv("CHIPGYM_SANDBOX_CCACHE"); v && *v) dir = v;
  else if (::geteuid() == 0) dir = "/var/cache/chipgym/ccache-sandbox-shared";
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) dir = fs::path(x) / "chipgym" / "ccache-sandbox";
  else if (const char* h = std::getenv("HOME"); h && *h) dir = fs::path(h) / ".cache" / "chipgym" / "ccache-sandbox";
  else return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) return;
  if (::geteuid() == 0) {
    // Shared by the sandboxes' many uids through their group, the way ccache documents for
    // several users: group-owned, setgid, and a umask that keeps what ccache creates writable.
    if (::chown(dir.c_str(), 0, kSandboxGid) != 0 || ::chmod(dir.c_str(), 02775) != 0) return;
    req.env_extra["CCACHE_UMASK"] = "002";
  }
  req.env_extra["OBJCACHE"] = tools.ccache;
  req.env_extra["CCACHE_DIR"] = fs::absolute(dir).string();
  if (!req.sandbox) req.sandbox = untrusted_sandbox();
  req.sandbox->shared.push_back(fs::absolute(dir));
}

}  // namespace chipgym::evaluators
