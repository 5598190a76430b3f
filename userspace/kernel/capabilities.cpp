#include "kernel/capabilities.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace pgw::kernel {

namespace {

// Older headers (before Linux 5.8) lack the split-out capabilities.
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

// Each found by running the engine without it on Linux 6.18 (what failed is
// quoted); CAP_SYS_RESOURCE is not needed (maps are charged to the memory
// cgroup, not RLIMIT_MEMLOCK, since 5.11), nor CAP_SYS_PTRACE or
// CAP_DAC_READ_SEARCH (other users' /proc/PID/cgroup and comm are readable to
// root without them; cgroup ids are turned into paths by walking the
// hierarchy when open_by_handle_at is refused).
constexpr RequiredCapability kIntercept[] = {
    // Without: libbpf "Couldn't load trivial BPF program", EPERM.
    {CAP_BPF, "CAP_BPF", "to create the eBPF maps and load the programs: bpf(BPF_MAP_CREATE, BPF_PROG_LOAD)"},
    // Without: "map 'pgw_sockhash': failed to create: Operation not permitted".
    {CAP_NET_ADMIN, "CAP_NET_ADMIN",
     "to create the SOCKHASH and load the cgroup socket programs (connect4/6, sock_ops, sk_msg): "
     "bpf(BPF_MAP_CREATE, BPF_PROG_LOAD) of networking types"},
    // Without: the verifier, "program of this type cannot use helper bpf_get_current_comm#16".
    {CAP_PERFMON, "CAP_PERFMON",
     "for the verifier to let the connect programs call bpf_get_current_comm() (the workload's command "
     "name), a helper the kernel offers only to CAP_PERFMON"},
};

struct EffectiveSet {
  uint64_t bits = 0;
  bool has(int cap) const { return cap < 64 && ((bits >> cap) & 1) != 0; }
};

Result<EffectiveSet> effective_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return make_error(std::string("capget: ") + std::strerror(errno));
  return EffectiveSet{static_cast<uint64_t>(data[0].effective) | (static_cast<uint64_t>(data[1].effective) << 32)};
}

}  // namespace

Status check_intercept_capabilities() {
  auto caps = effective_capabilities();
  if (!caps) return make_error(caps.error());
  for (const RequiredCapability& cap : kIntercept) {
    // The kernel's bpf_capable() and perfmon_capable() accept CAP_SYS_ADMIN.
    const bool stands_in = (cap.number == CAP_BPF || cap.number == CAP_PERFMON) && caps->has(CAP_SYS_ADMIN);
    if (!caps->has(cap.number) && !stands_in) {
      return make_error(std::string("intercept needs ") + cap.name + " (" + cap.purpose + "), which this process lacks");
    }
  }
  return ok_status();
}

}  // namespace pgw::kernel
