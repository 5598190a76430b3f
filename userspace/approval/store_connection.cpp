#include "approval/store_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace pgw::approval {

namespace {

// libpq ends its messages with a newline; one line reads better in a log.
std::string one_line(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s.empty() ? std::string("unknown error") : s;
}

int remaining_ms(StoreConnection::Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - StoreConnection::Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 60'000));
}

enum class Waited { ready, timeout, woken };

Waited wait_fd(int fd, short events, StoreConnection::Clock::time_point deadline, int wake_fd) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = ::poll(fds, wake_fd >= 0 ? 2 : 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Waited::timeout;
    if (wake_fd >= 0 && (fds[1].revents & POLLIN) != 0) return Waited::woken;
    if (n > 0 && fds[0].revents != 0) return Waited::ready;
    if (StoreConnection::Clock::now() >= deadline) return Waited::timeout;
  }
}

}  // namespace

StoreConnection::~StoreConnection() { close(); }

void StoreConnection::close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool StoreConnection::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

int StoreConnection::socket() const { return conn_ != nullptr ? PQsocket(conn_) : -1; }

Status StoreConnection::connect(const std::string& conninfo, Clock::time_point deadline, int wake_fd) {
  close();
  // The file's connection string comes last (expanded from `dbname`), so
  // its settings win over these defaults. Keepalives find a connection
  // that died silently: the listening one is idle most of the time.
  const char* keywords[] = {"fallback_application_name", "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "dbname", nullptr};
  const char* values[] = {"pgwarden-approvals", "30", "10", "3", conninfo.c_str(), nullptr};
  conn_ = PQconnectStartParams(keywords, values, 1);
  if (conn_ == nullptr) return make_error("out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    std::string why = one_line(PQerrorMessage(conn_));
    close();
    return make_error(why);
  }
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) {
      std::string why = one_line(PQerrorMessage(conn_));
      close();
      return make_error(why);
    }
    const Waited w = wait_fd(PQsocket(conn_), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, wake_fd);
    if (w != Waited::ready) {
      close();
      return make_error(w == Waited::woken ? "stopped" : "no connection in time");
    }
    st = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) {
    std::string why = one_line(PQerrorMessage(conn_));
    close();
    return make_error(why);
  }
  return ok_status();
}

bool StoreConnection::wait(short events, Clock::time_point deadline, int wake_fd) {
  return wait_fd(PQsocket(conn_), events, deadline, wake_fd) == Waited::ready;
}

Result<StoreRows> StoreConnection::exec(const std::string& sql, const Params& params, Clock::time_point deadline) {
  if (!connected()) return make_error("not connected");
  int sent = 0;
  if (params.empty()) {
    sent = PQsendQuery(conn_, sql.c_str());  // may hold several statements
  } else {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  }
  auto lost = [this](std::string why) -> Result<StoreRows> {
    close();
    return make_error(std::move(why));
  };
  if (sent == 0) return lost(one_line(PQerrorMessage(conn_)));
  for (;;) {
    const int f = PQflush(conn_);
    if (f == 0) break;
    if (f < 0) return lost(one_line(PQerrorMessage(conn_)));
    if (!wait(POLLIN | POLLOUT, deadline)) return lost("no answer in time");
    if (PQconsumeInput(conn_) == 0) return lost(one_line(PQerrorMessage(conn_)));
  }
  StoreRows rows;
  std::string error;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      if (!wait(POLLIN, deadline)) return lost("no answer in time");
      if (PQconsumeInput(conn_) == 0) return lost(one_line(PQerrorMessage(conn_)));
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) break;
    const ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      rows.clear();
      for (int i = 0; i < PQntuples(r); ++i) {
        StoreRow row;
        for (int c = 0; c < PQnfields(r); ++c) {
          if (PQgetisnull(r, i, c)) row.emplace_back(std::nullopt);
          else row.emplace_back(std::string(PQgetvalue(r, i, c), static_cast<size_t>(PQgetlength(r, i, c))));
        }
        rows.push_back(std::move(row));
      }
    } else if (error.empty()) {
      error = one_line(PQresultErrorMessage(r));
    }
    PQclear(r);
  }
  if (PQstatus(conn_) != CONNECTION_OK) return lost(error.empty() ? one_line(PQerrorMessage(conn_)) : error);
  if (!error.empty()) return make_error(error);
  return rows;
}

bool StoreConnection::read_notifications(std::vector<std::string>& payloads) {
  if (!connected()) return false;
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    close();
    return false;
  }
  while (PGnotify* n = PQnotifies(conn_)) {
    payloads.emplace_back(n->extra != nullptr ? n->extra : "");
    PQfreemem(n);
  }
  return true;
}

Result<std::string> read_dsn_file(const std::string& path) {
  constexpr size_t kMax = 4096;
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read " + path + ": " + std::strerror(errno));
  std::string value(kMax + 1, '\0');
  in.read(value.data(), static_cast<std::streamsize>(value.size()));
  if (in.bad()) return make_error("cannot read " + path + ": " + std::strerror(errno));
  value.resize(static_cast<size_t>(in.gcount()));
  if (value.size() > kMax) return make_error(path + " is larger than 4096 bytes; is it the right file?");
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  if (value.empty()) return make_error(path + " is empty");
  if (value.find('\0') != std::string::npos) return make_error(path + " contains a NUL byte");
  return value;
}

}  // namespace pgw::approval
