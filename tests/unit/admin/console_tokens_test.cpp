// The web console's tokens: made private from the start, reused, matched only
// exactly, and never trusted once exposed or out of place.
#include "admin/console_tokens.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgw::admin {
namespace {

namespace fs = std::filesystem;

class ConsoleTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgw_console_tokens_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ / "state" / "console";  // neither exists yet
  }
  void TearDown() override { fs::remove_all(root_); }

  static unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::set<std::string> listing() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.insert(e.path().filename().string());
    return names;
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(ConsoleTokensTest, MakesAPrivateDirectoryAndTokenFile) {
  mode_t old_umask = ::umask(0);  // the modes must not depend on the caller's umask
  ConsoleTokens tokens(dir_);
  auto token = tokens.token_for("alice");
  ::umask(old_umask);
  ASSERT_TRUE(token.ok()) << token.error();
  EXPECT_EQ(token->size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_EQ(token->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(mode_of(dir_), 0700u);
  EXPECT_EQ(mode_of(dir_.parent_path()), 0700u);
  EXPECT_EQ(mode_of(dir_ / "alice.token"), 0600u);
  EXPECT_EQ(read(dir_ / "alice.token"), *token + "\n");
  EXPECT_EQ(listing(), std::set<std::string>{"alice.token"});  // no temporary file left behind
}

TEST_F(ConsoleTokensTest, ReusesTheExistingToken) {
  auto first = ConsoleTokens(dir_).token_for("alice");
  ASSERT_TRUE(first.ok()) << first.error();
  ConsoleTokens again(dir_);
  auto second = again.token_for("alice");
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(*first, *second);
  auto bob = again.token_for("bob");
  ASSERT_TRUE(bob.ok()) << bob.error();
  EXPECT_NE(*bob, *first);
}

TEST_F(ConsoleTokensTest, KnowsWhoseTokenItIs) {
  ConsoleTokens tokens(dir_);
  auto alice = tokens.token_for("alice");
  auto bob = tokens.token_for("bob.smith-2");
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_EQ(tokens.user_for(*alice), std::optional<std::string>("alice"));
  EXPECT_EQ(tokens.user_for(*bob), std::optional<std::string>("bob.smith-2"));
}

TEST_F(ConsoleTokensTest, RefusesAWrongToken) {
  ConsoleTokens tokens(dir_);
  EXPECT_EQ(tokens.user_for("anything"), std::nullopt);  // no directory yet
  auto token = tokens.token_for("alice");
  ASSERT_TRUE(token.ok()) << token.error();
  std::string changed = *token;
  changed.back() = changed.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(tokens.user_for(""), std::nullopt);
  EXPECT_EQ(tokens.user_for(changed), std::nullopt);
  EXPECT_EQ(tokens.user_for(token->substr(0, 42)), std::nullopt);
  EXPECT_EQ(tokens.user_for(*token + "A"), std::nullopt);
  EXPECT_EQ(tokens.user_for(*token + "\n"), std::nullopt);
  EXPECT_EQ(tokens.user_for("alice"), std::nullopt);
  EXPECT_EQ(tokens.user_for(std::string(100000, 'A')), std::nullopt);
}

TEST_F(ConsoleTokensTest, RefusesNamesThatAreNotPlainNames) {
  ConsoleTokens tokens(dir_);
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "../alice", "../../etc/passwd", "a/b", "/alice", ".hidden", "ali ce",
                          "alice\n", "al\\ice", "alice.token/..", "é", std::string("a\0b", 3), std::string(65, 'a')}) {
    auto token = tokens.token_for(bad);
    EXPECT_FALSE(token.ok()) << "accepted " << bad;
    if (!token.ok()) {
      EXPECT_NE(token.error().find("console user names are"), std::string::npos) << token.error();
    }
    EXPECT_FALSE(tokens.revoke(bad).ok()) << bad;
  }
  EXPECT_FALSE(fs::exists(dir_));  // nothing was made, in it or anywhere else
  EXPECT_TRUE(fs::is_empty(root_));
  EXPECT_TRUE(ConsoleTokens::valid_user(std::string(64, 'a')));
  EXPECT_TRUE(ConsoleTokens::valid_user("a.b_c-D9"));
}

TEST_F(ConsoleTokensTest, DoesNotTrustATokenFileOthersCanRead) {
  ConsoleTokens tokens(dir_);
  auto token = tokens.token_for("alice");
  ASSERT_TRUE(token.ok()) << token.error();
  ASSERT_EQ(::chmod((dir_ / "alice.token").c_str(), 0644), 0);
  auto again = tokens.token_for("alice");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("alice.token is mode 0644"), std::string::npos) << again.error();
  EXPECT_NE(again.error().find("not trusted"), std::string::npos) << again.error();
  EXPECT_EQ(tokens.user_for(*token), std::nullopt);
  // Group-readable is no better.
  ASSERT_EQ(::chmod((dir_ / "alice.token").c_str(), 0640), 0);
  EXPECT_FALSE(tokens.token_for("alice").ok());
  EXPECT_EQ(tokens.user_for(*token), std::nullopt);
  // Another user's token still works.
  auto bob = tokens.token_for("bob");
  ASSERT_TRUE(bob.ok()) << bob.error();
  EXPECT_EQ(tokens.user_for(*bob), std::optional<std::string>("bob"));
}

TEST_F(ConsoleTokensTest, DoesNotFollowASymbolicLink) {
  ConsoleTokens tokens(dir_);
  auto alice = tokens.token_for("alice");
  ASSERT_TRUE(alice.ok()) << alice.error();
  // A planted link with a perfectly private target is still refused.
  fs::create_symlink(dir_ / "alice.token", dir_ / "mallory.token");
  auto mallory = tokens.token_for("mallory");
  ASSERT_FALSE(mallory.ok());
  EXPECT_NE(mallory.error().find("symbolic link"), std::string::npos) << mallory.error();
  EXPECT_EQ(tokens.user_for(*alice), std::optional<std::string>("alice"));  // only through its own file
}

TEST_F(ConsoleTokensTest, DoesNotTrustAFileThatHoldsNoToken) {
  ConsoleTokens tokens(dir_);
  ASSERT_TRUE(tokens.token_for("alice").ok());
  {
    std::ofstream(dir_ / "bob.token") << "short\n";
  }
  ASSERT_EQ(::chmod((dir_ / "bob.token").c_str(), 0600), 0);
  auto bob = tokens.token_for("bob");
  ASSERT_FALSE(bob.ok());
  EXPECT_NE(bob.error().find("does not hold a console token"), std::string::npos) << bob.error();
  EXPECT_EQ(tokens.user_for("short"), std::nullopt);
}

TEST_F(ConsoleTokensTest, RefusesADirectoryOthersCanRead) {
  ConsoleTokens tokens(dir_);
  auto token = tokens.token_for("alice");
  ASSERT_TRUE(token.ok()) << token.error();
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  auto again = tokens.token_for("alice");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("chmod 700"), std::string::npos) << again.error();
  EXPECT_EQ(tokens.user_for(*token), std::nullopt);
}

TEST_F(ConsoleTokensTest, RefusesAFileOfAnotherOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  ConsoleTokens tokens(dir_);
  auto token = tokens.token_for("alice");
  ASSERT_TRUE(token.ok()) << token.error();
  ASSERT_EQ(::chown((dir_ / "alice.token").c_str(), 65534, 65534), 0);
  auto again = tokens.token_for("alice");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("owned by uid 65534"), std::string::npos) << again.error();
  EXPECT_EQ(tokens.user_for(*token), std::nullopt);
}

TEST_F(ConsoleTokensTest, RevokeEndsATokenAndTheNextOneIsNew) {
  ConsoleTokens tokens(dir_);
  auto old = tokens.token_for("alice");
  ASSERT_TRUE(old.ok()) << old.error();
  ASSERT_TRUE(tokens.revoke("alice").ok());
  EXPECT_EQ(tokens.user_for(*old), std::nullopt);
  auto again = tokens.revoke("alice");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("has no console token"), std::string::npos) << again.error();
  auto fresh = tokens.token_for("alice");
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  EXPECT_NE(*fresh, *old);
  EXPECT_EQ(tokens.user_for(*fresh), std::optional<std::string>("alice"));
}

}  // namespace
}  // namespace pgw::admin
