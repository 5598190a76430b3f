// The capabilities interception needs, checked before anything is loaded, so
// that a container or unit that grants too few fails with one line naming the
// missing capability and its purpose instead of a libbpf EPERM deep inside a
// program load.
#pragma once

#include <string>

#include "common/result.h"

namespace pgw::kernel {

// One capability interception needs (README, "Privileges").
struct RequiredCapability {
  int number;           // CAP_* from <linux/capability.h>
  const char* name;     // "CAP_BPF"
  const char* purpose;  // the calls that need it
};

// Ok when the process holds every capability in its effective set (CAP_SYS_ADMIN
// also stands in for CAP_BPF and CAP_PERFMON, as the kernel lets it); otherwise
// the first one missing: "intercept needs CAP_BPF (to ...), which this process
// lacks".
Status check_intercept_capabilities();

}  // namespace pgw::kernel
