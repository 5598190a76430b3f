#include "pgwire/message_types.h"

namespace pgw::pgwire {

std::string_view frontend_message_name(char type) {
  switch (type) {
    case 'B': return "Bind";
    case 'C': return "Close";
    case 'c': return "CopyDone";
    case 'd': return "CopyData";
    case 'D': return "Describe";
    case 'E': return "Execute";
    case 'f': return "CopyFail";
    case 'F': return "FunctionCall";
    case 'H': return "Flush";
    case 'p': return "PasswordMessage";  // also GSSResponse, SASLInitialResponse, SASLResponse
    case 'P': return "Parse";
    case 'Q': return "Query";
    case 'S': return "Sync";
    case 'X': return "Terminate";
    default: return {};
  }
}

std::string_view backend_message_name(char type) {
  switch (type) {
    case '1': return "ParseComplete";
    case '2': return "BindComplete";
    case '3': return "CloseComplete";
    case 'A': return "NotificationResponse";
    case 'c': return "CopyDone";
    case 'C': return "CommandComplete";
    case 'd': return "CopyData";
    case 'D': return "DataRow";
    case 'E': return "ErrorResponse";
    case 'G': return "CopyInResponse";
    case 'H': return "CopyOutResponse";
    case 'I': return "EmptyQueryResponse";
    case 'K': return "BackendKeyData";
    case 'n': return "NoData";
    case 'N': return "NoticeResponse";
    case 'R': return "Authentication";
    case 's': return "PortalSuspended";
    case 'S': return "ParameterStatus";
    case 't': return "ParameterDescription";
    case 'T': return "RowDescription";
    case 'v': return "NegotiateProtocolVersion";
    case 'V': return "FunctionCallResponse";
    case 'W': return "CopyBothResponse";
    case 'Z': return "ReadyForQuery";
    default: return {};
  }
}

}  // namespace pgw::pgwire
