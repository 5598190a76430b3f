#include "audit/recording_format.h"

#include <cstring>

namespace pgw::audit {

std::string record_type_name(RecordType type) {
  switch (type) {
    case RecordType::header: return "header";
    case RecordType::client_message: return "client";
    case RecordType::server_message: return "server";
    case RecordType::event: return "event";
  }
  return "type " + std::to_string(static_cast<unsigned>(type));
}

void signed_message(unsigned char out[kSignedMessageSize], uint8_t kind, const unsigned char file_id[kFileIdSize],
                    uint64_t record_count, const unsigned char chain_head[kHashSize]) {
  unsigned char* p = out;
  std::memcpy(p, kSignatureContext.data(), kSignatureContext.size());
  p += kSignatureContext.size();
  *p++ = kind;
  std::memcpy(p, file_id, kFileIdSize);
  p += kFileIdSize;
  put_u64(p, record_count);
  p += 8;
  std::memcpy(p, chain_head, kHashSize);
}

}  // namespace pgw::audit
