#include "pgwire/error_response.h"

#include "pgwire/byte_io.h"

namespace pgw::pgwire {

namespace {

Status decode_fields(std::string_view body, const char* what, std::vector<ErrorField>& fields) {
  ByteReader r(body);
  for (;;) {
    char code;
    if (!r.read_char(code)) return make_error(std::string(what) + " is not terminated");
    if (code == '\0') break;
    std::string_view value;
    if (!r.read_cstring(value)) return make_error(std::string(what) + " has an unterminated field");
    fields.push_back(ErrorField{code, value});
  }
  if (!r.at_end()) return make_error(std::string(what) + " has unexpected trailing bytes");
  return ok_status();
}

void encode_fields(char type, const std::vector<ErrorField>& fields, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(type);
  for (const ErrorField& f : fields) {
    w.ch(f.code);
    w.cstring(f.value);
  }
  w.u8(0);
  w.end_message(mark);
}

void put_field_without_nul(ByteWriter& w, char code, std::string_view value) {
  w.ch(code);
  for (char c : value) {
    if (c != '\0') w.ch(c);
  }
  w.u8(0);
}

void build(char type, const ErrorSpec& spec, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(type);
  put_field_without_nul(w, error_field::kSeverity, spec.severity);
  put_field_without_nul(w, error_field::kSeverityNonLocalized, spec.severity);
  put_field_without_nul(w, error_field::kSqlState, spec.sqlstate);
  put_field_without_nul(w, error_field::kMessage, spec.message);
  if (!spec.detail.empty()) put_field_without_nul(w, error_field::kDetail, spec.detail);
  if (!spec.hint.empty()) put_field_without_nul(w, error_field::kHint, spec.hint);
  w.u8(0);
  w.end_message(mark);
}

}  // namespace

std::string_view ErrorNoticeFields::find(char code) const {
  for (const ErrorField& f : fields) {
    if (f.code == code) return f.value;
  }
  return {};
}

std::string_view ErrorNoticeFields::severity() const {
  const std::string_view v = find(error_field::kSeverityNonLocalized);
  return v.empty() ? find(error_field::kSeverity) : v;
}

Result<ErrorResponse> ErrorResponse::decode(std::string_view body) {
  ErrorResponse msg;
  if (Status s = decode_fields(body, "error response", msg.fields); !s) return make_error(s.error());
  return msg;
}

void encode(const ErrorResponse& msg, std::string& out) { encode_fields(ErrorResponse::kType, msg.fields, out); }

Result<NoticeResponse> NoticeResponse::decode(std::string_view body) {
  NoticeResponse msg;
  if (Status s = decode_fields(body, "notice response", msg.fields); !s) return make_error(s.error());
  return msg;
}

void encode(const NoticeResponse& msg, std::string& out) { encode_fields(NoticeResponse::kType, msg.fields, out); }

void build_error_response(const ErrorSpec& spec, std::string& out) { build(ErrorResponse::kType, spec, out); }
void build_notice_response(const ErrorSpec& spec, std::string& out) { build(NoticeResponse::kType, spec, out); }

}  // namespace pgw::pgwire
