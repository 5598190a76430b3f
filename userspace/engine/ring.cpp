#include "engine/ring.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pgw::engine {

ProvidedBuffers::~ProvidedBuffers() {
  if (buf_ring_ != nullptr) {
    io_uring_unregister_buf_ring(ring_, group_id_);
    munmap(buf_ring_, ring_bytes_);
  }
  if (base_ != nullptr) munmap(base_, static_cast<size_t>(count_) * size_);
}

Status ProvidedBuffers::init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size) {
  // The kernel requires a power-of-two ring of buffer descriptors.
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    return make_error("provided buffer count must be a power of two up to 32768");
  }
  ring_ = ring;
  group_id_ = group_id;
  count_ = count;
  size_ = size;
  ring_bytes_ = count * sizeof(io_uring_buf);
  refs_.assign(count + kMaxSpares, 0);
  void* r = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (r == MAP_FAILED) return make_error(std::string("mmap buffer ring: ") + strerror(errno));
  buf_ring_ = static_cast<io_uring_buf_ring*>(r);
  io_uring_buf_ring_init(buf_ring_);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc != 0) {
    munmap(buf_ring_, ring_bytes_);
    buf_ring_ = nullptr;
    return make_error(std::string("io_uring_register_buf_ring: ") + strerror(-rc));
  }
  // Anonymous memory is only backed once touched, so the resident size
  // grows with the number of buffers actually in use, not with count.
  void* b = mmap(nullptr, static_cast<size_t>(count) * size, PROT_READ | PROT_WRITE,
                 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (b == MAP_FAILED) return make_error(std::string("mmap buffers: ") + strerror(errno));
  base_ = static_cast<uint8_t*>(b);
  const int mask = io_uring_buf_ring_mask(count);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(buf_ring_, data(static_cast<uint16_t>(i)), size, static_cast<uint16_t>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(count));
  return ok_status();
}

void ProvidedBuffers::recycle(uint16_t buffer_id) {
  io_uring_buf_ring_add(buf_ring_, data(buffer_id), size_, buffer_id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
  --in_use_;
}

std::optional<uint16_t> ProvidedBuffers::borrow_spare() {
  size_t slot;
  if (!free_spare_slots_.empty()) {
    slot = free_spare_slots_.back();
    free_spare_slots_.pop_back();
  } else if (spares_.size() < kMaxSpares) {
    slot = spares_.size();
    spares_.emplace_back();
  } else {
    return std::nullopt;
  }
  spares_[slot] = std::make_unique_for_overwrite<uint8_t[]>(kSpareSize);
  ++spares_in_use_;
  return static_cast<uint16_t>(count_ + slot);
}

void ProvidedBuffers::free_spare(uint16_t buffer_id) {
  const size_t slot = buffer_id - count_;
  // Freed, not kept: a burst of stalled clients must not leave the engine
  // holding their memory once they are gone.
  spares_[slot].reset();
  free_spare_slots_.push_back(static_cast<uint16_t>(slot));
  --spares_in_use_;
}

Ring::~Ring() {
  if (ready_) io_uring_queue_exit(&ring_);
}

Status Ring::init(unsigned entries) {
  io_uring_params params{};
  // One thread owns each ring, and completions are reaped only when the
  // loop asks for them: the kernel can skip cross-thread wakeups entirely.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {
    // Older kernels (< 6.1) lack DEFER_TASKRUN; COOP_TASKRUN is the next best.
    params = io_uring_params{};
    params.flags = IORING_SETUP_COOP_TASKRUN;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (rc != 0) return make_error(std::string("io_uring_queue_init: ") + strerror(-rc));
  ready_ = true;
  return ok_status();
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

int Ring::submit_and_wait() { return io_uring_submit_and_wait(&ring_, 1); }

}  // namespace pgw::engine
