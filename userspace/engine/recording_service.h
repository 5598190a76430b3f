// Session recording, engine side (recording.dir): what each session's client
// sent and received (after masking) and what pgwarden decided, on disk, off
// the loop threads.
//
// A loop thread only appends bytes to its session's SessionCapture (a small
// mutex it shares with nobody but the recording thread, taken per relayed
// chunk). The recording thread, every 100 ms, takes each capture's bytes,
// cuts them into protocol messages, and writes them with the session's
// RecordingWriter (audit/recording_writer.h: hash chain, signed block, one
// write); a session that ends is closed and fsynced. A write that fails
// marks the capture failed: under `recording.required` its session ends
// with 53100 and new sessions are refused until writing works again.
//
// Backpressure: a session whose bytes outrun the recording thread (a large
// result) stops being read once kPendingCap bytes wait in its capture, and
// is read again when the recording thread has taken them. The recording
// thread runs at SCHED_IDLE, so a session recording 200 MB pays for that
// itself, with CPU nobody else wants, and the other sessions do not.
//
// The recording thread also keeps the directory under recording.max_bytes
// and max_age (recording_retention.h), and hands each session's row to the
// session index (session_index.h) when one is configured.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/recording_keys.h"
#include "audit/recording_list.h"
#include "audit/recording_writer.h"
#include "common/result.h"
#include "engine/session_index.h"
#include "engine/session_registry.h"
#include "policy/config.h"

namespace pgw::engine {

class SessionCapture {
 public:
  // As the client sent them / as the client received them: whole chunks,
  // cut into messages on the recording thread.
  void client_bytes(std::string_view bytes) { append(Kind::client, bytes); }
  void server_bytes(std::string_view bytes) { append(Kind::server, bytes); }
  // A chunk that reaches the client in several pieces (passed through and
  // rewritten by masking): one frame and one lock for all of them.
  // `for_each_piece(add)` calls add(std::string_view) per piece, in order.
  template <class ForEachPiece>
  void server_pieces(ForEachPiece&& for_each_piece) {
    std::lock_guard lock(mu_);
    if (closed_) return;
    const size_t at = begin_frame(Kind::server);
    for_each_piece([this](std::string_view piece) { pending_.append(piece); });
    end_frame(at);
  }
  // One JSON object: a decision, an approval event.
  void event(const nlohmann::json& e) { append(Kind::event, e.dump()); }
  // An event already encoded as a JSON object (the allowed decision's fixed
  // form, built without allocating in steady state).
  void event_json(std::string_view json) { append(Kind::event, json); }
  // More bytes wait than the recording thread is let fall behind by: the
  // session reads no more until `resume` (set_resume) is called, from the
  // recording thread, once they are taken. Checked before each receive.
  bool pause_if_behind();
  // How a paused session is woken (posted to its loop thread); set once,
  // before the session relays.
  // Cleared (null) when the session is destroyed.
  void set_resume(std::function<void()> resume) {
    std::lock_guard lock(mu_);
    resume_ = std::move(resume);
  }
  // Writing failed: the session must end when recording is required.
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  std::string failure() const;

 private:
  friend class RecordingService;
  enum class Kind : uint8_t { client, server, event };
  void append(Kind kind, std::string_view bytes);
  // A frame's header at the end of pending_ (its length patched by
  // end_frame); under mu_.
  size_t begin_frame(Kind kind);
  void end_frame(size_t at);

  mutable std::mutex mu_;
  std::string pending_;  // [kind u8][monotonic ns u64][length u32][bytes] ... (under mu_)
  // The recording thread swaps pending_ with this and writes it; the two
  // buffers keep their capacity, so appending does not allocate in steady
  // state (recording thread only, outside the swap).
  std::string spare_;
  bool closed_ = false;  // under mu_
  bool paused_ = false;  // pause_if_behind() said so; under mu_
  std::function<void()> resume_;  // under mu_
  std::string failure_;  // under mu_
  std::atomic<bool> failed_{false};
  // Recording thread only.
  std::unique_ptr<audit::RecordingWriter> writer_;
  std::string carry_[2];  // a message cut across chunks, per direction
  nlohmann::json header_;
  // When the session started being recorded (open()): the file says so.
  std::chrono::system_clock::time_point opened_at_;
  uint64_t opened_ns_ = 0;
  std::string id_;
  std::shared_ptr<const SessionInfo> info_;  // who, and the statement counts
  std::string file_;                         // the file's name, once made
};

// What `sessions list` and the session index say of a live session now:
// who, where, since when, its counts so far (file, end: the caller's).
audit::RecordingSummary live_recording_summary(const SessionInfo& info);

class RecordingService {
 public:
  static Result<std::unique_ptr<RecordingService>> start(const policy::RecordingConfig& config);
  ~RecordingService();
  RecordingService(const RecordingService&) = delete;
  RecordingService& operator=(const RecordingService&) = delete;

  // While recording is required and recordings cannot be written, new
  // sessions are refused: the reason, or empty.
  std::string refusing() const;
  // A session starts being recorded (its file is made on the recording
  // thread; a failure shows as failed() on the capture).
  std::shared_ptr<SessionCapture> open(std::shared_ptr<const SessionInfo> info, nlohmann::json header);
  // The session ended: its file is finished, signed as closed, fsynced.
  void close(const std::shared_ptr<SessionCapture>& capture);
  // A capture paused its session: write now rather than at the next tick.
  void hurry() { wake_.notify_one(); }

  struct Health {
    bool required = false;
    std::string dir;
    uint64_t sessions = 0;        // files made
    uint64_t open = 0;
    uint64_t records = 0;
    uint64_t failures = 0;        // writes or creates that failed
    uint64_t failed_sessions = 0; // sessions whose recording failed (incomplete or missing)
    std::string last_error;       // "" : none
    // Times a session stopped being read because its recording was more
    // than kPendingCap behind (a large result, a COPY): backpressure.
    uint64_t backpressure_pauses = 0;
    // Retention (recording.max_bytes / max_age).
    uint64_t max_bytes = 0;
    int64_t max_age_s = 0;
    uint64_t dir_bytes = 0;       // what the recordings took after the last pass
    uint64_t retention_removed_files = 0;
    uint64_t retention_removed_bytes = 0;
  };
  Health health() const;

  // The file each live recording is written to, by session id.
  std::map<std::string, std::string> open_files() const;
  // The recording directory's listing (cached), signatures checked with
  // this engine's key.
  audit::RecordingDirectory& directory() { return directory_; }
  // The session index, or null when recording.index is not configured.
  SessionIndex* index() const { return index_.get(); }

 private:
  RecordingService(policy::RecordingConfig config, std::shared_ptr<const audit::SigningKey> key,
                   std::unique_ptr<SessionIndex> index);
  void run();
  void write(SessionCapture& c, std::string_view batch);
  void fail(SessionCapture& c, const std::string& why);
  void index_row(const SessionCapture& c, bool ended);
  void retain();
  // While refusing: whether the directory takes a write again (a full disk
  // with space freed, a directory made writable); if so, sessions are
  // accepted again.
  void probe_recovery();

  const policy::RecordingConfig config_;
  const std::shared_ptr<const audit::SigningKey> key_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::shared_ptr<SessionCapture>> captures_;  // under mu_
  bool stopping_ = false;
  std::atomic<bool> refusing_{false};
  std::string refusing_why_;  // under mu_
  std::chrono::steady_clock::time_point last_probe_{};  // recording thread only
  Health health_;             // under mu_
  std::map<std::string, std::string> open_files_;  // id -> file name (under mu_)
  audit::RecordingDirectory directory_;
  std::unique_ptr<SessionIndex> index_;
  std::chrono::steady_clock::time_point next_retention_{};
  std::thread thread_;
};

}  // namespace pgw::engine
