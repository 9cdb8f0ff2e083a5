// The evaluation cache in SQLite. See cache.h for the contract.
#include "evaluators/cache.h"

#include <chrono>
#include <thread>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <system_error>
#include <vector>

namespace chipgym::evaluators {

namespace {

namespace fs = std::filesystem;

constexpr const char* kHowToMove = "; choose another with --cache-dir or CHIPGYM_CACHE";
constexpr const char* kSchemaVersion = "1";

// How one attempt to open the file ended.
enum class OpenOutcome { Ok, Corrupt };

// An open step failed. `corrupt` says the file content is bad (and may be moved aside);
// anything else is an environment problem (permissions, disk) where nothing may be moved.
struct OpenFailure {
  bool corrupt;
  std::string reason;
  bool busy = false;  // another process holds a lock (e.g. it is creating the file): retry
};

bool is_busy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

bool is_corruption(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

// SQLite's message plus the OS error behind it, if any ("unable to open database file
// (Permission denied)").
std::string describe_error(sqlite3* db, int rc) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int sys = db ? sqlite3_system_errno(db) : 0;
  if (sys != 0) msg += " (" + std::generic_category().message(sys) + ")";
  return msg;
}

// Runs `sql` (no result rows expected, or only the first row wanted) and returns the first
// column of the first row as text.
std::string exec_scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  std::string value;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      if (const auto* text = sqlite3_column_text(stmt, 0))
        value.assign(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) {
    OpenFailure failure{is_corruption(rc), std::string(sql) + ": " + describe_error(db, rc), is_busy(rc)};
    sqlite3_finalize(stmt);
    throw failure;
  }
  sqlite3_finalize(stmt);
  return value;
}

// Device and inode of `file`, to tell whether it was replaced behind our back.
bool same_file(const fs::path& file, const struct stat& before) {
  struct stat now{};
  return ::stat(file.c_str(), &now) == 0 && now.st_dev == before.st_dev &&
         now.st_ino == before.st_ino;
}

// Why the file cannot be opened for writing, as far as permissions tell: SQLite's own
// errno for a failed open is often from a later probe ("No such file or directory" when
// the real problem was EACCES on the directory). Empty if access looks fine.
std::string access_problem(const fs::path& file) {
  std::error_code ec;
  const bool exists = fs::exists(file, ec);
  const fs::path target = exists ? file : file.parent_path().empty() ? fs::path(".")
                                                                     : file.parent_path();
  if (::access(target.c_str(), exists ? (R_OK | W_OK) : (W_OK | X_OK)) == 0) return {};
  return std::generic_category().message(errno) + " on " + target.string();
}

}  // namespace

Cache::Cache(const fs::path& file) : file_(file) {
  const fs::path dir = file_.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      throw CacheError("cannot create cache directory " + dir.string() + ": " + ec.message() +
                       kHowToMove);
  }
  open_or_rebuild();
}

Cache::~Cache() {
  sqlite3_finalize(get_stmt_);
  sqlite3_finalize(put_stmt_);
  sqlite3_close_v2(db_);
}

void Cache::open_or_rebuild() {
  // Two attempts: the second one follows moving a corrupt file aside. Lock contention while
  // another process creates the file is waited out (up to about 15 s) and is no attempt.
  int busy_waits = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    struct stat opened{};
    const bool existed = ::stat(file_.c_str(), &opened) == 0;

    sqlite3* db = nullptr;
    try {
      const int rc = sqlite3_open_v2(
          file_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
          nullptr);
      if (rc != SQLITE_OK) throw OpenFailure{is_corruption(rc), describe_error(db, rc)};
      // SQLite quietly falls back to read-only if the file is not writable; every put
      // would then fail, so refuse now, with the reason.
      if (sqlite3_db_readonly(db, "main") == 1)
        throw OpenFailure{false, "the file is read-only (" +
                                     std::generic_category().message(EACCES) + ")"};
      // Other processes may hold the lock briefly (opening, writing); wait, do not fail.
      sqlite3_busy_timeout(db, 10000);
      // WAL lets readers in other processes go on while one process writes; NORMAL sync is
      // safe with WAL (a power cut may lose the last entries, never corrupt the file).
      // The mode is stored in the file: only its creator needs to switch (an exclusive step).
      if (exec_scalar(db, "PRAGMA journal_mode") != "wal") exec_scalar(db, "PRAGMA journal_mode=WAL");
      exec_scalar(db, "PRAGMA synchronous=NORMAL");
      const std::string check = exec_scalar(db, "PRAGMA quick_check");
      if (check != "ok") throw OpenFailure{true, "quick_check: " + check};
      exec_scalar(db,
                  "CREATE TABLE IF NOT EXISTS results(stage TEXT, key TEXT, value TEXT, "
                  "created REAL, PRIMARY KEY(stage, key))");
      exec_scalar(db, "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT)");
      exec_scalar(db, "INSERT OR IGNORE INTO meta(name, value) VALUES('schema_version', '1')");
      const std::string version =
          exec_scalar(db, "SELECT value FROM meta WHERE name = 'schema_version'");
      if (version != kSchemaVersion)
        // A newer (or older) chipgym's cache: not corrupt, so it must not be moved aside.
        throw OpenFailure{false, "it has schema version " + version + ", this chipgym uses " +
                                     kSchemaVersion};

      sqlite3_stmt* get = nullptr;
      sqlite3_stmt* put = nullptr;
      int prc = sqlite3_prepare_v3(db, "SELECT value FROM results WHERE stage = ? AND key = ?",
                                   -1, SQLITE_PREPARE_PERSISTENT, &get, nullptr);
      if (prc == SQLITE_OK)
        prc = sqlite3_prepare_v3(
            db, "INSERT OR REPLACE INTO results(stage, key, value, created) VALUES(?, ?, ?, ?)",
            -1, SQLITE_PREPARE_PERSISTENT, &put, nullptr);
      if (prc != SQLITE_OK) {
        OpenFailure failure{is_corruption(prc), "prepare: " + describe_error(db, prc)};
        sqlite3_finalize(get);
        sqlite3_finalize(put);
        throw failure;
      }
      db_ = db;
      get_stmt_ = get;
      put_stmt_ = put;
      return;
    } catch (const OpenFailure& failure) {
      sqlite3_close_v2(db);
      if (failure.busy && busy_waits < 75) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200, 10 << std::min(busy_waits, 5))));
        ++busy_waits;
        --attempt;
        continue;
      }
      if (!failure.corrupt || attempt > 0) {
        const std::string denied = failure.corrupt ? std::string() : access_problem(file_);
        throw CacheError("cannot open cache " + file_.string() + ": " +
                         (denied.empty() ? failure.reason : denied) + kHowToMove);
      }

      // Another process may have moved the file aside and rebuilt it since we opened it:
      // then the file now at `file_` is fresh and must not be moved again.
      if (existed && !same_file(file_, opened)) continue;

      // Keep the damaged file (never delete cached work): rename it and its WAL companions.
      const std::string stamp = std::to_string(static_cast<long long>(std::time(nullptr)));
      fs::path aside = file_.string() + ".corrupt-" + stamp;
      std::error_code ec;
      for (int n = 1; fs::exists(aside, ec); ++n)
        aside = file_.string() + ".corrupt-" + stamp + "-" + std::to_string(n);
      fs::rename(file_, aside, ec);
      if (ec)
        throw CacheError("cache " + file_.string() + " is damaged (" + failure.reason +
                         ") and could not be moved to " + aside.string() + ": " + ec.message() +
                         kHowToMove);
      for (const char* suffix : {"-wal", "-shm"}) {
        const fs::path companion = file_.string() + suffix;
        std::error_code ignored;
        if (fs::exists(companion, ignored))
          fs::rename(companion, aside.string() + suffix, ignored);
      }
      warning_ = "cache " + file_.string() + " was damaged (" + failure.reason +
                 "); moved it to " + aside.string() + " and started an empty cache";
    }
  }
}

std::optional<std::string> Cache::get(const std::string& stage, const std::string& key) {
  std::lock_guard lock(mu_);
  sqlite3_stmt* s = get_stmt_;
  // SQLITE_STATIC: the strings outlive the step; the bindings are cleared before returning.
  sqlite3_bind_text64(s, 1, stage.data(), stage.size(), SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_text64(s, 2, key.data(), key.size(), SQLITE_STATIC, SQLITE_UTF8);
  std::optional<std::string> value;
  // A read error (e.g. a lock held longer than the busy timeout) counts as a miss: the
  // caller recomputes the result, and the put that follows reports a lasting problem.
  if (sqlite3_step(s) == SQLITE_ROW) {
    const auto* text = static_cast<const char*>(sqlite3_column_blob(s, 0));
    value.emplace(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(s, 0)));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return value;
}

void Cache::put(const std::string& stage, const std::string& key, const std::string& value) {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard lock(mu_);
  sqlite3_stmt* s = put_stmt_;
  sqlite3_bind_text64(s, 1, stage.data(), stage.size(), SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_text64(s, 2, key.data(), key.size(), SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_text64(s, 3, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_double(s, 4, now);
  const int rc = sqlite3_step(s);
  // Read the message before reset, which may replace it.
  const std::string reason = rc == SQLITE_DONE ? std::string() : describe_error(db_, rc);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_DONE)
    throw CacheError("cannot write to cache " + file_.string() + ": " + reason + kHowToMove);
}

std::size_t Cache::size() {
  std::lock_guard lock(mu_);
  try {
    const std::string n = exec_scalar(db_, "SELECT COUNT(*) FROM results");
    return static_cast<std::size_t>(std::stoull(n));
  } catch (const OpenFailure& failure) {
    throw CacheError("cannot read cache " + file_.string() + ": " + failure.reason);
  }
}

void Cache::for_each(const std::string& stage,
                     const std::function<void(const std::string&, const std::string&)>& visit) {
  std::vector<std::pair<std::string, std::string>> rows;
  {
    std::lock_guard lock(mu_);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, "SELECT key, value FROM results WHERE stage = ? ORDER BY key", -1, &stmt, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text64(stmt, 1, stage.data(), stage.size(), SQLITE_STATIC, SQLITE_UTF8);
      auto text = [&](int col) {
        const auto* t = sqlite3_column_text(stmt, col);
        return t ? std::string(reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)))
                 : std::string();
      };
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) rows.emplace_back(text(0), text(1));
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    const std::string reason = rc == SQLITE_OK ? "" : describe_error(db_, rc);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) throw CacheError("cannot read cache " + file_.string() + ": " + reason);
  }
  // Outside the lock: the visitor may use the cache.
  for (const auto& [key, value] : rows) visit(key, value);
}

fs::path Cache::default_file() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (const std::string explicit_file = env("CHIPGYM_CACHE"); !explicit_file.empty())
    return explicit_file;
  // XDG: a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty() && xdg.front() == '/')
    return fs::path(xdg) / "chipgym" / "cache.sqlite";
  if (const std::string home = env("HOME"); !home.empty())
    return fs::path(home) / ".cache" / "chipgym" / "cache.sqlite";
  // No home (e.g. a bare service account): a per-user directory under /tmp.
  return fs::temp_directory_path() / ("chipgym-cache-" + std::to_string(::getuid())) /
         "cache.sqlite";
}

// --- The whole file ---------------------------------------------------------------------------

namespace {

// `file` opened read-only and checked to be a chipgym cache; the caller closes it.
sqlite3* open_checked(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw CacheError("no cache at " + file.string() + (fs::exists(file, ec) ? " (not a regular file)" : " (no such file)"));
  // SQLite opens any file lazily; the header says at once whether it is a database at all.
  {
    std::ifstream in(file, std::ios::binary);
    char header[16] = {};
    in.read(header, sizeof header);
    if (std::string(header, static_cast<std::size_t>(in.gcount())) != std::string("SQLite format 3\0", 16))
      throw CacheError(file.string() + " is not a chipgym cache: not a SQLite database");
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  try {
    if (rc != SQLITE_OK) throw OpenFailure{is_corruption(rc), describe_error(db, rc)};
    sqlite3_busy_timeout(db, 10000);
    if (exec_scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'results'") != "1")
      throw OpenFailure{false, "a SQLite database without chipgym's results table"};
    std::string version;
    if (exec_scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'") == "1")
      version = exec_scalar(db, "SELECT value FROM meta WHERE name = 'schema_version'");
    if (version != kSchemaVersion)
      throw OpenFailure{false, "schema version " + (version.empty() ? std::string("none") : version) +
                                   ", this chipgym uses " + kSchemaVersion};
  } catch (const OpenFailure& failure) {
    sqlite3_close_v2(db);
    throw CacheError(file.string() + " is not a chipgym cache: " + failure.reason);
  }
  return db;
}

}  // namespace

void Cache::check_cache_file(const fs::path& file) { sqlite3_close_v2(open_checked(file)); }

std::vector<Cache::StageStats> Cache::stage_stats() {
  std::lock_guard lock(mu_);
  sqlite3_stmt* s = nullptr;
  std::vector<StageStats> out;
  int rc = sqlite3_prepare_v2(db_, "SELECT stage, COUNT(*), SUM(LENGTH(CAST(value AS BLOB))) FROM results GROUP BY stage ORDER BY stage",
                              -1, &s, nullptr);
  while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto* stage = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    out.push_back({stage ? stage : "", static_cast<std::size_t>(sqlite3_column_int64(s, 1)),
                   static_cast<std::size_t>(sqlite3_column_int64(s, 2))});
    rc = SQLITE_OK;
  }
  const std::string reason = rc == SQLITE_DONE ? std::string() : describe_error(db_, rc);
  sqlite3_finalize(s);
  if (!reason.empty()) throw CacheError("cannot read cache " + file_.string() + ": " + reason);
  return out;
}

Cache::MergeCount Cache::merge_from(const fs::path& other) {
  sqlite3* src = open_checked(other);
  std::lock_guard lock(mu_);
  MergeCount count;
  sqlite3_stmt* read = nullptr;
  sqlite3_stmt* insert = nullptr;
  std::string failure;
  auto fail = [&](sqlite3* db, int rc, const std::string& where) {
    if (failure.empty()) failure = where + ": " + describe_error(db, rc);
  };
  int rc = sqlite3_prepare_v2(src, "SELECT stage, key, value, created FROM results", -1, &read, nullptr);
  if (rc != SQLITE_OK) fail(src, rc, "reading " + other.string());
  rc = sqlite3_prepare_v2(db_, "INSERT OR IGNORE INTO results(stage, key, value, created) VALUES(?, ?, ?, ?)", -1, &insert, nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, "writing " + file_.string());
  if (failure.empty()) {
    try {
      exec_scalar(db_, "BEGIN IMMEDIATE");
    } catch (const OpenFailure& f) {
      failure = "writing " + file_.string() + ": " + f.reason;
    }
  }
  while (failure.empty() && (rc = sqlite3_step(read)) == SQLITE_ROW) {
    // Text stays text, as put() writes it.
    for (int c = 0; c < 3; ++c)
      sqlite3_bind_text64(insert, c + 1, reinterpret_cast<const char*>(sqlite3_column_text(read, c)),
                          static_cast<sqlite3_uint64>(sqlite3_column_bytes(read, c)), SQLITE_TRANSIENT, SQLITE_UTF8);
    sqlite3_bind_double(insert, 4, sqlite3_column_double(read, 3));
    const int wrc = sqlite3_step(insert);
    if (wrc != SQLITE_DONE) fail(db_, wrc, "writing " + file_.string());
    else if (sqlite3_changes(db_) > 0) ++count.added;
    else ++count.present;
    sqlite3_reset(insert);
    sqlite3_clear_bindings(insert);
  }
  if (failure.empty() && rc != SQLITE_DONE) fail(src, rc, "reading " + other.string());
  sqlite3_finalize(read);
  sqlite3_finalize(insert);
  try {
    exec_scalar(db_, failure.empty() ? "COMMIT" : "ROLLBACK");
  } catch (const OpenFailure& f) {
    if (failure.empty()) failure = "writing " + file_.string() + ": " + f.reason;
  }
  sqlite3_close_v2(src);
  if (!failure.empty()) throw CacheError("cannot merge " + other.string() + " into " + file_.string() + ": " + failure);
  return count;
}

}  // namespace chipgym::evaluators
