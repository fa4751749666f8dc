#pragma once
// The numeric range policy (docs/robustness.md): the bounds every count, size and time from a
// flag or a file is checked against where it is parsed, and checked picosecond arithmetic.
#include "sim/units.h"

namespace orrery {

// Every quantity is finite and at most this, in base units, after its unit is applied.
constexpr double kMaxQuantity = 1e30;
// Every input time (a latency, a duration, a measured step) is at most 1e6 s (11.6 days), far
// inside the picosecond time base (2^63 ps = 106 days) so that sums of several stay inside it;
// sums of more are checked (add_ps).
constexpr double kMaxInputSeconds = 1e6;
// Command-line sizes (-b, -e): at most 2^48 B = 256 TiB.
constexpr double kMaxCliSize = 281474976710656.0;

// a + b in picoseconds, checked: an overflow is an error, never a wrapped (negative) time.
inline Ps add_ps(Ps a, Ps b) {
  Ps r = 0;
  if (__builtin_add_overflow(a, b, &r) || r > static_cast<Ps>(kMaxSimSeconds * 1e12))
    throw_time_out_of_range(to_s(a) + to_s(b));
  return r;
}

}  // namespace orrery
