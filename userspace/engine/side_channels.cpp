#include "engine/side_channels.h"

#include <vector>

#include "engine/mask_models.h"
#include "engine/server_message_formats.h"
#include "mask/detect_mask.h"
#include "pgwire/backend_messages.h"
#include "pgwire/error_response.h"
#include "policy/mask_model.h"

namespace pgw::engine {

namespace {

namespace ef = pgwire::error_field;

// The policy's detectors, masking what they find with its detect function.
bool mask_detected(std::string& text, const SideChannelRules& rules) {
  if (rules.detectors == nullptr || rules.detectors->empty()) return false;
  static const mask::MaskFunction kRedact = mask::MaskFunction::redact();
  return mask::mask_detected(text, *rules.detectors, rules.function != nullptr ? *rules.function : kRedact);
}

// Fields kept by their fixed wording only when the statement reads masked
// values, and those dropped outright (the internal query is SQL text that
// can be built from values: query_to_xml).
bool worded(char code) {
  return code == ef::kMessage || code == ef::kDetail || code == ef::kHint || code == ef::kWhere;
}
bool dropped_when_masked(char code) { return code == ef::kInternalQuery || code == ef::kInternalPosition; }

bool free_text(char code) {
  return code == ef::kMessage || code == ef::kDetail || code == ef::kHint || code == ef::kWhere ||
         code == ef::kInternalQuery || code == ef::kSchema || code == ef::kTable || code == ef::kColumn ||
         code == ef::kConstraint || code == ef::kDataType;
}

const mask::DetectorSet& every_detector() {
  static const mask::DetectorSet kAll = mask::DetectorSet::all();
  return kAll;
}

// Whether the message was raised on a relation the policy masks: its
// schema and table fields (constraint violations, errors of triggers on
// the table) name it.
bool raised_on_masked_table(const pgwire::ErrorResponse& message, const policy::MaskModel& model) {
  std::string_view schema, table;
  for (const pgwire::ErrorField& f : message.fields) {
    if (f.code == ef::kSchema) schema = f.value;
    if (f.code == ef::kTable) table = f.value;
  }
  return !table.empty() && model.oracle().relation_is_masked(schema, table);
}

// Whether the message's text was built where pgwarden cannot trace it: inside
// a function (a trigger's RAISE; its context says so) or by no format
// PostgreSQL's own messages use. Like a PL/pgSQL function's result, it meets
// every detector while column rules are in force.
bool untraceable_text(const pgwire::ErrorResponse& message) {
  // "PL/pgSQL function f() line 1 at RAISE", "SQL function \"f\" statement 1"
  if (message.find(ef::kWhere).find("SQL function") != std::string_view::npos) return true;
  return !fixed_wording(message.message());
}

constexpr std::string_view kUnknownWording = "pgwarden: the server's message was withheld";
constexpr std::string_view kWithheld =
    "pgwarden: values in this message were withheld because the statement reads masked values";

}  // namespace

SideChannelRules side_channel_rules(const policy::MaskModel& model, bool reads_masked) {
  return SideChannelRules{&model.detectors(), &model.detect_function(), reads_masked, &model};
}

SideChannelRules side_channel_rules(const Result<std::shared_ptr<MaskHandle>>& handle, bool reads_masked) {
  if (!handle) {
    static const mask::MaskFunction kRedact = mask::MaskFunction::redact();
    return SideChannelRules{&every_detector(), &kRedact, true};
  }
  if (!*handle) return SideChannelRules{};
  return side_channel_rules((*handle)->model(), reads_masked);
}

SideChannelRules notification_rules(const Result<std::shared_ptr<MaskHandle>>& handle) {
  if (!handle || !*handle || !(*handle)->model().masks_columns()) return side_channel_rules(handle, false);
  return SideChannelRules{&every_detector(), &(*handle)->model().detect_function(), false};
}

std::optional<std::string> scrub_error_or_notice(char type, std::string_view body, const SideChannelRules& given) {
  const bool masks_columns = given.model != nullptr && given.model->masks_columns();
  if (!given.active() && !masks_columns) return std::nullopt;
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
  SideChannelRules rules = given;
  if (masks_columns) {
    rules.reads_masked = rules.reads_masked || raised_on_masked_table(*decoded, *given.model);
    if (untraceable_text(*decoded)) {
      rules.detectors = &every_detector();
      rules.function = &given.model->detect_function();
    }
  }
  if (!rules.active()) return std::nullopt;
  // Strings the rewritten fields are kept in (views must stay valid).
  std::vector<std::string> storage;
  storage.reserve(decoded->fields.size() + 1);
  std::vector<pgwire::ErrorField> fields;
  fields.reserve(decoded->fields.size() + 1);
  bool changed = false;
  bool withheld = false;
  size_t detail_at = SIZE_MAX;
  for (const pgwire::ErrorField& f : decoded->fields) {
    std::string text(f.value);
    bool field_changed = false;
    if (rules.reads_masked && dropped_when_masked(f.code)) {
      withheld = changed = true;
      continue;
    }
    if (rules.reads_masked && worded(f.code)) {
      std::optional<std::string> wording = fixed_wording(text);
      if (!wording && f.code != ef::kMessage) {
        withheld = changed = true;
        continue;
      }
      std::string fixed = wording ? std::move(*wording) : std::string(kUnknownWording);
      if (fixed != text) {
        text = std::move(fixed);
        field_changed = withheld = true;
      }
    }
    if (free_text(f.code)) field_changed = mask_detected(text, rules) || field_changed;
    if (f.code == ef::kDetail) detail_at = fields.size();
    if (!field_changed) {
      fields.push_back(f);
      continue;
    }
    changed = true;
    storage.push_back(std::move(text));
    fields.push_back({f.code, storage.back()});
  }
  if (!changed) return std::nullopt;
  if (withheld) {
    // One detail says what happened, after the detail's own fixed wording.
    if (detail_at == SIZE_MAX) {
      fields.push_back({ef::kDetail, kWithheld});
    } else {
      storage.push_back(std::string(fields[detail_at].value) + "\n" + std::string(kWithheld));
      fields[detail_at].value = storage.back();
    }
  }
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

std::optional<std::string> scrub_notification(std::string_view body, const SideChannelRules& rules) {
  if (rules.detectors == nullptr || rules.detectors->empty()) return std::nullopt;
  auto n = pgwire::NotificationResponse::decode(body);
  if (!n) return std::string();  // unreadable, so uncheckable: dropped
  std::string channel(n->channel), payload(n->payload);
  const bool changed_channel = mask_detected(channel, rules);
  const bool changed_payload = mask_detected(payload, rules);
  if (!changed_channel && !changed_payload) return std::nullopt;
  pgwire::NotificationResponse out_msg = *n;
  out_msg.channel = channel;
  out_msg.payload = payload;
  std::string out;
  pgwire::encode(out_msg, out);
  return out;
}

std::optional<std::string> scrub_parameter_status(std::string_view body, const SideChannelRules& rules) {
  if (rules.detectors == nullptr || rules.detectors->empty()) return std::nullopt;
  auto p = pgwire::ParameterStatus::decode(body);
  if (!p) return std::string();  // unreadable, so uncheckable: dropped
  std::string value(p->value);
  if (!mask_detected(value, rules)) return std::nullopt;
  pgwire::ParameterStatus out_msg = *p;
  out_msg.value = value;
  std::string out;
  pgwire::encode(out_msg, out);
  return out;
}

}  // namespace pgw::engine
