// The web console's access tokens: one random token per user, each in its own
// file, <state_dir>/console/<user>.token.
//
// `pgwarden console url` asks for the user's token (made on first use) and
// prints the console's URL with it; the browser sends it back as
// `Authorization: Bearer <token>` and the HTTP server asks user_for() whose
// it is. Whoever can read a token file can act as that user, so the
// directory is 0700 and each file 0600, owned by the daemon's user, from the
// moment it exists. A file that is not so (readable by others, another
// owner, a symbolic link, not a regular file) is never trusted: token_for()
// says why, and user_for() does not accept it.
//
// Nothing is cached: user_for() reads the directory each time (tokens are
// few), so a revoked or exposed token stops working at once, even when only
// its mode changed (which a directory-mtime cache would not see).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::admin {

class ConsoleTokens {
 public:
  // `dir` is <state_dir>/console. Nothing is touched until the first call;
  // token_for() creates it (mode 0700, and any missing parent 0700 too).
  explicit ConsoleTokens(std::filesystem::path dir);

  // The user's token, made if there is none yet: 32 bytes from RAND_bytes,
  // base64url without padding (43 characters), in <dir>/<user>.token.
  // Fails (saying why) on a user name that is not [A-Za-z0-9._-]{1,64} or
  // starts with '.', and on a directory or token file that is not private.
  Result<std::string> token_for(const std::string& user);

  // The user whose token `presented` is, compared in constant time against
  // every trusted token file; nullopt for any other string.
  std::optional<std::string> user_for(std::string_view presented) const;

  // Deletes the user's token: it stops working at once, and the next
  // token_for() makes a new one. An error if the user has none.
  Status revoke(const std::string& user);

  // [A-Za-z0-9._-]{1,64}, not starting with '.'.
  static bool valid_user(std::string_view user);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace pgw::admin
