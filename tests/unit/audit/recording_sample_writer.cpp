// Writes one sample session recording, for tests/integration/
// test_recording_verify.py (which then runs `pgwarden sessions verify` on it):
//
//   recording_sample_writer --key FILE --dir DIR --session ID [--records N]
//                           [--no-compress] [--no-close]
//
// Prints the file's path. Exit 0, or 1 with the error on stderr.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "audit/recording_keys.h"
#include "recording_test_util.h"

int main(int argc, char** argv) {
  std::string key_path, dir, session;
  int records = 100;
  bool compress = true, close = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--key") {
      key_path = value();
    } else if (a == "--dir") {
      dir = value();
    } else if (a == "--session") {
      session = value();
    } else if (a == "--records") {
      records = std::atoi(value().c_str());
    } else if (a == "--no-compress") {
      compress = false;
    } else if (a == "--no-close") {
      close = false;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (key_path.empty() || dir.empty() || session.empty()) {
    std::fprintf(stderr, "usage: recording_sample_writer --key FILE --dir DIR --session ID [--records N] "
                         "[--no-compress] [--no-close]\n");
    return 2;
  }
  auto key = pgw::audit::SigningKey::load(key_path);
  if (!key) {
    std::fprintf(stderr, "%s\n", key.error().c_str());
    return 1;
  }
  try {
    auto s = pgw::audit::testing::write_sample(
        dir, std::make_shared<const pgw::audit::SigningKey>(std::move(key).value()), session, records, compress, close);
    std::printf("%s\n", s.path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
