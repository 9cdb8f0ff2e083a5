// The evaluation cache: content hash -> stage result (JSON text), in one SQLite file.
// Shared by concurrent processes (WAL mode, busy timeout). A corrupt file is moved aside
// (renamed to <file>.corrupt-<unix time>) and rebuilt, with a warning, never a crash.
#pragma once
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace chipgym::evaluators {

// Thrown when the cache cannot be opened or written at all (e.g. unwritable directory).
// what() names the path and the reason and says how to choose another location.
class CacheError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Cache {
 public:
  // Opens (creating directories and file as needed) the SQLite database at `file`.
  // Throws CacheError if the directory cannot be created or the file cannot be opened for
  // writing. A file that is not a valid SQLite database, or fails `PRAGMA quick_check`,
  // is renamed aside and a new one is created; warning() then returns a message about it.
  explicit Cache(const std::filesystem::path& file);
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Stage results are opaque strings (JSON) under (stage, key). get() on a miss: nullopt.
  std::optional<std::string> get(const std::string& stage, const std::string& key);
  // Inserts or replaces. Throws CacheError if the write fails (disk full, read-only file).
  void put(const std::string& stage, const std::string& key, const std::string& value);
  std::size_t size();  // number of entries
  // Every entry of one stage, calling visit(key, value) in key order, outside the cache's lock
  // (a reader of what was kept: a cost model, chipgym cache export). Throws CacheError if
  // unreadable.
  void for_each(const std::string& stage, const std::function<void(const std::string&, const std::string&)>& visit);
  const std::filesystem::path& file() const { return file_; }
  const std::string& warning() const { return warning_; }  // empty unless the file was rebuilt

  // The default location: $CHIPGYM_CACHE if set, else $XDG_CACHE_HOME/chipgym/cache.sqlite,
  // else $HOME/.cache/chipgym/cache.sqlite.
  static std::filesystem::path default_file();

  // --- The whole file (chipgym cache stats|merge|export) -----------------------------------
  // Kept apart from get/put: reading every entry and merging files are whole-file operations.

  // Throws CacheError unless `file` exists and is a chipgym cache (a SQLite database with the
  // results table of this schema version). Only reads: a file that is not one is never moved
  // aside or rebuilt, unlike the constructor does.
  static void check_cache_file(const std::filesystem::path& file);
  struct StageStats {
    std::string stage;
    std::size_t entries = 0;
    std::size_t value_bytes = 0;  // the stored JSON text
  };
  // Entries and bytes of every stage, in stage name order.
  std::vector<StageStats> stage_stats();
  struct MergeCount {
    std::size_t added = 0;    // entries of `other` this cache lacked
    std::size_t present = 0;  // entries it had already (same stage and key: the same content)
  };
  // Adds every entry of the cache file `other` that this one lacks, in one transaction: a union,
  // since keys are content hashes. `other` is only read (check_cache_file first: CacheError).
  MergeCount merge_from(const std::filesystem::path& other);

 private:
  void open_or_rebuild();
  std::filesystem::path file_;
  std::string warning_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* get_stmt_ = nullptr;
  sqlite3_stmt* put_stmt_ = nullptr;
  std::mutex mu_;  // one Cache may be used from several threads
};

}  // namespace chipgym::evaluators
