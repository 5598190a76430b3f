#include "cli/transcript_text.h"

#include <algorithm>
#include <string>
#include <vector>

namespace pgw::cli {

namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return {};
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Control characters would let a recorded value rewrite the terminal:
// shown escaped. Newlines and tabs in values stay visible as \n and \t.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Terminal columns a UTF-8 text takes, counting code points.
size_t width(std::string_view s) {
  size_t n = 0;
  for (const unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

bool numeric_type(uint32_t oid) {
  switch (oid) {
    case 20: case 21: case 23: case 26: case 700: case 701: case 790: case 1700: return true;
    default: return false;
  }
}

std::string pad(const std::string& s, size_t to, bool right) {
  const size_t w = width(s);
  if (w >= to) return s;
  return right ? std::string(to - w, ' ') + s : s + std::string(to - w, ' ');
}

std::string seconds(const json& e, const char* key) {
  if (!e.contains(key) || !e[key].is_number()) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.3fs", e[key].get<double>() / 1000.0);
  return buf;
}

// As psql prints a result: names centred, a rule, rows, "(N rows)".
void print_table(std::FILE* out, const json& e) {
  const json& columns = e.contains("columns") && e["columns"].is_array() ? e["columns"] : json::array();
  const json& rows = e.contains("rows") && e["rows"].is_array() ? e["rows"] : json::array();
  size_t n = columns.size();
  for (const auto& row : rows) n = std::max(n, row.is_array() ? row.size() : 0);
  std::vector<std::string> names(n);
  std::vector<bool> right(n, false);
  std::vector<size_t> widths(n, 0);
  for (size_t i = 0; i < n; ++i) {
    names[i] = i < columns.size() ? printable(str(columns[i], "name")) : "?column?";
    right[i] = i < columns.size() && numeric_type(columns[i].value("type_oid", 0u));
    widths[i] = width(names[i]);
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    std::vector<std::string> line(n);
    for (size_t i = 0; row.is_array() && i < row.size(); ++i) {
      line[i] = row[i].is_string() ? printable(row[i].get<std::string>()) : "";  // NULL prints empty, as in psql
      widths[i] = std::max(widths[i], width(line[i]));
    }
    cells.push_back(std::move(line));
  }
  std::string head, rule;
  for (size_t i = 0; i < n; ++i) {
    const size_t left = (widths[i] - width(names[i])) / 2;
    head += (i ? " | " : " ") + pad(std::string(left, ' ') + names[i], widths[i], false);
    rule += (i ? "-+-" : "-") + std::string(widths[i], '-');
  }
  std::fprintf(out, "%s\n%s-\n", head.c_str(), rule.c_str());
  for (const auto& line : cells) {
    std::string text;
    for (size_t i = 0; i < n; ++i) text += (i ? " | " : " ") + pad(line[i], widths[i], right[i]);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    std::fprintf(out, "%s\n", text.c_str());
  }
  const uint64_t count = e.value("row_count", uint64_t{rows.size()});
  std::fprintf(out, "(%llu row%s)\n", static_cast<unsigned long long>(count), count == 1 ? "" : "s");
  if (e.contains("rows_omitted")) {
    std::fprintf(out, "-- %s rows not shown\n", str(e, "rows_omitted").c_str());
  }
}

void print_values(std::FILE* out, const char* what, const json& values) {
  if (!values.is_array() || values.empty()) return;
  std::string text;
  for (size_t i = 0; i < values.size(); ++i) {
    text += (i ? ", $" : "$") + std::to_string(i + 1) + " = ";
    text += values[i].is_string() ? "'" + printable(values[i].get<std::string>()) + "'" : "NULL";
  }
  std::fprintf(out, "-- %s: %s\n", what, text.c_str());
}

void print_statement(std::FILE* out, const json& e) {
  std::string where = "-- #" + str(e, "n") + " at " + seconds(e, "offset_ms");
  if (e.contains("elapsed_ms")) {
    char buf[48];
    std::snprintf(buf, sizeof buf, ", Time: %.3f ms", e["elapsed_ms"].get<double>());
    where += buf;
  } else {
    where += ", no answer (yet)";
  }
  const std::string protocol = str(e, "protocol");
  if (protocol == "extended") {
    where += ", extended protocol";
    if (e.contains("prepared_statement")) where += ", prepared statement " + printable(str(e, "prepared_statement"));
  }
  std::fprintf(out, "\n%s\n", where.c_str());
  if (protocol == "function_call") {
    std::fprintf(out, "FunctionCall (function oid %s)\n", str(e, "function_oid").c_str());
    print_values(out, "arguments", e.value("arguments", json::array()));
    return;
  }
  std::string sql = e.contains("sql") && e["sql"].is_string() ? e["sql"].get<std::string>()
                                                               : "(a portal bound before the recording started)";
  // The statement keeps its lines; only control characters are escaped.
  std::string shown;
  for (const unsigned char c : sql) {
    if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) {
      shown += static_cast<char>(c);
    } else {
      shown += printable(std::string_view(reinterpret_cast<const char*>(&c), 1));
    }
  }
  while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.pop_back();
  std::fprintf(out, "%s%s\n", shown.c_str(), shown.ends_with(";") ? "" : ";");
  print_values(out, "parameters", e.value("parameters", json::array()));
}

void print_event(std::FILE* out, const json& e) {
  const std::string event = str(e, "event");
  const std::string at = seconds(e, "offset_ms");
  if (event == "decision") {
    const std::string decision = str(e, "decision");
    if (decision == "allow") return;  // every statement has one; export shows them
    std::fprintf(out, "-- pgwarden at %s: %s%s%s\n", at.c_str(),
                 decision == "deny" ? "denied" : decision == "approve" ? "held for approval" : decision.c_str(),
                 e.contains("rule") ? (" by rule " + printable(str(e, "rule"))).c_str() : "",
                 e.contains("classes") && !str(e, "classes").empty() ? (" (" + str(e, "classes") + ")").c_str() : "");
  } else if (event == "approval_requested") {
    std::fprintf(out, "-- pgwarden at %s: approval %s requested (rule %s)\n", at.c_str(), printable(str(e, "id")).c_str(),
                 printable(str(e, "rule")).c_str());
  } else if (event.starts_with("approval_")) {
    std::string line = "-- pgwarden at " + at + ": approval " + printable(str(e, "id")) + " " + event.substr(9);
    if (!str(e, "by").empty()) line += " by " + printable(str(e, "by"));
    if (!str(e, "reason").empty()) line += ": " + printable(str(e, "reason"));
    std::fprintf(out, "%s\n", line.c_str());
  } else if (event == "session_end") {
    std::fprintf(out, "\n-- session ended at %s: %s\n", at.c_str(), printable(str(e, "reason")).c_str());
  } else {
    json rest = e;
    for (const char* k : {"type", "offset_ms", "time", "statement_n"}) rest.erase(k);
    std::fprintf(out, "-- pgwarden at %s: %s\n", at.c_str(),
                 printable(rest.dump(-1, ' ', false, json::error_handler_t::replace)).c_str());
  }
}

}  // namespace

void print_transcript_header(std::FILE* out, const json& h) {
  std::fprintf(out, "-- session %s, started %s\n", printable(str(h, "session_id")).c_str(),
               printable(str(h, "start_time")).c_str());
  const json id = h.value("identity", json::object());
  std::string who = "-- identity " + printable(str(id, "name"));
  for (const char* key : {"uid", "gid", "pid", "comm", "cgroup", "pod", "pod_uid", "source"}) {
    if (id.is_object() && id.contains(key)) who += std::string(", ") + key + " " + printable(str(id, key));
  }
  std::fprintf(out, "%s\n", who.c_str());
  std::fprintf(out, "-- upstream %s, database %s, user %s\n", printable(str(h, "upstream")).c_str(),
               printable(str(h, "database")).c_str(), printable(str(h, "user")).c_str());
}

void print_transcript_entry(std::FILE* out, const json& e) {
  const std::string type = str(e, "type");
  if (type == "statement") {
    print_statement(out, e);
  } else if (type == "result") {
    print_table(out, e);
  } else if (type == "complete") {
    const std::string tag = str(e, "tag");
    // psql prints a SELECT's or FETCH's row count under its table, not the tag.
    if (!tag.starts_with("SELECT ") && !tag.starts_with("FETCH ") && !tag.empty()) {
      std::fprintf(out, "%s\n", printable(tag).c_str());
    }
  } else if (type == "error" || type == "notice") {
    std::fprintf(out, "%s:  %s%s%s\n", printable(str(e, "severity")).c_str(),
                 str(e, "sqlstate").empty() ? "" : (printable(str(e, "sqlstate")) + ": ").c_str(),
                 printable(str(e, "message")).c_str(), "");
    if (!str(e, "detail").empty()) std::fprintf(out, "DETAIL:  %s\n", printable(str(e, "detail")).c_str());
    if (!str(e, "hint").empty()) std::fprintf(out, "HINT:  %s\n", printable(str(e, "hint")).c_str());
  } else if (type == "copy") {
    std::fprintf(out, "-- COPY %s: %s rows, %s bytes%s\n", str(e, "direction").c_str(), str(e, "rows").c_str(),
                 str(e, "bytes").c_str(),
                 e.contains("failed") ? (", failed: " + printable(str(e, "failed"))).c_str() : "");
  } else if (type == "notification") {
    std::fprintf(out, "Asynchronous notification \"%s\" with payload \"%s\" received.\n",
                 printable(str(e, "channel")).c_str(), printable(str(e, "payload")).c_str());
  } else if (type == "event") {
    print_event(out, e);
  } else if (type == "unreadable") {
    std::fprintf(out, "-- an unreadable %s message (%s): %s\n", str(e, "direction").c_str(),
                 printable(str(e, "message_type")).c_str(), printable(str(e, "problem")).c_str());
  }
}

void print_transcript_footer(std::FILE* out, const audit::VerifyReport& r) {
  const std::string checked = r.authenticated ? "hash chain and signatures" : "hash chain (no --public-key: signatures not checked)";
  const auto records = static_cast<unsigned long long>(r.records);
  if (r.ok) {
    std::fprintf(out, "\n-- recording closed: all %llu records verified (%s)\n", records, checked.c_str());
  } else if (r.in_use && r.truncated) {
    std::fprintf(out, "\n-- recording still being written: the %llu records so far verified (%s)\n", records,
                 checked.c_str());
  } else if (r.truncated) {
    std::fprintf(out, "\n-- recording truncated: %llu records verified (%s); %s\n", records, checked.c_str(),
                 r.problem.c_str());
  } else {
    std::fprintf(out, "\n-- recording DAMAGED: shown up to the %llu records that verified (%s); %s\n", records,
                 checked.c_str(), r.problem.c_str());
  }
}

}  // namespace pgw::cli
