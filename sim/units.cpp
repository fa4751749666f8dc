#include "sim/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "sim/error.h"
#include "sim/limits.h"

namespace orrery {

const char* unit_name(Unit u) {
  switch (u) {
    case Unit::Time: return "s";
    case Unit::Bytes: return "B";
    case Unit::Bandwidth: return "B/s";
    case Unit::FlopRate: return "FLOP/s";
    case Unit::Flops: return "FLOP";
    case Unit::Ratio: return "";
    case Unit::Count: return "";
    case Unit::Power: return "W";
    case Unit::Energy: return "J";
    case Unit::Frequency: return "Hz";
  }
  return "";
}

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

double prefix_factor(char c, bool binary) {
  switch (c) {
    case 'k': case 'K': return binary ? 1024.0 : 1e3;
    case 'M': return binary ? 1048576.0 : 1e6;
    case 'G': return binary ? 1073741824.0 : 1e9;
    case 'T': return binary ? 1099511627776.0 : 1e12;
    case 'P': return binary ? 1125899906842624.0 : 1e15;
    case 'm': return 1e-3;
    case 'u': return 1e-6;
    case 'n': return 1e-9;
    case 'p': return 1e-12;
    default: return 0.0;
  }
}

// Factor for a unit suffix, or 0 when the suffix is not one of u's.
double suffix_factor(const std::string& suf, Unit u) {
  if (suf.empty()) return 1.0;
  auto with_prefix = [&](const std::string& base, double base_factor, bool allow_binary) -> double {
    if (suf == base) return base_factor;
    if (suf.size() == base.size() + 1 && suf.compare(1, std::string::npos, base) == 0) {
      double f = prefix_factor(suf[0], false);
      return f > 0 ? f * base_factor : 0.0;
    }
    if (allow_binary && suf.size() == base.size() + 2 && suf[1] == 'i' &&
        suf.compare(2, std::string::npos, base) == 0) {
      double f = prefix_factor(suf[0], true);
      return f > 0 ? f * base_factor : 0.0;
    }
    return 0.0;
  };
  switch (u) {
    case Unit::Time:
      if (suf == "s" || suf == "sec") return 1.0;
      if (suf == "us" || suf == "µs") return 1e-6;
      if (suf == "min") return 60.0;
      if (suf == "h") return 3600.0;
      return with_prefix("s", 1.0, false);
    case Unit::Bytes: {
      double f = with_prefix("B", 1.0, true);
      if (f > 0) return f;
      return with_prefix("b", 0.125, true);
    }
    case Unit::Bandwidth: {
      double f = with_prefix("B/s", 1.0, true);
      if (f > 0) return f;
      f = with_prefix("b/s", 0.125, true);
      if (f > 0) return f;
      f = with_prefix("Bps", 1.0, true);
      if (f > 0) return f;
      return with_prefix("bps", 0.125, true);
    }
    case Unit::FlopRate: {
      double f = with_prefix("FLOP/s", 1.0, false);
      if (f > 0) return f;
      f = with_prefix("FLOPS", 1.0, false);
      if (f > 0) return f;
      return with_prefix("flop/s", 1.0, false);
    }
    case Unit::Flops: {
      double f = with_prefix("FLOP", 1.0, false);
      return f > 0 ? f : with_prefix("flop", 1.0, false);
    }
    case Unit::Ratio:
      if (suf == "%") return 0.01;
      if (suf == "x") return 1.0;
      return 0.0;
    case Unit::Count: return 0.0;
    case Unit::Power: return with_prefix("W", 1.0, false);
    case Unit::Energy: return with_prefix("J", 1.0, false);
    case Unit::Frequency: return with_prefix("Hz", 1.0, false);
  }
  return 0.0;
}

}  // namespace

double parse_quantity(const std::string& text_in, Unit u, const std::string& field) {
  std::string text = trim(text_in);
  if (text.empty()) throw make_error("", field, "empty value, expected a number with unit " + std::string(unit_name(u)));
  size_t pos = 0;
  double v = 0.0;
  try {
    v = std::stod(text, &pos);
  } catch (...) {
    throw make_error("", field, "'" + text + "' is not a number");
  }
  if (!std::isfinite(v)) throw make_error("", field, "'" + text + "' is not finite");
  std::string suf = trim(text.substr(pos));
  // A bandwidth without its unit is read in bytes per second (5e10 is 50 GB/s); a small one ("25":
  // GB/s? Gb/s?) would be a link a billion times too slow: an error, not 25 B/s.
  if (suf.empty() && u == Unit::Bandwidth && v >= 1 && v < kMinUnitlessBandwidth)
    throw make_error("", field, "'" + text + "' has no unit: a bandwidth needs one (GB/s: bytes, Gb/s: bits)");
  double f = suffix_factor(suf, u);
  if (f == 0.0)
    throw make_error("", field, "unknown unit '" + suf + "' in '" + text + "' (expected " +
                                    (unit_name(u)[0] ? std::string(unit_name(u)) : std::string("no unit")) + ")");
  const double q = v * f;
  // The unit can push a finite number out of range ("1e300 TB/s"): check after applying it.
  if (!std::isfinite(q) || std::fabs(q) > kMaxQuantity)
    throw make_error("", field, "'" + text + "' is out of range (at most 1e30 in base units)");
  if (u == Unit::Time && std::fabs(q) > kMaxInputSeconds)
    throw make_error("", field, "'" + text + "' is out of range: an implausible time (at most " + format_time(kMaxInputSeconds) +
                                    ", so that sums of several stay inside the picosecond time base)");
  return q;
}

namespace {
std::string fmt_num(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}
}  // namespace

std::string format_number(double v, int precision) { return fmt_num(v, precision); }

std::string format_time(double s, int precision) {
  double a = std::fabs(s);
  if (a == 0.0) return "0 s";
  if (a < 1e-9) return fmt_num(s * 1e12, precision) + " ps";
  if (a < 1e-6) return fmt_num(s * 1e9, precision) + " ns";
  if (a < 1e-3) return fmt_num(s * 1e6, precision) + " us";
  if (a < 1.0) return fmt_num(s * 1e3, precision) + " ms";
  return fmt_num(s, precision) + " s";
}

std::string format_bytes(double b, int precision) {
  static const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int i = 0;
  double v = b;
  while (std::fabs(v) >= 1024.0 && i < 5) { v /= 1024.0; ++i; }
  return fmt_num(v, precision) + " " + names[i];
}

std::string format_quantity(double v, Unit u, int precision) {
  auto decimal = [&](const std::string& base) {
    static const std::vector<std::pair<double, const char*>> pf = {
        {1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
    for (auto& [f, p] : pf)
      if (std::fabs(v) >= f) return fmt_num(v / f, precision) + " " + p + base;
    return fmt_num(v, precision) + " " + base;
  };
  switch (u) {
    case Unit::Time: return format_time(v, precision);
    case Unit::Bytes: return format_bytes(v, precision);
    case Unit::Bandwidth: return decimal("B/s");
    case Unit::FlopRate: return decimal("FLOP/s");
    case Unit::Flops: return decimal("FLOP");
    case Unit::Power: return decimal("W");
    case Unit::Energy: return decimal("J");
    case Unit::Frequency: return decimal("Hz");
    case Unit::Ratio:
    case Unit::Count: return fmt_num(v, precision);
  }
  return fmt_num(v, precision);
}

std::uint64_t parse_cli_size(const std::string& text_in, const std::string& field) {
  std::string text = trim(text_in);
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(text, &pos);
  } catch (...) {
    throw make_error("", field, "'" + text + "' is not a size");
  }
  std::string suf = trim(text.substr(pos));
  double f = 1.0;
  if (!suf.empty()) {
    if (suf.back() == 'B' && suf.size() >= 2 && suf[suf.size() - 2] == 'i') {
      f = prefix_factor(suf[0], true);  // KiB, MiB, GiB
      if (suf.size() != 3) f = 0;
    } else if (suf.size() == 2 && suf[1] == 'B') {
      f = prefix_factor(suf[0], false);  // KB, MB, GB decimal
    } else if (suf == "B") {
      f = 1.0;
    } else if (suf.size() == 1) {
      f = prefix_factor(suf[0], true);  // nccl-tests: K, M, G are binary
      if (suf[0] == 'm' || suf[0] == 'u' || suf[0] == 'n' || suf[0] == 'p') f = 0;
    } else {
      f = 0;
    }
  }
  if (f <= 0 || !(v >= 0)) throw make_error("", field, "'" + text + "' is not a size (use 8, 64K, 8M, 1G, 1GiB or 1GB)");
  if (!(v * f <= kMaxCliSize)) throw make_error("", field, "'" + text + "' is out of range (at most 256 TiB)");
  return static_cast<std::uint64_t>(std::llround(v * f));
}

void throw_time_out_of_range(double seconds) {
  throw Error("simulated time " + (std::isfinite(seconds) ? format_time(seconds) : std::string("(not a number)")) +
              " is beyond the simulator's range (about 104 days in picoseconds): an input duration or size is implausibly large");
}

}  // namespace orrery
