#include "mask/copy_rewriter.h"

#include "mask/field_masker.h"
#include "mask/scan_text.h"

namespace pgw::mask {
namespace {

// One field as it sits in the data: bytes [begin, end), and whether it needs
// decoding before its value is known.
struct RawField {
  size_t begin = 0;
  size_t end = 0;
  bool escaped = false;  // text: holds a backslash; csv: holds a quoted part
  bool null = false;
};

int hex_value(char c) {
  if (detail::is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---- text format --------------------------------------------------------

RawField scan_text_field(std::string_view d, size_t pos, const CopyFormat& f) {
  RawField r{pos, pos, false, false};
  size_t i = pos;
  while (i < d.size()) {
    const char c = d[i];
    if (c == '\\') {
      r.escaped = true;
      i = i + 2 < d.size() ? i + 2 : d.size();
      continue;
    }
    if (c == f.delimiter || c == '\n') break;
    ++i;
  }
  r.end = i;
  r.null = d.substr(r.begin, r.end - r.begin) == f.null_string;
  return r;
}

// Decodes the backslash escapes PostgreSQL's COPY text format defines.
void decode_text(std::string_view raw, std::string& out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\\' || i + 1 == raw.size()) {
      out.push_back(c);
      continue;
    }
    const char e = raw[++i];
    switch (e) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x': {
        int v = -1;
        if (i + 1 < raw.size() && (v = hex_value(raw[i + 1])) >= 0) {
          ++i;
          int v2;
          if (i + 1 < raw.size() && (v2 = hex_value(raw[i + 1])) >= 0) {
            v = v * 16 + v2;
            ++i;
          }
          out.push_back(static_cast<char>(v));
        } else {
          out.push_back('x');
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k)
            v = v * 8 + (raw[++i] - '0');
          out.push_back(static_cast<char>(v & 0xFF));
        } else {
          out.push_back(e);  // \\, \<delimiter>, and any other character as itself
        }
    }
  }
}

void encode_text(std::string_view value, const CopyFormat& f, std::string& out) {
  for (char c : value) {
    switch (c) {
      case '\\': out.append("\\\\"); continue;
      case '\b': out.append("\\b"); continue;
      case '\f': out.append("\\f"); continue;
      case '\n': out.append("\\n"); continue;
      case '\r': out.append("\\r"); continue;
      case '\t': out.append("\\t"); continue;
      case '\v': out.append("\\v"); continue;
      default:
        if (c == f.delimiter) out.push_back('\\');
        out.push_back(c);
    }
  }
}

// ---- CSV format ---------------------------------------------------------

Result<RawField> scan_csv_field(std::string_view d, size_t pos, const CopyFormat& f) {
  RawField r{pos, pos, false, false};
  bool in_quotes = false;
  size_t i = pos;
  for (;;) {
    if (i >= d.size()) {
      if (in_quotes) return make_error("COPY CSV data ends inside a quoted field");
      break;
    }
    const char c = d[i];
    if (in_quotes) {
      if (c == f.escape && i + 1 < d.size() && (d[i + 1] == f.quote || d[i + 1] == f.escape)) {
        i += 2;
      } else {
        if (c == f.quote) in_quotes = false;
        ++i;
      }
      continue;
    }
    if (c == f.delimiter || c == '\n') break;
    if (c == f.quote) {
      in_quotes = true;
      r.escaped = true;
    }
    ++i;
  }
  r.end = i;
  r.null = !r.escaped && d.substr(r.begin, r.end - r.begin) == f.null_string;
  return r;
}

void decode_csv(std::string_view raw, const CopyFormat& f, std::string& out) {
  bool in_quotes = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (in_quotes) {
      if (c == f.escape && i + 1 < raw.size() && (raw[i + 1] == f.quote || raw[i + 1] == f.escape)) {
        out.push_back(raw[++i]);
      } else if (c == f.quote) {
        in_quotes = false;
      } else {
        out.push_back(c);
      }
    } else if (c == f.quote) {
      in_quotes = true;
    } else {
      out.push_back(c);
    }
  }
}

void encode_csv(std::string_view value, bool was_quoted, const CopyFormat& f, std::string& out) {
  bool quote = was_quoted || value == f.null_string || value == "\\.";
  for (size_t i = 0; !quote && i < value.size(); ++i) {
    const char c = value[i];
    quote = c == f.delimiter || c == f.quote || c == f.escape || c == '\n' || c == '\r';
  }
  if (!quote) {
    out.append(value);
    return;
  }
  out.push_back(f.quote);
  for (char c : value) {
    if (c == f.quote || c == f.escape) out.push_back(f.escape);
    out.push_back(c);
  }
  out.push_back(f.quote);
}

}  // namespace

Result<Rewrite> rewrite_copy_data(std::string_view data, const CopyFormat& format, const RowPlan& plan,
                                  std::string& out) {
  if (!plan.needs_work() || data.empty()) return Rewrite::unchanged;
  const bool csv = format.kind == CopyFormat::Kind::csv;

  thread_local std::string decoded;
  thread_local std::string masked;
  const size_t out_start = out.size();
  auto fail = [&](std::string message) -> Result<Rewrite> {
    out.resize(out_start);
    return make_error(std::move(message));
  };

  bool changed = false;
  size_t copied = 0;
  size_t pos = 0;
  size_t row = 0;
  while (pos < data.size()) {
    ++row;
    for (size_t col = 0; col < plan.size(); ++col) {
      RawField field;
      if (csv) {
        Result<RawField> r = scan_csv_field(data, pos, format);
        if (!r) return fail(r.error());
        field = *r;
      } else {
        field = scan_text_field(data, pos, format);
      }
      const char terminator = detail::at(data, field.end);
      const bool last = col + 1 == plan.size();
      if (!last && (field.end == data.size() || terminator != format.delimiter)) {
        return fail("COPY row " + std::to_string(row) + " has " + std::to_string(col + 1) +
                    " fields, the plan expects " + std::to_string(plan.size()));
      }
      if (last && field.end != data.size() && terminator != '\n') {
        return fail("COPY row " + std::to_string(row) + " has more than the " + std::to_string(plan.size()) +
                    " fields the plan expects");
      }
      pos = field.end == data.size() ? field.end : field.end + 1;

      const ColumnRule& rule = plan[col];
      if (rule.action == ColumnAction::pass || field.null) continue;
      std::string_view value = data.substr(field.begin, field.end - field.begin);
      if (field.escaped) {
        decoded.clear();
        if (csv) {
          decode_csv(value, format, decoded);
        } else {
          decode_text(value, decoded);
        }
        value = decoded;
      }
      masked.clear();
      const detail::FieldOutcome outcome = detail::mask_field(rule, value, /*binary=*/false, masked);
      if (outcome == detail::FieldOutcome::keep) continue;

      out.append(data.substr(copied, field.begin - copied));
      if (outcome == detail::FieldOutcome::null) {
        out.append(format.null_string);
      } else if (csv) {
        encode_csv(masked, field.escaped, format, out);
      } else {
        encode_text(masked, format, out);
      }
      copied = field.end;
      changed = true;
    }
  }
  if (!changed) return Rewrite::unchanged;
  out.append(data.substr(copied));
  return Rewrite::rewritten;
}

}  // namespace pgw::mask
