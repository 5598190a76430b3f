// The text a number type's output function prints for a value received in
// binary format: int8, xid8, numeric, float8 and money. What a client
// would see in text format, so that a value can be judged the same way in
// either format.
//
// float8 follows float8out with extra_float_digits > 0 (the default since
// PostgreSQL 12): the shortest exact digits, in %e style when the decimal
// exponent is below -4 or at least 15. money follows cash_out in the C
// locale ("$1,234.56"), which is what lc_monetary=C prints.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::pgwire {

// Each appends the text to `out`; an error means `bytes` is not a value of
// that type in binary format.
Status int8_binary_to_text(std::string_view bytes, std::string& out);
Status xid8_binary_to_text(std::string_view bytes, std::string& out);
Status float8_binary_to_text(std::string_view bytes, std::string& out);
Status numeric_binary_to_text(std::string_view bytes, std::string& out);
Status money_binary_to_text(std::string_view bytes, std::string& out);

// The same for float8 values held in memory (geometric types are made of
// them), exposed for tests.
void float8_to_text(double value, std::string& out);

}  // namespace pgw::pgwire
