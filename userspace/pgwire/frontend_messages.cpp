#include "pgwire/frontend_messages.h"

#include "pgwire/byte_io.h"
#include "pgwire/codec_errors.h"

namespace pgw::pgwire {

using detail::invalid;
using detail::trailing_bytes;
using detail::truncated;

namespace {

// PostgreSQL's rule for Bind and FunctionCall: no format code, one for all,
// or exactly one per value.
bool format_count_fits(size_t formats, size_t values) { return formats == 0 || formats == 1 || formats == values; }

bool valid_target(char target) { return target == kTargetStatement || target == kTargetPortal; }

}  // namespace

Result<Query> Query::decode(std::string_view body) {
  constexpr const char* kName = "Query";
  ByteReader r(body);
  Query msg;
  if (!r.read_cstring(msg.query)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const Query& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(Query::kType);
  w.cstring(msg.query);
  w.end_message(mark);
}

Result<Parse> Parse::decode(std::string_view body) {
  constexpr const char* kName = "Parse";
  ByteReader r(body);
  Parse msg;
  if (!r.read_cstring(msg.statement) || !r.read_cstring(msg.query) || !read_wire_array(r, msg.parameter_types)) {
    return truncated(kName);
  }
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const Parse& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(Parse::kType);
  w.cstring(msg.statement);
  w.cstring(msg.query);
  write_wire_array(w, msg.parameter_types);
  w.end_message(mark);
}

int16_t Bind::parameter_format(size_t i) const {
  if (parameter_formats.empty()) return kFormatText;
  if (parameter_formats.size() == 1) return parameter_formats[0];
  return parameter_formats[i];
}

Result<Bind> Bind::decode(std::string_view body) {
  constexpr const char* kName = "Bind";
  ByteReader r(body);
  Bind msg;
  if (!r.read_cstring(msg.portal) || !r.read_cstring(msg.statement) || !read_wire_array(r, msg.parameter_formats)) {
    return truncated(kName);
  }
  if (!read_value_list(r, msg.parameters)) return invalid(kName, "parameter values are truncated or malformed");
  if (!read_wire_array(r, msg.result_formats)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  if (!format_count_fits(msg.parameter_formats.size(), msg.parameters.size())) {
    return invalid(kName, std::to_string(msg.parameter_formats.size()) + " parameter format codes for " +
                              std::to_string(msg.parameters.size()) + " parameters");
  }
  if (!valid_format_codes(msg.parameter_formats) || !valid_format_codes(msg.result_formats)) {
    return invalid(kName, "format code other than 0 or 1");
  }
  return msg;
}

void encode(const Bind& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(Bind::kType);
  w.cstring(msg.portal);
  w.cstring(msg.statement);
  write_wire_array(w, msg.parameter_formats);
  write_value_list(w, msg.parameters);
  write_wire_array(w, msg.result_formats);
  w.end_message(mark);
}

template <typename T>
static Result<T> decode_target_and_name(std::string_view body, const char* name) {
  ByteReader r(body);
  T msg;
  if (!r.read_char(msg.target) || !r.read_cstring(msg.name)) return truncated(name);
  if (!r.at_end()) return trailing_bytes(name);
  if (!valid_target(msg.target)) return invalid(name, "target must be 'S' or 'P'");
  return msg;
}

template <typename T>
static void encode_target_and_name(const T& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(T::kType);
  w.ch(msg.target);
  w.cstring(msg.name);
  w.end_message(mark);
}

Result<Close> Close::decode(std::string_view body) { return decode_target_and_name<Close>(body, "Close"); }
void encode(const Close& msg, std::string& out) { encode_target_and_name(msg, out); }

Result<Describe> Describe::decode(std::string_view body) {
  return decode_target_and_name<Describe>(body, "Describe");
}
void encode(const Describe& msg, std::string& out) { encode_target_and_name(msg, out); }

Result<Execute> Execute::decode(std::string_view body) {
  constexpr const char* kName = "Execute";
  ByteReader r(body);
  Execute msg;
  if (!r.read_cstring(msg.portal) || !r.read_i32(msg.max_rows)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const Execute& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(Execute::kType);
  w.cstring(msg.portal);
  w.i32(msg.max_rows);
  w.end_message(mark);
}

Result<FunctionCall> FunctionCall::decode(std::string_view body) {
  constexpr const char* kName = "FunctionCall";
  ByteReader r(body);
  FunctionCall msg;
  if (!r.read_u32(msg.function) || !read_wire_array(r, msg.argument_formats)) return truncated(kName);
  if (!read_value_list(r, msg.arguments)) return invalid(kName, "arguments are truncated or malformed");
  if (!r.read_i16(msg.result_format)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  if (!format_count_fits(msg.argument_formats.size(), msg.arguments.size())) {
    return invalid(kName, std::to_string(msg.argument_formats.size()) + " argument format codes for " +
                              std::to_string(msg.arguments.size()) + " arguments");
  }
  if (!valid_format_codes(msg.argument_formats) ||
      (msg.result_format != kFormatText && msg.result_format != kFormatBinary)) {
    return invalid(kName, "format code other than 0 or 1");
  }
  return msg;
}

void encode(const FunctionCall& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(FunctionCall::kType);
  w.u32(msg.function);
  write_wire_array(w, msg.argument_formats);
  write_value_list(w, msg.arguments);
  w.i16(msg.result_format);
  w.end_message(mark);
}

}  // namespace pgw::pgwire
