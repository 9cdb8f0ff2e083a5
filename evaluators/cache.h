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
  // Every entry of one stage, calling visit(key, value) in no particular order (a reader of
  // what was kept, e.g. a cost model learned from the cache). Throws CacheError if unreadable.
  void for_each(const std::string& stage, const std::function<void(const std::string&, const std::string&)>& visit);
  const std::filesystem::path& file() const { return file_; }
  const std::string& warning() const { return warning_; }  // empty unless the file was rebuilt

  // The default location: $CHIPGYM_CACHE if set, else $XDG_CACHE_HOME/chipgym/cache.sqlite,
  // else $HOME/.cache/chipgym/cache.sqlite.
  static std::filesystem::path default_file();

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
