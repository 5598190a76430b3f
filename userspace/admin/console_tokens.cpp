#include "admin/console_tokens.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/quote.h"

namespace pgw::admin {

namespace {

constexpr std::string_view kSuffix = ".token";
constexpr std::size_t kTokenBytes = 32;
constexpr std::size_t kMinToken = 32;   // characters: a shorter one is refused as too weak
constexpr std::size_t kMaxToken = 256;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string errno_text(int e) { return std::strerror(e); }

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string base64url(const unsigned char* data, std::size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  if (size - i == 1) {
    unsigned v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    for (int shift = 18; shift >= 6; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

// The characters of an RFC 7235 token68 (without '=' padding).
bool valid_token(std::string_view token) {
  if (token.size() < kMinToken || token.size() > kMaxToken) return false;
  for (char c : token) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == '~' || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// mkdir -p with mode 0700 for whatever is missing.
Status make_dirs(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return ok_status();
  if (errno == ENOENT && dir.has_parent_path() && dir.parent_path() != dir) {
    if (Status parent = make_dirs(dir.parent_path()); !parent) return parent;
    if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return ok_status();
  }
  return make_error("cannot create the console token directory " + dir.string() + ": " + errno_text(errno));
}

// The directory, opened without following a symbolic link, and checked to
// be pgwarden's own and private.
Result<Fd> open_dir(const std::filesystem::path& dir, bool create) {
  if (create) {
    if (Status made = make_dirs(dir); !made) return Error{made.error()};
  }
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    int e = errno;
    if (e == ELOOP || e == ENOTDIR)
      return make_error("the console token directory " + dir.string() +
                        " is not a directory (a symbolic link is refused)");
    return make_error("cannot open the console token directory " + dir.string() + ": " + errno_text(e));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return make_error("cannot inspect the console token directory " + dir.string() + ": " + errno_text(errno));
  if (st.st_uid != ::geteuid())
    return make_error("the console token directory " + dir.string() + " is owned by uid " +
                      std::to_string(st.st_uid) + ", not by pgwarden's user (uid " + std::to_string(::geteuid()) +
                      "); refused");
  if (st.st_mode & 077)
    return make_error("the console token directory " + dir.string() + " is mode " + mode_text(st.st_mode) +
                      ": it must be private to pgwarden's user (chmod 700 " + dir.string() + ")");
  return fd;
}

// The token in <dir>/<name>: nullopt if there is no such file, an error if
// the file is there but not to be trusted.
Result<std::optional<std::string>> read_token(int dirfd, const std::string& name, const std::filesystem::path& dir) {
  const std::string path = (dir / name).string();
  const std::string not_trusted = ". It is not trusted: delete it, and a new token will be made.";
  Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    int e = errno;
    if (e == ENOENT) return std::optional<std::string>{};
    if (e == ELOOP) return make_error("the console token file " + path + " is a symbolic link" + not_trusted);
    return make_error("cannot open the console token file " + path + ": " + errno_text(e));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return make_error("cannot inspect the console token file " + path + ": " + errno_text(errno));
  if (!S_ISREG(st.st_mode))
    return make_error("the console token file " + path + " is not a regular file" + not_trusted);
  if (st.st_uid != ::geteuid())
    return make_error("the console token file " + path + " is owned by uid " + std::to_string(st.st_uid) +
                      ", not by pgwarden's user (uid " + std::to_string(::geteuid()) + ")" + not_trusted);
  if (st.st_mode & 077)
    return make_error("the console token file " + path + " is mode " + mode_text(st.st_mode) +
                      ": others may read or change it, so its token may be known to someone else" + not_trusted);
  std::string content;
  char buf[kMaxToken + 2];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("cannot read the console token file " + path + ": " + errno_text(errno));
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
    if (content.size() > kMaxToken + 2) break;
  }
  if (content.ends_with('\n')) content.pop_back();
  if (!valid_token(content))
    return make_error("the console token file " + path + " does not hold a console token (" +
                      std::to_string(kMinToken) + " to " + std::to_string(kMaxToken) + " base64url characters)" +
                      not_trusted);
  return std::optional<std::string>{std::move(content)};
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(errno_text(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

// A new token in <dir>/<name>, complete before it appears there: written to
// a private temporary file, then hard-linked to its name (which fails if the
// name exists, so a concurrent maker's token is never replaced). nullopt if
// another process made the file first.
Result<std::optional<std::string>> create_token(int dirfd, const std::string& name, const std::filesystem::path& dir) {
  const std::string path = (dir / name).string();
  unsigned char raw[kTokenBytes];
  unsigned char salt[8];
  if (RAND_bytes(raw, sizeof raw) != 1 || RAND_bytes(salt, sizeof salt) != 1)
    return make_error("cannot make a console token: the random number generator failed");
  std::string token = base64url(raw, sizeof raw);
  OPENSSL_cleanse(raw, sizeof raw);
  const std::string tmp = "." + name + "." + base64url(salt, sizeof salt);

  Fd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return make_error("cannot create " + (dir / tmp).string() + ": " + errno_text(errno));
  Status written = write_all(fd.get(), token + "\n");
  if (written && ::fsync(fd.get()) != 0) written = make_error(errno_text(errno));
  if (written && ::close(fd.release()) != 0) written = make_error(errno_text(errno));
  if (!written) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return make_error("cannot write the console token file " + path + ": " + written.error());
  }
  int linked = ::linkat(dirfd, tmp.c_str(), dirfd, name.c_str(), 0);
  int e = errno;
  ::unlinkat(dirfd, tmp.c_str(), 0);
  if (linked != 0) {
    if (e == EEXIST) return std::optional<std::string>{};
    return make_error("cannot create the console token file " + path + ": " + errno_text(e));
  }
  ::fsync(dirfd);
  return std::optional<std::string>{std::move(token)};
}

}  // namespace

ConsoleTokens::ConsoleTokens(std::filesystem::path dir) : dir_(std::move(dir)) {}

bool ConsoleTokens::valid_user(std::string_view user) {
  if (user.empty() || user.size() > 64 || user.front() == '.') return false;
  for (char c : user) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

static Status check_user(std::string_view user) {
  if (ConsoleTokens::valid_user(user)) return ok_status();
  return make_error("console user names are 1 to 64 of the characters A-Z a-z 0-9 . _ - (not starting with '.'); " +
                    quote_for_message(user) + " is not one");
}

Result<std::string> ConsoleTokens::token_for(const std::string& user) {
  if (Status valid = check_user(user); !valid) return Error{valid.error()};
  auto dir = open_dir(dir_, /*create=*/true);
  if (!dir) return Error{dir.error()};
  const std::string name = user + std::string(kSuffix);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto existing = read_token(dir->get(), name, dir_);
    if (!existing) return Error{existing.error()};
    if (*existing) return std::move(**existing);
    auto made = create_token(dir->get(), name, dir_);
    if (!made) return Error{made.error()};
    if (*made) return std::move(**made);
    // Another process made it between our look and our link: read theirs.
  }
  return make_error("cannot make the console token file " + (dir_ / name).string() +
                    ": it keeps appearing and disappearing");
}

std::optional<std::string> ConsoleTokens::user_for(std::string_view presented) const {
  if (presented.empty() || presented.size() > kMaxToken) return std::nullopt;
  auto dir = open_dir(dir_, /*create=*/false);
  if (!dir) return std::nullopt;
  int listing_fd = ::dup(dir->get());
  if (listing_fd < 0) return std::nullopt;
  DIR* listing = ::fdopendir(listing_fd);
  if (listing == nullptr) {
    ::close(listing_fd);
    return std::nullopt;
  }
  std::optional<std::string> found;
  while (dirent* entry = ::readdir(listing)) {
    std::string_view name = entry->d_name;
    if (!name.ends_with(kSuffix)) continue;
    std::string_view user = name.substr(0, name.size() - kSuffix.size());
    if (!valid_user(user)) continue;  // temporary files start with '.'
    auto token = read_token(dir->get(), std::string(name), dir_);
    if (!token || !*token) continue;  // untrusted or just revoked: never a match
    const std::string& t = **token;
    // Every token is compared, and in constant time, whatever matched before.
    bool same = t.size() == presented.size() && CRYPTO_memcmp(t.data(), presented.data(), t.size()) == 0;
    if (same && !found) found = std::string(user);
  }
  ::closedir(listing);
  return found;
}

Status ConsoleTokens::revoke(const std::string& user) {
  if (Status valid = check_user(user); !valid) return valid;
  auto dir = open_dir(dir_, /*create=*/false);
  if (!dir) return Error{dir.error()};
  const std::string name = user + std::string(kSuffix);
  if (::unlinkat(dir->get(), name.c_str(), 0) != 0) {
    int e = errno;
    if (e == ENOENT) return make_error(quote_for_message(user) + " has no console token (no " + (dir_ / name).string() + ")");
    return make_error("cannot delete the console token file " + (dir_ / name).string() + ": " + errno_text(e));
  }
  ::fsync(dir->get());
  return ok_status();
}

}  // namespace pgw::admin
