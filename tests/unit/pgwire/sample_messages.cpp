#include "sample_messages.h"

#include <array>

#include "pgwire/pgwire.h"

namespace pgw::pgwire::testing {

namespace {

template <typename T>
SampleMessage sample(std::string name, const T& msg) {
  SampleMessage s;
  s.name = std::move(name);
  encode(msg, s.wire);
  s.decode_and_reencode = [](std::string_view body, std::string& reencoded) {
    auto decoded = T::decode(body);
    if (!decoded.ok()) return false;
    reencoded.clear();
    encode(decoded.value(), reencoded);
    return true;
  };
  auto m = extract_message(s.wire);
  if (m.ok() && m.value()) {
    auto decoded = T::decode(m.value()->body);
    s.decoded_equals_original = decoded.ok() && decoded.value() == msg;
  }
  return s;
}

// Storage the sample views point into; never freed.
struct Storage {
  std::string oids = OidArray::pack({23, 0, 25});
  std::string formats_one = Int16Array::pack({1});
  std::string formats_mixed = Int16Array::pack({0, 1, 0});
  std::array<Value, 3> values{Value("42"), std::nullopt, Value(std::string_view("\0\x01", 2))};
  std::string packed_values = ValueList::pack(values);
  std::string row_description;
  std::string key32 = std::string(32, '\x5a');
};

Storage& storage() {
  static Storage* s = new Storage();
  return *s;
}

std::vector<SampleMessage> build() {
  Storage& st = storage();
  const ValueList three_values(3, st.packed_values);

  std::vector<SampleMessage> v;
  // Frontend.
  v.push_back(sample("Query", Query{"SELECT 1; SELECT 2"}));
  v.push_back(sample("Parse", Parse{"s1", "SELECT $1::int, $2, $3", OidArray(st.oids)}));
  v.push_back(sample("Parse/unnamed", Parse{"", "SELECT 1", OidArray()}));
  v.push_back(sample("Bind", Bind{"p1", "s1", Int16Array(st.formats_mixed), three_values, Int16Array(st.formats_one)}));
  v.push_back(sample("Bind/empty", Bind{}));
  v.push_back(sample("Close", Close{kTargetPortal, "p1"}));
  v.push_back(sample("Describe", Describe{kTargetStatement, "s1"}));
  v.push_back(sample("Execute", Execute{"p1", 100}));
  v.push_back(sample("FunctionCall", FunctionCall{1598, Int16Array(st.formats_one), three_values, kFormatBinary}));
  v.push_back(sample("Flush", Flush{}));
  v.push_back(sample("Sync", Sync{}));
  v.push_back(sample("Terminate", Terminate{}));
  v.push_back(sample("CopyFail", CopyFail{"client gave up"}));
  v.push_back(sample("PasswordMessage", PasswordMessage{"secret"}));
  v.push_back(sample("SASLInitialResponse", SaslInitialResponse{kScramSha256, std::string_view("n,,n=,r=abc")}));
  v.push_back(sample("SASLResponse", SaslResponse{"c=biws,r=abcdef,p=xyz"}));
  v.push_back(sample("GSSResponse", GssResponse{std::string_view("\x60\x01\0", 3)}));
  // Both directions.
  v.push_back(sample("CopyData", CopyData{std::string_view("1\tAlice\n", 8)}));
  v.push_back(sample("CopyDone", CopyDone{}));
  // Backend.
  v.push_back(sample("AuthenticationOk", Authentication{}));
  v.push_back(sample("AuthenticationMD5Password",
                     Authentication{AuthCode::kMd5Password, std::string_view("\x01\x02\x03\x04", 4), {}, {}}));
  v.push_back(sample("AuthenticationSASL", Authentication{AuthCode::kSasl, {}, {"SCRAM-SHA-256"}, {}}));
  v.push_back(sample("AuthenticationSASLContinue", Authentication{AuthCode::kSaslContinue, {}, {}, "r=abc,s=c2FsdA==,i=4096"}));
  v.push_back(sample("BackendKeyData", BackendKeyData{77, st.key32}));
  v.push_back(sample("ParseComplete", ParseComplete{}));
  v.push_back(sample("BindComplete", BindComplete{}));
  v.push_back(sample("CloseComplete", CloseComplete{}));
  v.push_back(sample("CommandComplete", CommandComplete{"INSERT 0 1"}));
  v.push_back(sample("CopyInResponse", CopyInResponse{{kFormatBinary, Int16Array(st.formats_mixed)}}));
  v.push_back(sample("CopyOutResponse", CopyOutResponse{{kFormatText, Int16Array(Int16Array::pack({0, 0}))}}));
  v.push_back(sample("CopyBothResponse", CopyBothResponse{{kFormatBinary, Int16Array()}}));
  v.push_back(sample("DataRow", DataRow{three_values}));
  v.push_back(sample("DataRow/empty", DataRow{}));
  v.push_back(sample("EmptyQueryResponse", EmptyQueryResponse{}));
  ErrorResponse error;
  error.fields = {{'S', "ERROR"}, {'V', "ERROR"}, {'C', "42P01"}, {'M', "relation does not exist"}};
  v.push_back(sample("ErrorResponse", error));
  v.push_back(sample("FunctionCallResponse", FunctionCallResponse{Value("t")}));
  v.push_back(sample("FunctionCallResponse/null", FunctionCallResponse{std::nullopt}));
  v.push_back(sample("NegotiateProtocolVersion", NegotiateProtocolVersion{kProtocol30, {"_pq_.x"}}));
  v.push_back(sample("NoData", NoData{}));
  NoticeResponse notice;
  notice.fields = {{'S', "NOTICE"}, {'C', "00000"}, {'M', "hello"}};
  v.push_back(sample("NoticeResponse", notice));
  v.push_back(sample("NotificationResponse", NotificationResponse{4321, "jobs", "{\"id\":1}"}));
  v.push_back(sample("ParameterDescription", ParameterDescription{OidArray(st.oids)}));
  v.push_back(sample("ParameterStatus", ParameterStatus{"client_encoding", "UTF8"}));
  v.push_back(sample("PortalSuspended", PortalSuspended{}));
  v.push_back(sample("ReadyForQuery", ReadyForQuery{ReadyForQuery::kInTransaction}));

  const FieldDescription fields[] = {
      {"id", 16384, 1, 23, 4, -1, kFormatText},
      {"email", 16384, 3, 25, -1, -1, kFormatBinary},
      {"?column?", 0, 0, 1043, -1, 68, kFormatText},
  };
  encode_row_description(fields, st.row_description);
  auto rd = RowDescription::decode(std::string_view(st.row_description).substr(5));
  v.push_back(sample("RowDescription", rd.value()));
  v.push_back(sample("RowDescription/empty", RowDescription{}));
  return v;
}

}  // namespace

const std::vector<SampleMessage>& sample_messages() {
  static const std::vector<SampleMessage>* samples = new std::vector<SampleMessage>(build());
  return *samples;
}

}  // namespace pgw::pgwire::testing
