#include "engine/message_slicer.h"

namespace pgw::engine {

bool MessageSlicer::validate_header(char type, uint32_t length) {
  if (length < 4) {
    error_ = "message " + pgwire::describe_type(type) + " has invalid length " + std::to_string(length);
    return false;
  }
  if (length > max_message_size_) {
    error_ = "message " + pgwire::describe_type(type) + " of " + std::to_string(length) +
             " bytes exceeds the maximum message size of " + std::to_string(max_message_size_) + " bytes";
    return false;
  }
  return true;
}

}  // namespace pgw::engine
