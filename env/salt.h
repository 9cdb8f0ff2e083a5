// The salt of `chipgym score`'s hidden vectors: per installation, so that having the source
// does not give anyone the vectors.
//
// $CHIPGYM_SCORE_SALT, when set and non-empty, is the salt (reproducible vectors for a shared
// leaderboard or a test). Otherwise the salt is the content of the file `score-salt` beside the
// evaluation cache (the directory of evaluators::Cache::default_file(): $CHIPGYM_CACHE's
// directory, else $XDG_CACHE_HOME/chipgym, else ~/.cache/chipgym): 32 random bytes from
// /dev/urandom as hex, created on first use with mode 0600. Two processes that create it at the
// same moment agree on one salt: each writes a private temporary file and link(2)s it into
// place; link never replaces an existing file, so the first wins and the others read its salt.
#pragma once
#include <filesystem>
#include <string>

namespace chipgym::env {

// $CHIPGYM_SCORE_SALT, else installation_salt(salt_file()).
std::string score_salt();
// Where the installation's salt lives: beside the evaluation cache.
std::filesystem::path salt_file();
// The salt stored in `file`, created (with its directory) when missing. Throws
// std::runtime_error naming the file and the way out when it cannot be created or read, or
// does not hold a salt.
std::string installation_salt(const std::filesystem::path& file);

}  // namespace chipgym::env
