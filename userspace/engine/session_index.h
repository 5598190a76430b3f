// The session index (recording.index.dsn_file): a row per recorded session
// of every node, in the control database (pgwarden.sessions), so that
// `sessions list --all` on any node shows them all.
//
// Threads. Rows are handed over by the recording thread (put() never waits
// for the database) and written by the index's own thread on its own
// connection: an upsert when the session starts and again when it ends.
// While the database is down rows wait in a bounded queue (a session's later
// row replaces its earlier one; past the bound the oldest are dropped and
// counted) and are written when it answers again. Listing runs on the admin
// thread over a second connection, bounded by a timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "approval/store_connection.h"
#include "audit/recording_list.h"
#include "common/result.h"

namespace pgw::engine {

class SessionIndex {
 public:
  struct Options {
    std::string conninfo;
    std::chrono::milliseconds timeout{5000};       // one connect, one write, one listing
    std::chrono::milliseconds max_backoff{30'000};  // between reconnect attempts
    size_t max_queued = 10'000;                    // rows kept while the database is down
  };
  // Connects once and creates or checks the schema. An unreachable database
  // is not an error (rows wait for it); a schema newer than this pgwarden,
  // or one it may not create, is.
  static Result<std::unique_ptr<SessionIndex>> open(Options options);
  static Result<std::unique_ptr<SessionIndex>> open_file(const std::string& dsn_file);
  ~SessionIndex();
  SessionIndex(const SessionIndex&) = delete;
  SessionIndex& operator=(const SessionIndex&) = delete;

  // The session's row as it stands now (start, or end with its counts).
  void put(audit::RecordingSummary row);

  // Every node's sessions, newest first (the admin thread; blocking,
  // bounded by the timeout).
  Result<std::vector<audit::RecordingSummary>> list(const audit::RecordingFilter& filter, size_t limit);

  struct Health {
    bool up = false;
    uint64_t written = 0;
    uint64_t queued = 0;
    uint64_t dropped = 0;   // rows lost to the queue's bound
    uint64_t failures = 0;  // writes or connects that failed
    std::string last_error;
  };
  Health health() const;

 private:
  explicit SessionIndex(Options options);
  bool connect_writer();  // and set the schema up; false: not now
  void run();
  bool write(const audit::RecordingSummary& row);  // false: not written (connection gone)
  void failed(const std::string& why);

  const Options options_;
  approval::StoreConnection writer_;  // the index thread's
  int stop_fd_ = -1;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<audit::RecordingSummary> queue_;  // under mu_
  bool stopping_ = false;                      // under mu_
  Health health_;                              // under mu_

  std::mutex admin_mu_;
  approval::StoreConnection admin_;
};

}  // namespace pgw::engine
