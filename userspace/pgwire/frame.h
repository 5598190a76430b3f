// Message boundaries in a stream of typed messages (1 type byte, then an
// int32 length that counts itself and the body but not the type byte).
//
// The engine forwards bytes without copying them, so it must learn where
// each message starts and ends while the bytes arrive in arbitrary chunks,
// without ever holding a whole message. FrameScanner keeps only the (at most
// five) header bytes that straddle a chunk boundary; it never allocates on
// the success path and never throws.
//
// When the engine does need a whole message (startup phase, authentication,
// a statement to classify) it accumulates bytes itself and calls
// extract_message() on the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::pgwire {

// PostgreSQL's own ceiling (MaxAllocSize - 1): no server accepts or produces
// a bigger message, so a length above it is corruption or an attack.
inline constexpr uint32_t kDefaultMaxMessageSize = 0x3fffffff - 1;

// Size of the type byte plus the length word.
inline constexpr size_t kHeaderSize = 5;

struct Frame {
  char type = 0;
  // The wire length field: counts itself (4 bytes) and the body.
  uint32_t length = 0;
  // Offset of the type byte within the chunk last fed to the scanner.
  // Negative when the header began in earlier chunks: -start bytes of this
  // message were in them.
  std::ptrdiff_t start = 0;

  size_t total_size() const { return size_t{length} + 1; }
  size_t body_size() const { return size_t{length} - 4; }
  // One past the message's last byte, relative to the current chunk; larger
  // than the chunk when the message continues in later chunks.
  std::ptrdiff_t end() const { return start + static_cast<std::ptrdiff_t>(total_size()); }
};

class FrameScanner {
 public:
  enum class Step {
    kFrame,     // a message header was completed; `frame` describes it
    kNeedMore,  // the current chunk is exhausted; feed the next one
    kError,     // the stream is malformed; error() says why (sticky)
  };

  explicit FrameScanner(uint32_t max_message_size = kDefaultMaxMessageSize)
      : max_message_size_(max_message_size) {}

  // Starts scanning a new chunk. Call it only after next() returned
  // kNeedMore for the previous chunk (the scanner keeps no pointer to it).
  void feed(std::string_view chunk) {
    chunk_ = chunk;
    pos_ = 0;
  }

  // Reports the next message whose header completes in the current chunk.
  // A message is reported once, when its header is complete, even if its
  // body continues into later chunks.
  Step next(Frame& frame);

  // Convenience: feeds `chunk` and calls on_frame(const Frame&) for every
  // message header in it. Returns false on a malformed stream.
  template <typename OnFrame>
  bool scan(std::string_view chunk, OnFrame&& on_frame) {
    feed(chunk);
    Frame frame;
    for (;;) {
      switch (next(frame)) {
        case Step::kFrame:
          on_frame(static_cast<const Frame&>(frame));
          break;
        case Step::kNeedMore:
          return true;
        case Step::kError:
          return false;
      }
    }
  }

  // True when no message is partially received: the stream can be cut or
  // handed over here (e.g. switching from forwarding to inspecting).
  bool at_boundary() const { return header_have_ == 0 && body_left_ == 0 && !failed_; }

  // Bytes of the current message still expected after the current chunk.
  uint64_t body_bytes_pending() const { return body_left_; }

  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }

  uint32_t max_message_size() const { return max_message_size_; }
  void set_max_message_size(uint32_t limit) { max_message_size_ = limit; }

  // Forgets all state, including a previous error.
  void reset();

 private:
  Step fail_length(char type, uint32_t length);

  uint32_t max_message_size_;
  std::string_view chunk_{};
  size_t pos_ = 0;
  uint64_t body_left_ = 0;
  char header_[kHeaderSize] = {};
  size_t header_have_ = 0;
  bool failed_ = false;
  std::string error_{};
};

// One complete message at the start of an accumulating buffer.
struct Message {
  char type = 0;
  std::string_view body{};  // after the length word
  size_t size = 0;        // bytes the message occupies in the buffer (type byte included)
};

// Returns the complete message at the start of `buffer`, std::nullopt when
// more bytes are needed, or an error when the header is invalid (length < 4
// or above `max_message_size`). The header is validated as soon as its five
// bytes are present, so an oversized message is refused before it is
// buffered.
Result<std::optional<Message>> extract_message(std::string_view buffer,
                                               uint32_t max_message_size = kDefaultMaxMessageSize);

// Printable form of a message type for error messages: 'Q' or 0x00.
std::string describe_type(char type);

}  // namespace pgw::pgwire
