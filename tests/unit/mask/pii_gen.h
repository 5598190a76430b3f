// Random but valid personal data for the leak tests and the benchmarks:
// SSNs with valid areas, Luhn-valid cards, NANP and E.164 phones, IBANs with
// correct check digits, e-mail addresses, API keys.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "detector_test_util.h"

namespace pgw::mask::testing {

class PiiGen {
 public:
  explicit PiiGen(uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool coin() { return uniform(0, 1) == 1; }

  std::string digits(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + uniform(0, 9)));
    return s;
  }

  std::string ssn() {
    int area;
    do area = uniform(1, 899);
    while (area == 666);
    const std::string a = pad(area, 3), g = pad(uniform(1, 99), 2), s = pad(uniform(1, 9999), 4);
    const char sep = coin() ? '-' : ' ';
    return a + sep + g + sep + s;
  }

  std::string card() {
    static const char* kPrefixes[] = {"4", "51", "55", "37", "6011", "35"};
    const std::string prefix = kPrefixes[uniform(0, 5)];
    const size_t length = prefix == "37" ? 15 : 16;
    const std::string number = with_luhn(prefix + digits(length - 1 - prefix.size()));
    switch (uniform(0, 2)) {
      case 0:
        return number;
      case 1:
        return group(number, ' ');
      default:
        return group(number, '-');
    }
  }

  std::string phone() {
    const std::string npa = std::to_string(uniform(2, 9)) + std::to_string(uniform(0, 8)) + std::to_string(uniform(2, 9));
    const std::string nxx = std::to_string(uniform(2, 9)) + std::to_string(uniform(2, 9)) + digits(1);
    const std::string line = digits(4);
    switch (uniform(0, 4)) {
      case 0:
        return "(" + npa + ") " + nxx + "-" + line;
      case 1:
        return npa + "-" + nxx + "-" + line;
      case 2:
        return npa + "." + nxx + "." + line;
      case 3:
        return "+1" + npa + nxx + line;
      default:
        return "+44 20 " + digits(4) + " " + digits(4);
    }
  }

  std::string iban() {
    // German layout: DE, check digits, 18-digit BBAN.
    const std::string bban = digits(18);
    const int check = 98 - mod97(bban + "131400");  // D=13, E=14, check digits 00
    const std::string electronic = "DE" + pad(check, 2) + bban;
    return coin() ? electronic : group(electronic, ' ');
  }

  std::string email() {
    static const char* kDomains[] = {"example.com", "mail.example.org", "corp.example.co.uk", "exämple.de"};
    std::string out = word(uniform(1, 8));
    if (coin()) {
      out += '.';
      out += word(uniform(2, 6));
    }
    out += '@';
    out += kDomains[uniform(0, 3)];
    return out;
  }

  std::string aws_key() {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string s = "AKIA";
    for (int i = 0; i < 16; ++i) s.push_back(kAlphabet[uniform(0, 31)]);
    return s;
  }

  std::string word(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + uniform(0, 25)));
    return s;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  static std::string pad(int v, size_t width) {
    std::string s = std::to_string(v);
    return std::string(width - s.size(), '0') + s;
  }

  static std::string group(const std::string& s, char sep) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (i > 0 && i % 4 == 0) out.push_back(sep);
      out.push_back(s[i]);
    }
    return out;
  }

  static int mod97(const std::string& digits) {
    int r = 0;
    for (char c : digits) r = (r * 10 + (c - '0')) % 97;
    return r;
  }

  std::mt19937_64 rng_;
};

}  // namespace pgw::mask::testing
