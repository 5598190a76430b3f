#include "pgwire/message_types.h"

namespace pgw::pgwire {

std::string_view frontend_message_name(char type) {
  switch (static_cast<FrontendMsg>(type)) {
    case FrontendMsg::Bind: return "Bind";
    case FrontendMsg::Close: return "Close";
    case FrontendMsg::CopyDone: return "CopyDone";
    case FrontendMsg::CopyData: return "CopyData";
    case FrontendMsg::Describe: return "Describe";
    case FrontendMsg::Execute: return "Execute";
    case FrontendMsg::CopyFail: return "CopyFail";
    case FrontendMsg::FunctionCall: return "FunctionCall";
    case FrontendMsg::Flush: return "Flush";
    case FrontendMsg::Password: return "PasswordMessage";  // also GSSResponse, SASLInitialResponse, SASLResponse
    case FrontendMsg::Parse: return "Parse";
    case FrontendMsg::Query: return "Query";
    case FrontendMsg::Sync: return "Sync";
    case FrontendMsg::Terminate: return "Terminate";
    default: return {};
  }
}

std::string_view backend_message_name(char type) {
  switch (static_cast<BackendMsg>(type)) {
    case BackendMsg::ParseComplete: return "ParseComplete";
    case BackendMsg::BindComplete: return "BindComplete";
    case BackendMsg::CloseComplete: return "CloseComplete";
    case BackendMsg::NotificationResponse: return "NotificationResponse";
    case BackendMsg::CopyDone: return "CopyDone";
    case BackendMsg::CommandComplete: return "CommandComplete";
    case BackendMsg::CopyData: return "CopyData";
    case BackendMsg::DataRow: return "DataRow";
    case BackendMsg::ErrorResponse: return "ErrorResponse";
    case BackendMsg::CopyInResponse: return "CopyInResponse";
    case BackendMsg::CopyOutResponse: return "CopyOutResponse";
    case BackendMsg::EmptyQueryResponse: return "EmptyQueryResponse";
    case BackendMsg::BackendKeyData: return "BackendKeyData";
    case BackendMsg::NoData: return "NoData";
    case BackendMsg::NoticeResponse: return "NoticeResponse";
    case BackendMsg::Authentication: return "Authentication";
    case BackendMsg::PortalSuspended: return "PortalSuspended";
    case BackendMsg::ParameterStatus: return "ParameterStatus";
    case BackendMsg::ParameterDescription: return "ParameterDescription";
    case BackendMsg::RowDescription: return "RowDescription";
    case BackendMsg::NegotiateProtocolVersion: return "NegotiateProtocolVersion";
    case BackendMsg::FunctionCallResponse: return "FunctionCallResponse";
    case BackendMsg::CopyBothResponse: return "CopyBothResponse";
    case BackendMsg::ReadyForQuery: return "ReadyForQuery";
    default: return {};
  }
}

}  // namespace pgw::pgwire
