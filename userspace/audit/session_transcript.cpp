#include "audit/session_transcript.h"

#include <cstdio>

#include "audit/recording_time.h"
#include "pgwire/backend_messages.h"
#include "pgwire/copy_messages.h"
#include "pgwire/data_row.h"
#include "pgwire/error_response.h"
#include "pgwire/frame.h"
#include "pgwire/frontend_messages.h"
#include "pgwire/row_description.h"
#include "pgwire/shown_value.h"

namespace pgw::audit {

namespace {

using nlohmann::json;

double ms(int64_t ns) { return static_cast<double>(ns / 1000) / 1000.0; }  // to the microsecond

json shown_values_json(const std::vector<std::optional<std::string>>& values) {
  json out = json::array();
  for (const auto& v : values) out.push_back(v ? json(*v) : json(nullptr));
  return out;
}

std::vector<int16_t> formats_of(const pgwire::Int16Array& formats) {
  std::vector<int16_t> out;
  for (size_t i = 0; i < formats.size(); ++i) out.push_back(formats[i]);
  return out;
}

json columns_json(const auto& columns) {
  json out = json::array();
  for (const auto& c : columns) out.push_back({{"name", c.name}, {"type_oid", c.type}, {"format", c.format}});
  return out;
}

void error_fields(json& e, const pgwire::ErrorNoticeFields& f) {
  e["severity"] = std::string(f.severity());
  e["sqlstate"] = std::string(f.sqlstate());
  e["message"] = std::string(f.message());
  if (!f.detail().empty()) e["detail"] = std::string(f.detail());
  if (!f.hint().empty()) e["hint"] = std::string(f.hint());
}

}  // namespace

SessionTranscript::SessionTranscript(TranscriptOptions options, Sink sink)
    : options_(options), sink_(std::move(sink)) {}

json SessionTranscript::entry(const char* type, uint64_t ns) const {
  const int64_t since = static_cast<int64_t>(ns - start_ns_);
  json e = session_;
  e["type"] = type;
  e["offset_ms"] = ms(since);
  if (start_time_) {
    e["time"] = format_utc(*start_time_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                              std::chrono::nanoseconds(since)));
  }
  return e;
}

void SessionTranscript::emit(json e) {
  if (open_statements_ > 0) {
    // Tie the answer to the statement it answers: the first Execute still
    // waiting, else the Query or FunctionCall.
    size_t answering = simple_statement_;
    for (const auto& a : awaiting_) {
      if (a.type == pgwire::Execute::kType && a.statement != SIZE_MAX) {
        answering = a.statement;
        break;
      }
    }
    if (answering < held_.size() && held_[answering].contains("n")) e["statement_n"] = held_[answering]["n"];
    held_.push_back(std::move(e));
  } else {
    sink_(std::move(e));
  }
}

void SessionTranscript::flush() {
  end_result();
  end_copy();
  for (auto& e : held_) sink_(std::move(e));
  held_.clear();
  // What is still open is answered later, with no statement to attach to.
  open_statements_ = 0;
  simple_statement_ = SIZE_MAX;
  started_ns_.clear();
  for (auto& a : awaiting_) a.statement = SIZE_MAX;
}

size_t SessionTranscript::open_statement(json e, uint64_t ns) {
  e["n"] = ++statements_;
  ++open_statements_;
  held_.push_back(std::move(e));
  const size_t index = held_.size() - 1;
  started_ns_[index] = ns;
  return index;
}

void SessionTranscript::answer_statement(size_t& index, uint64_t ns) {
  if (index == SIZE_MAX) return;
  if (index < held_.size()) {
    auto started = started_ns_.find(index);
    if (started != started_ns_.end()) {
      held_[index]["elapsed_ms"] = ms(static_cast<int64_t>(ns - started->second));
      started_ns_.erase(started);
    }
  }
  index = SIZE_MAX;
  if (open_statements_ > 0 && --open_statements_ == 0) {
    for (auto& e : held_) sink_(std::move(e));
    held_.clear();
    started_ns_.clear();
  }
}

void SessionTranscript::add(const Record& r) {
  switch (r.type) {
    case RecordType::header: {
      start_ns_ = r.monotonic_ns;
      auto h = json::parse(r.payload, nullptr, false);
      if (!h.is_object()) return;
      if (h.contains("start_time") && h["start_time"].is_string()) {
        if (auto t = parse_rfc3339(h["start_time"].get<std::string>())) start_time_ = *t;
      }
      if (options_.with_session) {
        for (const char* key : {"session_id", "identity", "upstream", "database", "user"}) {
          if (h.contains(key)) session_[key == std::string_view("session_id") ? "session" : key] = h[key];
        }
      }
      return;
    }
    case RecordType::event:
      event(r.payload, r.monotonic_ns);
      return;
    case RecordType::client_message:
    case RecordType::server_message: {
      const bool from_client = r.type == RecordType::client_message;
      auto m = pgwire::extract_message(r.payload);
      if (!m || !*m || (*m)->size != r.payload.size()) {
        unreadable(from_client ? "client" : "server", r.payload.empty() ? '\0' : r.payload[0],
                   "not one whole protocol message", r.monotonic_ns);
        return;
      }
      if (from_client) {
        client((*m)->type, (*m)->body, r.monotonic_ns);
      } else {
        server((*m)->type, (*m)->body, r.monotonic_ns);
      }
      return;
    }
  }
  unreadable("unknown", '\0', "a record of type " + std::to_string(static_cast<int>(r.type)), r.monotonic_ns);
}

void SessionTranscript::unreadable(const char* direction, char type, const std::string& why, uint64_t ns) {
  json e = entry("unreadable", ns);
  e["direction"] = direction;
  e["message_type"] = pgwire::describe_type(type);
  e["problem"] = why;
  emit(std::move(e));
}

void SessionTranscript::event(std::string_view text, uint64_t ns) {
  json e = entry("event", ns);
  auto body = json::parse(text, nullptr, false);
  if (!body.is_object()) {
    e["event"] = "unreadable";
    e["text"] = std::string(text);
  } else {
    for (auto& [key, value] : body.items()) {
      if (!e.contains(key)) e[key] = value;  // never over the entry's own fields
    }
  }
  emit(std::move(e));
}

std::vector<SessionTranscript::Column> SessionTranscript::columns_with_formats(
    const std::vector<Column>& columns, const std::vector<int16_t>& formats) const {
  std::vector<Column> out = columns;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].format = formats.empty() ? 0 : formats.size() == 1 ? formats[0] : i < formats.size() ? formats[i] : 0;
  }
  return out;
}

void SessionTranscript::pop_awaiting(char type) {
  if (!awaiting_.empty() && awaiting_.front().type == type) awaiting_.pop_front();
}

void SessionTranscript::client(char type, std::string_view body, uint64_t ns) {
  auto bad = [&](const std::string& why) { unreadable("client", type, why, ns); };
  switch (type) {
    case pgwire::Query::kType: {
      auto q = pgwire::Query::decode(body);
      if (!q) return bad(q.error());
      json e = entry("statement", ns);
      e["protocol"] = "simple";
      e["sql"] = std::string(q->query);
      simple_statement_ = open_statement(std::move(e), ns);
      return;
    }
    case pgwire::FunctionCall::kType: {
      auto f = pgwire::FunctionCall::decode(body);
      if (!f) return bad(f.error());
      json e = entry("statement", ns);
      e["protocol"] = "function_call";
      e["function_oid"] = f->function;
      e["arguments"] = shown_values_json(pgwire::shown_values(f->argument_formats, f->arguments, {}));
      simple_statement_ = open_statement(std::move(e), ns);
      return;
    }
    case pgwire::Parse::kType: {
      auto p = pgwire::Parse::decode(body);
      if (!p) return bad(p.error());
      Prepared prepared;
      prepared.sql = std::string(p->query);
      for (size_t i = 0; i < p->parameter_types.size(); ++i) prepared.parameter_types.push_back(p->parameter_types[i]);
      prepared_[std::string(p->statement)] = std::move(prepared);
      awaiting_.push_back({type, 0, std::string(p->statement)});
      return;
    }
    case pgwire::Bind::kType: {
      auto b = pgwire::Bind::decode(body);
      if (!b) return bad(b.error());
      Portal portal;
      portal.statement = std::string(b->statement);
      std::vector<uint32_t> types;
      if (auto s = prepared_.find(portal.statement); s != prepared_.end()) {
        portal.sql = s->second.sql;
        types = s->second.parameter_types;
        if (s->second.columns) portal.columns = columns_with_formats(*s->second.columns, formats_of(b->result_formats));
      }
      portal.parameters = shown_values_json(pgwire::shown_values(b->parameter_formats, b->parameters, types));
      portal.result_formats = formats_of(b->result_formats);
      portals_[std::string(b->portal)] = std::move(portal);
      awaiting_.push_back({type, 0, std::string(b->portal)});
      return;
    }
    case pgwire::Describe::kType: {
      auto d = pgwire::Describe::decode(body);
      if (!d) return bad(d.error());
      awaiting_.push_back({type, d->target, std::string(d->name)});
      return;
    }
    case pgwire::Execute::kType: {
      auto x = pgwire::Execute::decode(body);
      if (!x) return bad(x.error());
      json e = entry("statement", ns);
      e["protocol"] = "extended";
      auto p = portals_.find(std::string(x->portal));
      if (p != portals_.end()) {
        e["sql"] = p->second.sql;
        e["parameters"] = p->second.parameters;
        if (!p->second.statement.empty()) e["prepared_statement"] = p->second.statement;
      } else {
        e["sql"] = nullptr;  // bound before the recording started
      }
      if (!x->portal.empty()) e["portal"] = std::string(x->portal);
      if (x->max_rows != 0) e["max_rows"] = x->max_rows;
      awaiting_.push_back({type, 0, std::string(x->portal), open_statement(std::move(e), ns)});
      return;
    }
    case pgwire::Close::kType: {
      auto c = pgwire::Close::decode(body);
      if (!c) return bad(c.error());
      awaiting_.push_back({type, c->target, std::string(c->name)});
      return;
    }
    case 'S':  // Sync
      awaiting_.push_back({type, 0, {}});
      return;
    case pgwire::CopyData::kType:
      count_copy_data(body.size());
      return;
    case pgwire::CopyFail::kType: {
      if (copy_) {
        auto f = pgwire::CopyFail::decode(body);
        (*copy_)["failed"] = f ? std::string(f->message) : std::string("(unreadable)");
      }
      return;
    }
    default:  // Flush, CopyDone, Terminate, authentication answers: nothing to show
      return;
  }
}

void SessionTranscript::start_result(std::vector<Column> columns, uint64_t ns) {
  end_result();
  result_ = entry("result", ns);
  (*result_)["columns"] = columns_json(columns);
  (*result_)["rows"] = json::array();
  (*result_)["row_count"] = 0;
  result_columns_ = std::move(columns);
}

void SessionTranscript::end_result() {
  if (!result_) return;
  json e = std::move(*result_);
  result_.reset();
  emit(std::move(e));
}

void SessionTranscript::count_copy_data(size_t bytes) {
  if (!copy_) return;
  (*copy_)["rows"] = (*copy_)["rows"].get<uint64_t>() + 1;
  (*copy_)["bytes"] = (*copy_)["bytes"].get<uint64_t>() + bytes;
}

void SessionTranscript::end_copy() {
  if (!copy_) return;
  json e = std::move(*copy_);
  copy_.reset();
  emit(std::move(e));
}

void SessionTranscript::server(char type, std::string_view body, uint64_t ns) {
  auto bad = [&](const std::string& why) { unreadable("server", type, why, ns); };
  // The Execute, if any, the next answer belongs to.
  auto executing = [this]() -> Awaiting* {
    for (auto& a : awaiting_) {
      if (a.type == pgwire::Execute::kType) return &a;
      if (a.type != pgwire::Bind::kType && a.type != pgwire::Parse::kType && a.type != pgwire::Describe::kType &&
          a.type != pgwire::Close::kType) {
        return nullptr;
      }
    }
    return nullptr;
  };
  switch (type) {
    case pgwire::RowDescription::kType: {
      auto d = pgwire::RowDescription::decode(body);
      if (!d) return bad(d.error());
      std::vector<Column> columns;
      for (const pgwire::FieldDescription f : d->fields) columns.push_back({std::string(f.name), f.type, f.format});
      if (!awaiting_.empty() && awaiting_.front().type == pgwire::Describe::kType) {
        const Awaiting a = awaiting_.front();
        awaiting_.pop_front();
        if (a.target == pgwire::kTargetStatement) {
          prepared_[a.name].columns = columns;
        } else if (auto p = portals_.find(a.name); p != portals_.end()) {
          p->second.columns = columns;
        }
        return;
      }
      start_result(std::move(columns), ns);
      return;
    }
    case 'n':  // NoData: the Describe's answer
      pop_awaiting(pgwire::Describe::kType);
      return;
    case 't':  // ParameterDescription: RowDescription or NoData follows
      return;
    case '1':
      pop_awaiting(pgwire::Parse::kType);
      return;
    case '2':
      pop_awaiting(pgwire::Bind::kType);
      return;
    case '3':
      pop_awaiting(pgwire::Close::kType);
      return;
    case pgwire::DataRow::kType: {
      auto row = pgwire::DataRow::decode(body);
      if (!row) return bad(row.error());
      if (!result_) {
        // An Execute of a portal whose columns were described before.
        std::vector<Column> columns;
        if (Awaiting* x = executing()) {
          if (auto p = portals_.find(x->name); p != portals_.end() && p->second.columns) columns = *p->second.columns;
        }
        start_result(std::move(columns), ns);
      }
      auto& count = (*result_)["row_count"];
      count = count.get<uint64_t>() + 1;
      if (options_.max_rows != 0 && count.get<uint64_t>() > options_.max_rows) {
        (*result_)["rows_omitted"] = (*result_).value("rows_omitted", uint64_t{0}) + 1;
        return;
      }
      json values = json::array();
      size_t i = 0;
      for (const pgwire::Value v : row->columns) {
        if (!v) {
          values.push_back(nullptr);
        } else {
          const Column* c = i < result_columns_.size() ? &result_columns_[i] : nullptr;
          values.push_back(pgwire::shown_value(c ? c->type : 0, c ? c->format : 0, *v));
        }
        ++i;
      }
      (*result_)["rows"].push_back(std::move(values));
      return;
    }
    case pgwire::CommandComplete::kType:
    case 'I':    // EmptyQueryResponse
    case 's': {  // PortalSuspended
      end_result();
      end_copy();
      json e = entry("complete", ns);
      if (type == pgwire::CommandComplete::kType) {
        auto c = pgwire::CommandComplete::decode(body);
        if (!c) return bad(c.error());
        e["tag"] = std::string(c->tag);
      } else {
        e["tag"] = type == 'I' ? "" : "(portal suspended)";
        if (type == 'I') e["empty_query"] = true;
        if (type == 's') e["suspended"] = true;
      }
      emit(std::move(e));
      if (Awaiting* x = executing()) {
        size_t index = x->statement;
        while (!awaiting_.empty() && awaiting_.front().type != pgwire::Execute::kType) awaiting_.pop_front();
        if (!awaiting_.empty()) awaiting_.pop_front();
        answer_statement(index, ns);
      }
      return;
    }
    case pgwire::ErrorResponse::kType:
    case pgwire::NoticeResponse::kType: {
      const bool error = type == pgwire::ErrorResponse::kType;
      pgwire::ErrorNoticeFields fields;
      if (error) {
        auto f = pgwire::ErrorResponse::decode(body);
        if (!f) return bad(f.error());
        fields = std::move(*f);
      } else {
        auto f = pgwire::NoticeResponse::decode(body);
        if (!f) return bad(f.error());
        fields = std::move(*f);
      }
      if (error) {
        end_result();
        end_copy();
      }
      json e = entry(error ? "error" : "notice", ns);
      error_fields(e, fields);
      emit(std::move(e));
      if (error) {
        // The extended protocol skips to the Sync: every Execute before it
        // is answered by this error.
        while (!awaiting_.empty() && awaiting_.front().type != 'S') {
          size_t index = awaiting_.front().statement;
          awaiting_.pop_front();
          answer_statement(index, ns);
        }
      }
      return;
    }
    case pgwire::FunctionCallResponse::kType: {
      auto v = pgwire::FunctionCallResponse::decode(body);
      if (!v) return bad(v.error());
      json e = entry("result", ns);
      e["columns"] = json::array({{{"name", "result"}, {"type_oid", 0}, {"format", 0}}});
      e["rows"] = json::array({json::array({v->result ? json(pgwire::shown_value(0, 1, *v->result)) : json(nullptr)})});
      e["row_count"] = 1;
      emit(std::move(e));
      return;
    }
    case pgwire::CopyInResponse::kType:
    case pgwire::CopyOutResponse::kType:
    case pgwire::CopyBothResponse::kType: {
      end_result();
      end_copy();
      copy_ = entry("copy", ns);
      (*copy_)["direction"] = type == pgwire::CopyInResponse::kType    ? "in"
                              : type == pgwire::CopyOutResponse::kType ? "out"
                                                                       : "both";
      (*copy_)["rows"] = 0;
      (*copy_)["bytes"] = 0;
      return;
    }
    case pgwire::CopyData::kType:
      count_copy_data(body.size());
      return;
    case pgwire::NotificationResponse::kType: {
      auto n = pgwire::NotificationResponse::decode(body);
      if (!n) return bad(n.error());
      json e = entry("notification", ns);
      e["channel"] = std::string(n->channel);
      e["payload"] = std::string(n->payload);
      emit(std::move(e));
      return;
    }
    case pgwire::ReadyForQuery::kType: {
      end_result();
      end_copy();
      // Everything before the Sync is answered; so is a Query or FunctionCall.
      while (!awaiting_.empty()) {
        const bool sync = awaiting_.front().type == 'S';
        size_t index = awaiting_.front().statement;
        awaiting_.pop_front();
        answer_statement(index, ns);
        if (sync) break;
      }
      answer_statement(simple_statement_, ns);
      return;
    }
    default:  // ParameterStatus, BackendKeyData, Authentication...: not part of the transcript
      return;
  }
}

std::string entry_text(const json& entry, int indent) {
  return entry.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace pgw::audit
