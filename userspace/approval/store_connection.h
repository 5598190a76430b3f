// One libpq connection of the shared approval store, with every wait
// bounded: libpq's blocking calls could hang a thread for as long as TCP
// lets them when the database stops answering, so this uses libpq's
// non-blocking API and poll() with a deadline. A command that misses its
// deadline closes the connection (the server then rolls back whatever it
// was doing) and is an error.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

struct pg_conn;

namespace pgw::approval {

// A result's rows, each value as text (nullopt: NULL).
using StoreRow = std::vector<std::optional<std::string>>;
using StoreRows = std::vector<StoreRow>;

class StoreConnection {
 public:
  using Clock = std::chrono::steady_clock;
  using Params = std::vector<std::optional<std::string>>;

  StoreConnection() = default;
  ~StoreConnection();
  StoreConnection(const StoreConnection&) = delete;
  StoreConnection& operator=(const StoreConnection&) = delete;

  // Connects with the libpq connection string `conninfo`. `wake_fd`, when
  // not -1, ends the wait early when it becomes readable (the owner is
  // stopping). Errors never contain the connection string.
  Status connect(const std::string& conninfo, Clock::time_point deadline, int wake_fd = -1);
  bool connected() const;
  void close();
  int socket() const;

  // Runs `sql` (with $1.. parameters, or several statements without any)
  // and returns the rows of its last result. An error from the server
  // leaves the connection usable; one of the connection closes it.
  Result<StoreRows> exec(const std::string& sql, const Params& params, Clock::time_point deadline);
  Result<StoreRows> exec(const std::string& sql, Clock::time_point deadline) { return exec(sql, {}, deadline); }

  // Reads what the server sent on its own (after the socket polled
  // readable) and appends the payloads of notifications. False: the
  // connection is gone (it is closed).
  bool read_notifications(std::vector<std::string>& payloads);

 private:
  // Waits until the socket is ready for `events` or the deadline passes.
  bool wait(short events, Clock::time_point deadline, int wake_fd = -1);

  pg_conn* conn_ = nullptr;
};

// Reads a DSN file like a password file: one line (a trailing newline is
// not part of it), not empty, at most 4 KiB. Errors name the file only.
Result<std::string> read_dsn_file(const std::string& path);

}  // namespace pgw::approval
