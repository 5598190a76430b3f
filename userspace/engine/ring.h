// One io_uring per loop thread, plus the provided-buffer ring its receives
// draw from. The loop submits everything it queued while handling one batch
// of completions in a single io_uring_enter, which is where pgwarden's
// per-message syscall budget is won.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"

namespace pgw::engine {

// Receives name a buffer group instead of a buffer: the kernel picks a free
// buffer only when data arrives, so an idle connection costs no buffer memory.
//
// When every ring buffer is out (clients that stopped reading each hold one),
// a receive borrows a spare instead: a small buffer allocated for that one
// receive and freed when its last reference goes. Spares share the id space
// (ids from count() on), so the relay moves them like any other buffer and a
// session never waits on buffers other sessions hold.
class ProvidedBuffers {
 public:
  ProvidedBuffers() = default;
  ProvidedBuffers(const ProvidedBuffers&) = delete;
  ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;
  ~ProvidedBuffers();

  Status init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size);
  uint16_t group_id() const { return group_id_; }
  uint32_t buffer_size() const { return size_; }
  uint8_t* data(uint16_t buffer_id) {
    if (buffer_id >= count_) return spares_[buffer_id - count_].get();
    return base_ + static_cast<size_t>(buffer_id) * size_;
  }
  // A receive completed into this buffer: its receiver holds one reference.
  void take(uint16_t buffer_id) {
    refs_[buffer_id] = 1;
    if (buffer_id < count_) ++in_use_;
  }
  // Each queued send of a range of the buffer holds another reference.
  void retain(uint16_t buffer_id) { ++refs_[buffer_id]; }
  // Drops a reference; the last one hands the buffer back to the kernel.
  // Returns true when it did.
  bool release(uint16_t buffer_id) {
    if (--refs_[buffer_id] != 0) return false;
    if (buffer_id >= count_) {
      free_spare(buffer_id);
      return false;
    }
    recycle(buffer_id);
    return true;
  }
  // Ring buffers out now (spares not counted).
  uint32_t in_use() const { return in_use_; }
  uint32_t count() const { return count_; }

  // A spare of kSpareSize bytes for one plain receive, or none when
  // kMaxSpares are out (the receive then waits for a ring buffer).
  static constexpr uint32_t kSpareSize = 16 * 1024;
  static constexpr uint32_t kMaxSpares = 4096;
  std::optional<uint16_t> borrow_spare();
  uint32_t spares_in_use() const { return spares_in_use_; }

 private:
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* buf_ring_ = nullptr;
  uint8_t* base_ = nullptr;
  uint16_t group_id_ = 0;
  uint32_t count_ = 0;
  uint32_t size_ = 0;
  uint32_t in_use_ = 0;
  size_t ring_bytes_ = 0;
  std::vector<uint16_t> refs_;  // ring buffers, then spares
  std::vector<std::unique_ptr<uint8_t[]>> spares_;
  std::vector<uint16_t> free_spare_slots_;
  uint32_t spares_in_use_ = 0;

  void recycle(uint16_t buffer_id);
  void free_spare(uint16_t buffer_id);
};

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  Status init(unsigned entries);
  io_uring* raw() { return &ring_; }

  // Never fails: when the submission queue is full it is flushed first.
  io_uring_sqe* sqe();
  // Submits what is queued and waits for at least one completion.
  int submit_and_wait();

 private:
  io_uring ring_{};
  bool ready_ = false;
};

}  // namespace pgw::engine
