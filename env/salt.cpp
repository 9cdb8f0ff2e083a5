#include "env/salt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "evaluators/cache.h"

namespace chipgym::env {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kSaltBytes = 32;  // 256 bits: not worth guessing
const char* const kWayOut = " (delete it to make a new salt, or set CHIPGYM_SCORE_SALT)";

std::string random_hex(std::size_t bytes) {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string raw(bytes, '\0');
  if (!urandom.read(raw.data(), static_cast<std::streamsize>(bytes)))
    throw std::runtime_error("cannot read /dev/urandom to make the score salt; set CHIPGYM_SCORE_SALT");
  static const char* const digits = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : raw) hex += {digits[c >> 4], digits[c & 15]};
  return hex;
}

bool is_salt(const std::string& s) {
  return s.size() == 2 * kSaltBytes && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string read_salt(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the score salt " + file.string() + kWayOut);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (!is_salt(s))
    throw std::runtime_error("the score salt " + file.string() + " does not hold " + std::to_string(2 * kSaltBytes) +
                             " hex digits" + kWayOut);
  return s;
}

}  // namespace

fs::path salt_file() { return evaluators::Cache::default_file().parent_path() / "score-salt"; }

std::string installation_salt(const fs::path& file) {
  std::error_code ec;
  if (fs::exists(file, ec)) return read_salt(file);
  fs::create_directories(file.parent_path(), ec);
  if (ec) throw std::runtime_error("cannot create " + file.parent_path().string() + " for the score salt: " + ec.message());
  // A complete private file first, then link(2): the salt appears whole or not at all, and an
  // existing one (another process was quicker) is never replaced.
  const fs::path tmp = file.string() + ".tmp." + std::to_string(::getpid()) + "." + random_hex(4);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp.string() + ": " + std::strerror(errno) + kWayOut);
  const std::string text = random_hex(kSaltBytes) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write the score salt " + tmp.string() + kWayOut);
  }
  const int linked = ::link(tmp.c_str(), file.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0 && link_errno != EEXIST)
    throw std::runtime_error("cannot create the score salt " + file.string() + ": " + std::strerror(link_errno) + kWayOut);
  return read_salt(file);
}

std::string score_salt() {
  if (const char* env = std::getenv("CHIPGYM_SCORE_SALT"); env && *env) return env;
  return installation_salt(salt_file());
}

}  // namespace chipgym::env
