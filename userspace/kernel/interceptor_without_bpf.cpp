// Built with -DPGWARDEN_BPF=OFF: the engine still links and runs (explicit
// TCP and unix-socket clients), and a config that asks for transparent
// interception gets one clear error instead of a link failure.
#include "kernel/interceptor.h"

namespace pgw::kernel {

struct Interceptor::Impl {};

namespace {
Error unavailable() {
  return make_error("transparent interception is unavailable: pgwarden was built without eBPF (-DPGWARDEN_BPF=OFF)");
}
}  // namespace

sockaddr_storage ConnectionRecord::destination() const { return original_dst; }

Interceptor::Interceptor(InterceptSettings settings) : settings_(std::move(settings)) {}
Interceptor::~Interceptor() = default;

Result<std::unique_ptr<Interceptor>> Interceptor::attach(const InterceptSettings&) { return unavailable(); }
Status Interceptor::remove_pinned(const std::string&) { return unavailable(); }
std::optional<uint32_t> Interceptor::serving_engine(const std::string&) { return std::nullopt; }
std::optional<ConnectionRecord> Interceptor::record_for_accepted(int) const { return std::nullopt; }
std::optional<FastPathState> Interceptor::fast_path_state(int) const { return std::nullopt; }
std::optional<UnixConnectionRecord> Interceptor::record_for_accepted_unix(int) const { return std::nullopt; }
bool Interceptor::intercepts_unix() const { return false; }
std::optional<uint32_t> Interceptor::taken_over_by() const { return std::nullopt; }
Status Interceptor::exclude_own_socket(int) { return unavailable(); }
void Interceptor::forget_own_socket(int) {}
void Interceptor::heartbeat() {}
Status Interceptor::detach_and_unpin() { return unavailable(); }
Result<InterceptorStatus> Interceptor::status() const { return unavailable(); }

}  // namespace pgw::kernel
