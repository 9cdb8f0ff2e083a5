// The SQLite evaluation cache: round trip, persistence, corrupt files, unwritable
// locations and concurrent writers (threads and processes).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "evaluators/cache.h"
#include "evaluators/runner.h"

using namespace chipgym::evaluators;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> corrupt_copies(const fs::path& file) {
  std::vector<fs::path> found;
  const std::string prefix = file.filename().string() + ".corrupt-";
  for (const auto& entry : fs::directory_iterator(file.parent_path()))
    if (entry.path().filename().string().rfind(prefix, 0) == 0) found.push_back(entry.path());
  return found;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("cache: a missing file (and directory) is created", "[cache]") {
  TempDir dir;
  const fs::path file = dir.path() / "a" / "b" / "cache.sqlite";
  Cache cache(file);
  CHECK(fs::exists(file));
  CHECK(cache.file() == file);
  CHECK(cache.warning().empty());
  CHECK(cache.size() == 0);
}

TEST_CASE("cache: put/get round trip", "[cache]") {
  TempDir dir;
  Cache cache(dir.path() / "cache.sqlite");
  CHECK_FALSE(cache.get("synth", "k1"));

  cache.put("synth", "k1", R"({"area": 12.5})");
  cache.put("sim", "k1", "other stage, same key");
  const std::string binary("a\0b", 3);
  cache.put("synth", "k2", binary);
  cache.put("synth", "empty", "");

  CHECK(cache.get("synth", "k1") == std::optional<std::string>(R"({"area": 12.5})"));
  CHECK(cache.get("sim", "k1") == std::optional<std::string>("other stage, same key"));
  CHECK(cache.get("synth", "k2") == std::optional<std::string>(binary));
  CHECK(cache.get("synth", "empty") == std::optional<std::string>(""));
  CHECK_FALSE(cache.get("lint", "k1"));
  CHECK(cache.size() == 4);

  cache.put("synth", "k1", "replaced");
  CHECK(cache.get("synth", "k1") == std::optional<std::string>("replaced"));
  CHECK(cache.size() == 4);
}

TEST_CASE("cache: a hit is fast", "[cache]") {
  TempDir dir;
  Cache cache(dir.path() / "cache.sqlite");
  cache.put("synth", "key", std::string(2000, 'x'));
  constexpr int kGets = 20000;
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t bytes = 0;
  for (int i = 0; i < kGets; ++i) bytes += cache.get("synth", "key")->size();
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
      kGets;
  INFO("mean get: " << us << " us");
  CHECK(bytes == 2000u * kGets);
  CHECK(us < 200);  // a few microseconds expected; the bound only catches gross regressions
}

TEST_CASE("cache: entries persist across Cache objects", "[cache]") {
  TempDir dir;
  const fs::path file = dir.path() / "cache.sqlite";
  {
    Cache cache(file);
    cache.put("synth", "abc", "42");
  }
  Cache again(file);
  CHECK(again.get("synth", "abc") == std::optional<std::string>("42"));
  CHECK(again.warning().empty());
}

TEST_CASE("cache: a garbage file is moved aside and rebuilt", "[cache]") {
  TempDir dir;
  const fs::path file = dir.path() / "cache.sqlite";
  const std::string garbage = GENERATE(std::string("not a database at all\n"),
                                       std::string(8192, '\x5a'));
  std::ofstream(file, std::ios::binary) << garbage;

  Cache cache(file);
  CHECK_FALSE(cache.warning().empty());
  const auto copies = corrupt_copies(file);
  REQUIRE(copies.size() == 1);
  CHECK(slurp(copies[0]) == garbage);  // nothing thrown away
  CHECK_THAT(cache.warning(), Catch::Contains(file.string()) && Catch::Contains(copies[0].string()));

  cache.put("synth", "k", "v");
  CHECK(cache.get("synth", "k") == std::optional<std::string>("v"));
}

TEST_CASE("cache: a database with damaged pages is moved aside", "[cache]") {
  TempDir dir;
  const fs::path file = dir.path() / "cache.sqlite";
  {
    Cache cache(file);
    for (int i = 0; i < 500; ++i) cache.put("synth", "key" + std::to_string(i), std::string(300, 'v'));
  }
  // Keep the 100-byte header (so it still looks like SQLite) and scribble over the pages.
  std::string bytes = slurp(file);
  REQUIRE(bytes.size() > 8192);
  for (std::size_t i = 100; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(i * 31);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;

  Cache cache(file);
  CHECK_FALSE(cache.warning().empty());
  CHECK(corrupt_copies(file).size() == 1);
  CHECK(cache.size() == 0);
}

TEST_CASE("cache: an unwritable location throws CacheError naming the path", "[cache]") {
  TempDir dir;
  fs::path file;
  if (::geteuid() == 0) {
    WARN("running as root, which ignores permissions: testing an uncreatable /proc path instead");
    file = "/proc/chipgym-test/sub/cache.sqlite";
  } else {
    fs::create_directories(dir.path() / "locked");
    fs::permissions(dir.path() / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    file = dir.path() / "locked" / "sub" / "cache.sqlite";
  }
  try {
    Cache cache(file);
    FAIL("no CacheError for " << file);
  } catch (const CacheError& e) {
    CHECK_THAT(e.what(), Catch::Contains(file.parent_path().string()));
    CHECK_THAT(e.what(), Catch::Contains("CHIPGYM_CACHE"));
  }
  if (::geteuid() != 0) {
    // The directory exists but SQLite cannot create the file (or its WAL) in it.
    const fs::path direct = dir.path() / "locked" / "cache.sqlite";
    try {
      Cache cache(direct);
      FAIL("no CacheError for " << direct);
    } catch (const CacheError& e) {
      CHECK_THAT(e.what(), Catch::Contains(direct.string()));
    }
    CHECK(corrupt_copies(direct).empty());
    fs::permissions(dir.path() / "locked", fs::perms::owner_all);  // so TempDir can clean up
  }
}

TEST_CASE("cache: a read-only file is refused, not moved aside", "[cache]") {
  if (::geteuid() == 0) {
    WARN("running as root, which ignores permissions: read-only file test skipped");
    return;
  }
  TempDir dir;
  const fs::path file = dir.path() / "cache.sqlite";
  { Cache(file).put("synth", "k", "v"); }
  fs::permissions(file, fs::perms::owner_read);
  CHECK_THROWS_AS(Cache(file), CacheError);
  CHECK(corrupt_copies(file).empty());
  CHECK(fs::exists(file));
}

TEST_CASE("cache: concurrent writers in threads and processes all land", "[cache]") {
  TempDir dir;
  const fs::path file = dir.path() / "cache.sqlite";
  constexpr int kEntries = 200;
  auto value = [](const std::string& who, int i) { return who + ":" + std::to_string(i); };

  Cache shared(file);
  // Processes first, so that the threads below run while they write. Each child opens its
  // own connection (an SQLite handle must not cross fork) and reports by exit code only.
  std::vector<pid_t> children;
  for (const std::string who : {"proc0", "proc1"}) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int code = 0;
      try {
        Cache own(file);
        for (int i = 0; i < kEntries; ++i) own.put(who, std::to_string(i), value(who, i));
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  std::vector<std::thread> threads;
  for (const std::string who : {"thread0", "thread1"})
    threads.emplace_back([&, who] {
      for (int i = 0; i < kEntries; ++i) shared.put(who, std::to_string(i), value(who, i));
    });
  for (auto& t : threads) t.join();
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  CHECK(shared.size() == 4 * kEntries);
  for (const std::string who : {"proc0", "proc1", "thread0", "thread1"})
    for (int i = 0; i < kEntries; ++i)
      REQUIRE(shared.get(who, std::to_string(i)) == std::optional<std::string>(value(who, i)));
}

TEST_CASE("cache: default_file follows CHIPGYM_CACHE, XDG_CACHE_HOME, HOME", "[cache]") {
  auto saved = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  const auto cache_env = saved("CHIPGYM_CACHE"), xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");

  ::setenv("CHIPGYM_CACHE", "/x/explicit.sqlite", 1);
  CHECK(Cache::default_file() == "/x/explicit.sqlite");
  ::unsetenv("CHIPGYM_CACHE");
  ::setenv("XDG_CACHE_HOME", "/x/xdg", 1);
  CHECK(Cache::default_file() == "/x/xdg/chipgym/cache.sqlite");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/x/home", 1);
  CHECK(Cache::default_file() == "/x/home/.cache/chipgym/cache.sqlite");

  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v) ::setenv(name, v->c_str(), 1); else ::unsetenv(name);
  };
  restore("CHIPGYM_CACHE", cache_env);
  restore("XDG_CACHE_HOME", xdg);
  restore("HOME", home);
}

TEST_CASE("cache: processes that create the same new file at the same moment all open it", "[cache]") {
  // Found by the CLI test: the second process saw "database is locked" while the first
  // switched the new file to WAL. Each round starts eight processes behind one barrier.
  for (int round = 0; round < 5; ++round) {
    TempDir dir;
    const fs::path file = dir.path() / "new" / "cache.sqlite";
    int barrier[2];
    REQUIRE(::pipe(barrier) == 0);
    std::vector<pid_t> children;
    for (int c = 0; c < 8; ++c) {
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        ::close(barrier[1]);
        char byte;
        (void)!::read(barrier[0], &byte, 1);  // returns when the parent closes its end
        int code = 0;
        try {
          Cache own(file);
          own.put("proc", std::to_string(c), "v");
        } catch (...) {
          code = 1;
        }
        ::_exit(code);
      }
      children.push_back(pid);
    }
    ::close(barrier[0]);
    ::close(barrier[1]);  // release them all at once
    for (pid_t pid : children) {
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }
    Cache check(file);
    CHECK(check.size() == 8);
    CHECK(check.warning().empty());
  }
}
