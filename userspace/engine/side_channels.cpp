#include "engine/side_channels.h"

#include <vector>

#include "mask/detect_mask.h"
#include "pgwire/backend_messages.h"
#include "pgwire/error_response.h"

namespace pgw::engine {

namespace {

namespace ef = pgwire::error_field;

// Messages are scanned with every detector, whatever the policy's detect
// rules say: they are short, rare, and never the data the agent asked for.
bool redact_detected(std::string& text) {
  static const mask::DetectorSet kAll = mask::DetectorSet::all();
  static const mask::MaskFunction kRedact = mask::MaskFunction::redact();
  return mask::mask_detected(text, kAll, kRedact);
}

// "…" and (…) stretches are where PostgreSQL's messages put values.
bool redact_quoted(std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool changed = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const char close = c == '"' ? '"' : c == '(' ? ')' : 0;
    if (close == 0) {
      out.push_back(c);
      continue;
    }
    const size_t end = text.find(close, i + 1);
    if (end == std::string::npos) {
      // Unterminated: everything after it may be the value.
      out.push_back(c);
      out.append("***");
      changed = true;
      break;
    }
    out.push_back(c);
    if (end > i + 1) {
      out.append("***");
      changed = true;
    }
    out.push_back(close);
    i = end;
  }
  if (changed) text = std::move(out);
  return changed;
}

bool withheld_when_masked(char code) {
  return code == ef::kDetail || code == ef::kHint || code == ef::kWhere || code == ef::kInternalQuery ||
         code == ef::kInternalPosition;
}

bool free_text(char code) {
  return code == ef::kMessage || code == ef::kDetail || code == ef::kHint || code == ef::kWhere ||
         code == ef::kInternalQuery || code == ef::kSchema || code == ef::kTable || code == ef::kColumn ||
         code == ef::kConstraint || code == ef::kDataType;
}

constexpr std::string_view kWithheld =
    "pgwarden: detail withheld because the statement reads masked values";

}  // namespace

std::optional<std::string> scrub_error_or_notice(char type, std::string_view body, bool reads_masked) {
  auto decoded = pgwire::ErrorResponse::decode(body);
  if (!decoded) {
    // Not parseable means not checkable: say so instead of forwarding it.
    std::string out;
    pgwire::ErrorSpec spec;
    spec.severity = type == 'E' ? "ERROR" : "NOTICE";
    spec.sqlstate = "XX000";
    spec.message = "pgwarden: a malformed message from the server was withheld";
    if (type == 'E') {
      pgwire::build_error_response(spec, out);
    } else {
      pgwire::build_notice_response(spec, out);
    }
    return out;
  }
  // Strings the rewritten fields are kept in (views must stay valid).
  std::vector<std::string> storage;
  storage.reserve(decoded->fields.size() + 1);
  std::vector<pgwire::ErrorField> fields;
  fields.reserve(decoded->fields.size() + 1);
  bool changed = false;
  bool withheld = false;
  for (const pgwire::ErrorField& f : decoded->fields) {
    if (reads_masked && withheld_when_masked(f.code)) {
      withheld = true;
      changed = true;
      continue;
    }
    if (!free_text(f.code)) {
      fields.push_back(f);
      continue;
    }
    std::string text(f.value);
    bool field_changed = redact_detected(text);
    if (reads_masked && f.code == ef::kMessage) field_changed = redact_quoted(text) || field_changed;
    if (!field_changed) {
      fields.push_back(f);
      continue;
    }
    changed = true;
    storage.push_back(std::move(text));
    fields.push_back({f.code, storage.back()});
  }
  if (!changed) return std::nullopt;
  if (withheld) fields.push_back({ef::kDetail, kWithheld});
  std::string out;
  if (type == 'E') {
    pgwire::ErrorResponse e;
    e.fields = std::move(fields);
    pgwire::encode(e, out);
  } else {
    pgwire::NoticeResponse n;
    n.fields = std::move(fields);
    pgwire::encode(n, out);
  }
  return out;
}

std::optional<std::string> scrub_notification(std::string_view body) {
  auto n = pgwire::NotificationResponse::decode(body);
  if (!n) return std::string();  // unreadable, so uncheckable: dropped
  std::string channel(n->channel), payload(n->payload);
  const bool changed_channel = redact_detected(channel);
  const bool changed_payload = redact_detected(payload);
  if (!changed_channel && !changed_payload) return std::nullopt;
  pgwire::NotificationResponse out_msg = *n;
  out_msg.channel = channel;
  out_msg.payload = payload;
  std::string out;
  pgwire::encode(out_msg, out);
  return out;
}

std::optional<std::string> scrub_parameter_status(std::string_view body) {
  auto p = pgwire::ParameterStatus::decode(body);
  if (!p) return std::string();  // unreadable, so uncheckable: dropped
  std::string value(p->value);
  if (!redact_detected(value)) return std::nullopt;
  pgwire::ParameterStatus out_msg = *p;
  out_msg.value = value;
  std::string out;
  pgwire::encode(out_msg, out);
  return out;
}

}  // namespace pgw::engine
