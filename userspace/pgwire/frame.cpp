#include "pgwire/frame.h"

#include <algorithm>
#include <cstdio>

#include "pgwire/byte_io.h"

namespace pgw::pgwire {

namespace {

// The one sentence both the scanner and extract_message() use, so the
// engine reports a bad length the same way whichever path saw it.
std::string length_error(char type, uint32_t length, uint32_t max_message_size) {
  if (length < 4) {
    return "invalid length " + std::to_string(static_cast<int32_t>(length)) + " in message of type " +
           describe_type(type) + " (must be at least 4)";
  }
  return "message of type " + describe_type(type) + " is " + std::to_string(length) +
         " bytes long, over the limit of " + std::to_string(max_message_size) + " bytes";
}

bool length_ok(uint32_t length, uint32_t max_message_size) {
  // Compared unsigned: a negative int32 length becomes huge and fails the limit.
  return length >= 4 && length <= max_message_size;
}

}  // namespace

std::string describe_type(char type) {
  const auto u = static_cast<unsigned char>(type);
  char buf[8];
  if (u >= 0x20 && u < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c'", type);
  } else {
    std::snprintf(buf, sizeof buf, "0x%02x", u);
  }
  return buf;
}

FrameScanner::Step FrameScanner::next(Frame& frame) {
  if (failed_) return Step::kError;

  // Skip the rest of the body of the message already reported.
  if (body_left_ > 0) {
    const size_t avail = chunk_.size() - pos_;
    const size_t n = body_left_ < avail ? static_cast<size_t>(body_left_) : avail;
    pos_ += n;
    body_left_ -= n;
    if (body_left_ > 0) return Step::kNeedMore;
  }
  if (pos_ == chunk_.size()) return Step::kNeedMore;

  const char* header;
  if (header_have_ == 0 && chunk_.size() - pos_ >= kHeaderSize) {
    // Fast path: the whole header is inside this chunk.
    header = chunk_.data() + pos_;
    pos_ += kHeaderSize;
  } else {
    const size_t n = std::min(kHeaderSize - header_have_, chunk_.size() - pos_);
    std::copy_n(chunk_.data() + pos_, n, header_ + header_have_);
    header_have_ += n;
    pos_ += n;
    if (header_have_ < kHeaderSize) return Step::kNeedMore;
    header_have_ = 0;
    header = header_;
  }

  const char type = header[0];
  const uint32_t length = load_u32(header + 1);
  if (!length_ok(length, max_message_size_)) return fail_length(type, length);

  frame.type = type;
  frame.length = length;
  frame.start = static_cast<std::ptrdiff_t>(pos_) - static_cast<std::ptrdiff_t>(kHeaderSize);
  body_left_ = length - 4;
  return Step::kFrame;
}

FrameScanner::Step FrameScanner::fail_length(char type, uint32_t length) {
  failed_ = true;
  error_ = length_error(type, length, max_message_size_);
  return Step::kError;
}

void FrameScanner::reset() {
  chunk_ = {};
  pos_ = 0;
  body_left_ = 0;
  header_have_ = 0;
  failed_ = false;
  error_.clear();
}

Result<std::optional<Message>> extract_message(std::string_view buffer, uint32_t max_message_size) {
  if (buffer.size() < kHeaderSize) return std::optional<Message>{};
  const char type = buffer[0];
  const uint32_t length = load_u32(buffer.data() + 1);
  if (!length_ok(length, max_message_size)) return make_error(length_error(type, length, max_message_size));
  const size_t total = size_t{length} + 1;
  if (buffer.size() < total) return std::optional<Message>{};
  return std::optional<Message>{Message{type, buffer.substr(kHeaderSize, length - 4), total}};
}

}  // namespace pgw::pgwire
