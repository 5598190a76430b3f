#include "cli/commands.h"

#include <string>

namespace pgw::cli {

bool take_option(Args& args, std::string_view name, std::string_view alias, std::string& value, bool& missing_value) {
  missing_value = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == name || (!alias.empty() && a == alias)) {
      if (i + 1 >= args.size()) {
        missing_value = true;
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
      value = std::string(args[i + 1]);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      return true;
    }
    if (a.size() > name.size() && a.starts_with(name) && a[name.size()] == '=') {
      value = std::string(a.substr(name.size() + 1));
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

}  // namespace pgw::cli
