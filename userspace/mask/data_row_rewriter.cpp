#include "mask/data_row_rewriter.h"

#include <limits>

#include "mask/field_masker.h"
#include "mask/wire_bytes.h"

namespace pgw::mask {

Result<Rewrite> rewrite_data_row(std::string_view body, const RowPlan& plan, std::string& out) {
  if (!plan.needs_work()) return Rewrite::unchanged;

  if (body.size() < 2) return make_error("DataRow is too short to hold its field count");
  const auto fields = static_cast<int16_t>(detail::load_be16(body.data()));
  if (fields < 0 || static_cast<size_t>(fields) != plan.size()) {
    return make_error("DataRow has " + std::to_string(fields) + " fields but its RowDescription announced " +
                      std::to_string(plan.size()));
  }

  // Masked values are built here first, so nothing is written to `out` until
  // a field really changes (a detect column usually finds nothing).
  thread_local std::string value_out;
  const size_t out_start = out.size();
  bool changed = false;
  size_t copied = 0;  // body[0, copied) is already in out (once changed)
  size_t pos = 2;
  // On any error `out` is left as it was found.
  auto fail = [&](std::string message) -> Result<Rewrite> {
    out.resize(out_start);
    return make_error(std::move(message));
  };

  for (size_t i = 0; i < plan.size(); ++i) {
    if (body.size() - pos < 4) return fail("DataRow is truncated in the length of field " + std::to_string(i + 1));
    const size_t field_start = pos;
    const auto length = static_cast<int32_t>(detail::load_be32(body.data() + pos));
    pos += 4;
    if (length == -1) continue;  // NULL stays NULL
    if (length < 0) return fail("DataRow field " + std::to_string(i + 1) + " has a negative length");
    if (body.size() - pos < static_cast<size_t>(length)) {
      return fail("DataRow field " + std::to_string(i + 1) + " runs past the end of the message");
    }
    const std::string_view value = body.substr(pos, static_cast<size_t>(length));
    pos += static_cast<size_t>(length);

    const ColumnRule& rule = plan[i];
    if (rule.action == ColumnAction::pass) continue;
    value_out.clear();
    const detail::FieldOutcome outcome = detail::mask_field(rule, value, rule.format == kBinaryFormat, value_out);
    if (outcome == detail::FieldOutcome::keep) continue;

    if (value_out.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      return fail("masked value of DataRow field " + std::to_string(i + 1) + " is too large");
    }
    out.append(body.substr(copied, field_start - copied));
    if (outcome == detail::FieldOutcome::null) {
      detail::append_be32(out, static_cast<uint32_t>(-1));
    } else {
      detail::append_be32(out, static_cast<uint32_t>(value_out.size()));
      out.append(value_out);
    }
    copied = pos;
    changed = true;
  }
  if (pos != body.size()) return fail("DataRow has " + std::to_string(body.size() - pos) + " bytes after its last field");
  if (!changed) return Rewrite::unchanged;
  out.append(body.substr(copied));
  return Rewrite::rewritten;
}

}  // namespace pgw::mask
