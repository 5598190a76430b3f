// One io_uring per loop thread, plus the provided-buffer ring its receives
// draw from. The loop submits everything it queued while handling one batch
// of completions in a single io_uring_enter, which is where pgwarden's
// per-message syscall budget is won.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace pgw::engine {

// Receives name a buffer group instead of a buffer: the kernel picks a free
// buffer only when data arrives, so an idle connection costs no buffer memory.
class ProvidedBuffers {
 public:
  ProvidedBuffers() = default;
  ProvidedBuffers(const ProvidedBuffers&) = delete;
  ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;
  ~ProvidedBuffers();

  Status init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size);
  uint16_t group_id() const { return group_id_; }
  uint32_t buffer_size() const { return size_; }
  uint8_t* data(uint16_t buffer_id) { return base_ + static_cast<size_t>(buffer_id) * size_; }
  // A receive completed into this buffer: its receiver holds one reference.
  void take(uint16_t buffer_id) {
    refs_[buffer_id] = 1;
    ++in_use_;
  }
  // Each queued send of a range of the buffer holds another reference.
  void retain(uint16_t buffer_id) { ++refs_[buffer_id]; }
  // Drops a reference; the last one hands the buffer back to the kernel.
  // Returns true when it did.
  bool release(uint16_t buffer_id) {
    if (--refs_[buffer_id] != 0) return false;
    recycle(buffer_id);
    return true;
  }
  uint32_t in_use() const { return in_use_; }
  uint32_t count() const { return count_; }

 private:
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* buf_ring_ = nullptr;
  uint8_t* base_ = nullptr;
  uint16_t group_id_ = 0;
  uint32_t count_ = 0;
  uint32_t size_ = 0;
  uint32_t in_use_ = 0;
  size_t ring_bytes_ = 0;
  std::vector<uint16_t> refs_;

  void recycle(uint16_t buffer_id);
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
