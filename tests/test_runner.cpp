// run_process, TempDir and find_executable with real child processes (sh, sleep, python3).
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "evaluators/runner.h"

using namespace chipgym::evaluators;

namespace {

RunRequest shell(const std::string& script, double wall_seconds = 30) {
  RunRequest req;
  req.argv = {"sh", "-c", script};
  req.limits.wall_seconds = wall_seconds;
  return req;
}

// True once `pid` no longer runs. A killed orphan may stay a zombie for a while if PID 1
// does not reap promptly (containers); a zombie is dead for our purposes.
bool process_gone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (std::getline(stat, line)) {
      // Format: "pid (comm) state ..."; comm may contain spaces, so look after the ')'.
      const auto close = line.rfind(')');
      if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z')
        return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("runner: exit code and captured output", "[runner]") {
  const RunResult r = run_process(shell("echo out; echo err >&2; exit 3"));
  CHECK(r.status == RunStatus::Exited);
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.ok());
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(r.describe("yosys") == "yosys exited with code 3");

  const RunResult ok = run_process(shell("true"));
  CHECK(ok.ok());
}

TEST_CASE("runner: stdin is fed and closed", "[runner]") {
  RunRequest req;
  req.argv = {"cat"};
  // Larger than a pipe buffer, so the writer and the readers must interleave.
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "line " + std::to_string(i) + "\n";
  req.stdin_text = text;
  const RunResult r = run_process(req);
  CHECK(r.ok());
  CHECK(r.out == text);

  // Without stdin_text the child sees end of file at once instead of hanging.
  RunRequest empty;
  empty.argv = {"cat"};
  empty.limits.wall_seconds = 10;
  const RunResult e = run_process(empty);
  CHECK(e.ok());
  CHECK(e.out.empty());
}

TEST_CASE("runner: a child that ignores its stdin does not hang the parent", "[runner]") {
  RunRequest req = shell("exit 0", 10);
  req.stdin_text = std::string(1 << 20, 'x');
  const RunResult r = run_process(req);
  CHECK(r.ok());
}

TEST_CASE("runner: output is cut to the limit while the pipe keeps draining", "[runner]") {
  RunRequest req = shell("head -c 1000000 /dev/zero; echo done >&2", 20);
  req.limits.output_bytes = 1000;
  const RunResult r = run_process(req);
  CHECK(r.ok());
  CHECK(r.out.size() == 1000);
  CHECK(r.err == "done\n");
}

TEST_CASE("runner: a tool flooding its output still times out", "[runner]") {
  RunRequest req;
  req.argv = {"yes"};
  req.limits.wall_seconds = 0.5;
  req.limits.output_bytes = 4096;
  const RunResult r = run_process(req);
  CHECK(r.status == RunStatus::TimedOut);
  CHECK(r.seconds < 5);
  CHECK(r.out.size() == 4096);
}

TEST_CASE("runner: env_extra and cwd", "[runner]") {
  TempDir dir;
  RunRequest req = shell("echo \"$CHIPGYM_TEST_VAR\"; pwd -P; echo \"$HOME\"");
  req.cwd = dir.path();
  req.env_extra = {{"CHIPGYM_TEST_VAR", "hello world"}, {"HOME", "/nonexistent-home"}};
  const RunResult r = run_process(req);
  REQUIRE(r.ok());
  const std::string expected = "hello world\n" +
                               std::filesystem::canonical(dir.path()).string() + "\n" +
                               "/nonexistent-home\n";
  CHECK(r.out == expected);
}

TEST_CASE("runner: a missing tool is NotFound, not an exception", "[runner]") {
  RunRequest req;
  req.argv = {"chipgym-no-such-tool-xyz", "--version"};
  const RunResult r = run_process(req);
  CHECK(r.status == RunStatus::NotFound);
  CHECK(r.exec_error == "No such file or directory");
  CHECK(r.describe("chipgym-no-such-tool-xyz") ==
        "chipgym-no-such-tool-xyz not found on PATH (No such file or directory)");

  RunRequest bad_cwd = shell("true");
  bad_cwd.cwd = "/nonexistent/chipgym";
  const RunResult c = run_process(bad_cwd);
  CHECK(c.status == RunStatus::NotFound);
  CHECK_THAT(c.exec_error, Catch::Contains("/nonexistent/chipgym"));
}

TEST_CASE("runner: wall-clock timeout kills the process group", "[runner]") {
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run_process(shell("sleep 30", 0.5));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.status == RunStatus::TimedOut);
  CHECK(took < 5);
  CHECK(r.describe("yosys") == "yosys timed out after 0.5 s");

  SECTION("including a background grandchild") {
    // The shell prints the grandchild's pid, then waits for it.
    const RunResult g = run_process(shell("sleep 30 & echo $!; wait", 0.5));
    CHECK(g.status == RunStatus::TimedOut);
    const pid_t grandchild = std::stoi(g.out);
    REQUIRE(grandchild > 0);
    CHECK(process_gone(grandchild));
  }
}

TEST_CASE("runner: stray grandchildren are killed after a normal exit", "[runner]") {
  // The shell exits at once, but the sleep holds stdout open; we must not wait for it.
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run_process(shell("sleep 30 & echo $!", 20));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.ok());
  CHECK(took < 5);
  const pid_t grandchild = std::stoi(r.out);
  REQUIRE(grandchild > 0);
  CHECK(process_gone(grandchild));
}

TEST_CASE("runner: a crash is Signaled", "[runner]") {
  const RunResult r = run_process(shell("kill -SEGV $$"));
  CHECK(r.status == RunStatus::Signaled);
  CHECK(r.signal == SIGSEGV);
  CHECK(r.describe("yosys") == "yosys was killed by signal 11 (Segmentation fault)");
}

TEST_CASE("runner: the memory limit applies to the child", "[runner]") {
  // The system interpreter, not a version-manager shim script in front of it.
  auto python = find_executable("/usr/bin/python3");
  if (!python) python = find_executable("python3");
  if (!python) {
    WARN("python3 not found; memory-limit test skipped");
    return;
  }
  RunRequest req;
  req.argv = {python->string(), "-c", "x = bytearray(500 * 1024 * 1024)"};
  req.limits.memory_bytes = 64ull << 20;
  req.limits.wall_seconds = 30;
  const RunResult r = run_process(req);
  INFO(r.describe("python3") << "\n" << r.err);
  CHECK(!r.ok());
  CHECK((r.status == RunStatus::Signaled ||
         (r.status == RunStatus::Exited && r.exit_code != 0)));

  // The same allocation without the limit works (so the failure above is the limit's doing).
  req.limits.memory_bytes = 0;
  CHECK(run_process(req).ok());
}

TEST_CASE("runner: the CPU limit applies to the child", "[runner]") {
  RunRequest req = shell("while :; do :; done", 20);
  req.limits.cpu_seconds = 1;
  const RunResult r = run_process(req);
  CHECK(r.status == RunStatus::Signaled);
  CHECK((r.signal == SIGXCPU || r.signal == SIGKILL));
}

TEST_CASE("TempDir: created private and removed after scope", "[runner]") {
  std::filesystem::path p;
  {
    TempDir dir("chipgym-test-");
    p = dir.path();
    REQUIRE(std::filesystem::is_directory(p));
    CHECK(p.filename().string().rfind("chipgym-test-", 0) == 0);
    CHECK((std::filesystem::status(p).permissions() & std::filesystem::perms::others_all) ==
          std::filesystem::perms::none);
    // Contents, including a read-only subdirectory, go too.
    std::filesystem::create_directories(p / "sub" / "ro");
    std::ofstream(p / "sub" / "ro" / "file.v") << "module m; endmodule\n";
    std::filesystem::permissions(p / "sub" / "ro", std::filesystem::perms::owner_read |
                                                       std::filesystem::perms::owner_exec);
  }
  CHECK_FALSE(std::filesystem::exists(p));

  std::filesystem::path kept;
  {
    TempDir dir;
    dir.keep();
    kept = dir.path();
  }
  CHECK(std::filesystem::exists(kept));
  std::filesystem::remove_all(kept);
}

TEST_CASE("find_executable searches PATH", "[runner]") {
  const auto sh = find_executable("sh");
  REQUIRE(sh);
  CHECK(sh->is_absolute());
  CHECK(find_executable(sh->string()) == sh);
  CHECK_FALSE(find_executable("chipgym-no-such-tool-xyz"));
  CHECK_FALSE(find_executable(""));
}
