#include "mask/mask_function.h"

#include "mask/keyed_hash.h"
#include "mask/scan_text.h"
#include "mask/scanners.h"
#include "mask/utf8.h"

namespace pgw::mask {
namespace {

constexpr std::string_view kHashPrefix = "h:";
constexpr size_t kHashHexDigits = 16;  // 64 bits: collisions need ~4e9 distinct values

// For partial: which units are "content" that gets masked or kept. Every
// non-ASCII character counts as content, because we cannot tell a foreign
// letter from foreign punctuation without Unicode tables, and masking too
// much is the safe side.
bool is_content_unit(std::string_view value, size_t i) {
  return detail::is_alnum(value[i]) || detail::is_non_ascii(value[i]);
}

void append_redacted(std::string_view value, std::string& out) { out.append(detail::utf8_length(value), '*'); }

void append_partial(std::string_view value, uint32_t first, uint32_t last, std::string& out) {
  size_t content = 0;
  for (size_t i = 0; i < value.size(); i += detail::utf8_unit_length(value, i))
    if (is_content_unit(value, i)) ++content;
  // Keeping every character would hand out the raw value: keep none then.
  const bool keep_any = uint64_t{first} + last < content;
  const size_t keep_tail_from = content - (keep_any ? last : 0);

  size_t index = 0;
  for (size_t i = 0; i < value.size();) {
    const size_t n = detail::utf8_unit_length(value, i);
    if (!is_content_unit(value, i)) {
      out.append(value.substr(i, n));
    } else {
      const bool keep = keep_any && (index < first || index >= keep_tail_from);
      if (keep) {
        out.append(value.substr(i, n));
      } else {
        out.push_back('*');
      }
      ++index;
    }
    i += n;
  }
}

void append_hash(const KeyedHash& key, std::string_view value, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const KeyedHash::Digest d = key.digest(value);
  out.append(kHashPrefix);
  for (size_t i = 0; i < kHashHexDigits / 2; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 0xF]);
  }
}

// The whole value must be one address: local part, '@', a domain that ends
// exactly at the end of the value. Trailing spaces are kept as they are:
// char(n) columns pad their values with them.
void append_email(std::string_view padded, std::string& out) {
  const size_t last = padded.find_last_not_of(' ');
  const std::string_view value = padded.substr(0, last == std::string_view::npos ? 0 : last + 1);
  const std::string_view padding = padded.substr(value.size());
  const size_t at_pos = value.rfind('@');
  bool is_email = at_pos != std::string_view::npos && at_pos > 0 &&
                  detail::email_domain_end(value, at_pos + 1) == value.size();
  for (size_t i = 0; is_email && i < at_pos; ++i) is_email = detail::is_email_local_char(value[i]);
  if (!is_email) {
    append_redacted(padded, out);
    return;
  }
  const std::string_view local = value.substr(0, at_pos);
  const size_t units = detail::utf8_length(local);
  if (units >= 2) {
    out.append(local.substr(0, detail::utf8_unit_length(local, 0)));
    out.append(units - 1, '*');
  } else {
    out.push_back('*');
  }
  out.append(value.substr(at_pos));
  out.append(padding);
}

}  // namespace

MaskFunction MaskFunction::redact() { return MaskFunction(); }

MaskFunction MaskFunction::partial(uint32_t first, uint32_t last) {
  MaskFunction f;
  f.spec_.kind = Kind::partial;
  f.spec_.first = first;
  f.spec_.last = last;
  return f;
}

MaskFunction MaskFunction::hash(std::shared_ptr<const KeyedHash> key) {
  MaskFunction f;
  f.spec_.kind = Kind::hash;
  f.key_ = std::move(key);
  return f;
}

MaskFunction MaskFunction::null() {
  MaskFunction f;
  f.spec_.kind = Kind::null;
  return f;
}

MaskFunction MaskFunction::fixed(std::string text) {
  MaskFunction f;
  f.spec_.kind = Kind::fixed;
  f.spec_.fixed_text = std::move(text);
  return f;
}

MaskFunction MaskFunction::email() {
  MaskFunction f;
  f.spec_.kind = Kind::email;
  return f;
}

Result<MaskFunction> MaskFunction::from_spec(const MaskSpec& spec, std::shared_ptr<const KeyedHash> hash_key) {
  switch (spec.kind) {
    case Kind::redact: return redact();
    case Kind::partial: return partial(spec.first, spec.last);
    case Kind::hash:
      if (hash_key == nullptr) return make_error("the hash mask function needs a key (mask_hash_key_file)");
      return hash(std::move(hash_key));
    case Kind::null: return null();
    case Kind::fixed: return fixed(spec.fixed_text);
    case Kind::email: return email();
  }
  return make_error("unknown mask function");
}

bool MaskFunction::apply_into(std::string_view value, std::string& out) const {
  switch (spec_.kind) {
    case Kind::redact:
      append_redacted(value, out);
      return true;
    case Kind::partial:
      append_partial(value, spec_.first, spec_.last, out);
      return true;
    case Kind::hash:
      if (key_ == nullptr) {  // only reachable through a default-constructed key
        append_redacted(value, out);
      } else {
        append_hash(*key_, value, out);
      }
      return true;
    case Kind::null:
      return false;
    case Kind::fixed:
      out.append(spec_.fixed_text);
      return true;
    case Kind::email:
      append_email(value, out);
      return true;
  }
  return false;
}

std::optional<std::string> MaskFunction::apply(std::string_view value) const {
  std::string out;
  if (!apply_into(value, out)) return std::nullopt;
  return out;
}

}  // namespace pgw::mask
