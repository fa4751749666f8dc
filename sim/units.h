#pragma once
// Quantities with units. Internally SI: seconds, bytes, bytes/s, FLOP/s, FLOP.
// Rates: "GB/s" = 1e9 bytes/s, "Gb/s" = 1e9 bits/s (decimal, as vendors and nccl-tests).
// Sizes: "GB" = 1e9 bytes, "GiB" = 2^30 bytes; on the command line sizes without "i" follow
// nccl-tests (binary): see parse_cli_size.
#include <cstdint>
#include <string>

namespace orrery {

enum class Unit { Time, Bytes, Bandwidth, FlopRate, Flops, Ratio, Count, Power, Energy, Frequency };

const char* unit_name(Unit u);
// Parses "400 GB/s", "1.2 us", "80 GiB", "989 TFLOP/s", "0.5", "700 W", "1.83 GHz". Throws Error naming `field`.
double parse_quantity(const std::string& text, Unit u, const std::string& field = "");
// Prints with a human unit: 1.2e-6 s -> "1.2 us", 4e11 B/s -> "400 GB/s".
// Below this, a bandwidth written without its unit is taken for a missing unit, not bytes per
// second (1 MB/s: no link, memory or NIC of an accelerator cluster is that slow).
constexpr double kMinUnitlessBandwidth = 1e6;
std::string format_quantity(double value, Unit u, int precision = 4);
std::string format_time(double seconds, int precision = 4);
// A plain number as %g prints it ("1e+308", "0.5", "1000000000" at precision 15): values echoed in
// error lines, never a 300-digit %f.
std::string format_number(double v, int precision = 6);
std::string format_bytes(double bytes, int precision = 4);
// nccl-tests style size on the command line: "8", "8K", "8M", "8G" are binary (x1024),
// "1GiB" binary, "1GB" decimal.
std::uint64_t parse_cli_size(const std::string& text, const std::string& field = "size");

// Picoseconds: the simulation's time base.
using Ps = std::int64_t;
// Largest simulated time: 2^63 ps is about 106 days; 9e18 ps (104 days) leaves headroom for sums.
constexpr double kMaxSimSeconds = 9e6;
[[noreturn]] void throw_time_out_of_range(double seconds);
inline Ps to_ps(double seconds) {
  if (!(seconds < kMaxSimSeconds && seconds > -kMaxSimSeconds)) throw_time_out_of_range(seconds);
  return static_cast<Ps>(seconds * 1e12 + 0.5);
}
inline double to_s(Ps ps) { return static_cast<double>(ps) * 1e-12; }

}  // namespace orrery
