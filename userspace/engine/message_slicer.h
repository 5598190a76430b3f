// Splits a stream of typed protocol messages into what can be forwarded as
// is and the messages pgwarden must see whole.
//
// The relay forwards received buffers without copying. When it must inspect
// some messages (a Query to classify, an ErrorResponse to rewrite, later a
// DataRow to mask), only those are assembled into a std::string; the bytes
// of every other message are reported as ranges of the chunk they arrived
// in, so they can still be sent from the receive buffer. A message header
// split across chunks is held back (at most five bytes) until its type is
// known.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "pgwire/byte_io.h"
#include "pgwire/frame.h"

namespace pgw::engine {

class MessageSlicer {
 public:
  // What happened to the bytes of a chunk, in stream order.
  struct Sink {
    virtual ~Sink() = default;
    // Bytes [offset, offset+length) of the current chunk belong to messages
    // nobody needs to see: forward them.
    virtual void pass_range(size_t offset, size_t length) = 0;
    // Header bytes held back from an earlier chunk, of a message that is
    // not inspected: forward them before the next range.
    virtual void pass_bytes(std::string_view bytes) = 0;
    // A whole inspected message (type byte, length and body). The view is
    // valid only during the call; it points into the chunk when the message
    // was whole in it.
    virtual void message(char type, std::string_view whole) = 0;
    // Every message's type, when its header is complete (inspected or not),
    // before any of its bytes are reported; `body_start` is as much of its
    // body as this chunk holds (possibly nothing).
    virtual void header(char /*type*/, std::string_view /*body_start*/) {}
    // Asked after each inspected message: true stops the feed right after
    // it (the relay holds the client's next messages until the server has
    // answered a question of pgwarden's own); stopped_at() says where.
    virtual bool stop() { return false; }
  };

  explicit MessageSlicer(uint32_t max_message_size = pgwire::kDefaultMaxMessageSize)
      : max_message_size_(max_message_size) {}

  // `inspect(type)` decides, once per message, whether it is assembled.
  // Returns false when the stream is malformed; error() says why.
  template <typename Inspect>
  bool feed(std::string_view chunk, Inspect&& inspect, Sink& sink);

  bool at_boundary() const { return header_have_ == 0 && left_ == 0; }
  // After a feed the sink stopped: the offset in the chunk where the next
  // message starts (the rest is the caller's to feed again later); npos
  // when the whole chunk was taken.
  size_t stopped_at() const { return stopped_at_; }
  // Body size of the message whose header was just reported (valid inside
  // Sink::header).
  uint64_t current_body_size() const { return current_body_; }
  const std::string& error() const { return error_; }
  void set_max_message_size(uint32_t m) { max_message_size_ = m; }

 private:
  bool validate_header(char type, uint32_t length);

  uint32_t max_message_size_;
  char header_[pgwire::kHeaderSize] = {};
  size_t header_have_ = 0;
  uint64_t left_ = 0;         // bytes of the current message still to come
  uint64_t current_body_ = 0; // body size of the current message
  bool assembling_ = false;   // the current message is being assembled
  std::string assembled_;
  std::string error_;
  size_t stopped_at_ = std::string_view::npos;
};

template <typename Inspect>
bool MessageSlicer::feed(std::string_view chunk, Inspect&& inspect, Sink& sink) {
  size_t pos = 0;
  size_t pass_from = 0;  // start of the pending pass-through range
  stopped_at_ = std::string_view::npos;
  auto flush_pass = [&](size_t upto) {
    if (upto > pass_from) sink.pass_range(pass_from, upto - pass_from);
    pass_from = upto;
  };
  while (pos < chunk.size()) {
    if (left_ > 0) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(left_, chunk.size() - pos));
      if (assembling_) {
        assembled_.append(chunk.substr(pos, take));
      }
      pos += take;
      left_ -= take;
      if (assembling_) {
        pass_from = pos;
        if (left_ == 0) {
          assembling_ = false;
          sink.message(assembled_[0], assembled_);
          assembled_.clear();
          if (sink.stop()) {
            stopped_at_ = pos;
            return true;
          }
        }
      }
      continue;
    }
    // A new header starts (or continues) here.
    const size_t header_start = pos;
    const size_t need = pgwire::kHeaderSize - header_have_;
    const size_t take = std::min(need, chunk.size() - pos);
    std::memcpy(header_ + header_have_, chunk.data() + pos, take);
    header_have_ += take;
    pos += take;
    if (header_have_ < pgwire::kHeaderSize) {
      // The rest of the header is in the next chunk: hold these bytes back.
      flush_pass(header_start);
      pass_from = pos;
      break;
    }
    const bool header_was_split = take < pgwire::kHeaderSize;
    header_have_ = 0;
    const char type = header_[0];
    const uint32_t length = pgwire::load_u32(header_ + 1);
    if (!validate_header(type, length)) return false;
    left_ = length - 4;
    current_body_ = left_;
    sink.header(type, chunk.substr(pos, static_cast<size_t>(std::min<uint64_t>(left_, chunk.size() - pos))));
    if (inspect(type)) {
      flush_pass(header_start);
      if (!header_was_split && left_ <= chunk.size() - pos) {
        // Whole in this chunk: no copy; the sink may still forward it as a
        // range of the chunk.
        pos += static_cast<size_t>(left_);
        left_ = 0;
        pass_from = pos;
        sink.message(type, chunk.substr(header_start, pos - header_start));
        if (sink.stop()) {
          stopped_at_ = pos;
          return true;
        }
        continue;
      }
      assembling_ = true;
      assembled_.assign(header_, pgwire::kHeaderSize);
      pass_from = pos;
      if (left_ == 0) {
        assembling_ = false;
        sink.message(type, assembled_);
        assembled_.clear();
        if (sink.stop()) {
          stopped_at_ = pos;
          return true;
        }
      }
    } else if (header_was_split) {
      // Part of this header was held back from the previous chunk.
      flush_pass(header_start);
      sink.pass_bytes(std::string_view(header_, pgwire::kHeaderSize - take));
      pass_from = header_start;
    }
  }
  flush_pass(pos);
  return true;
}

}  // namespace pgw::engine
