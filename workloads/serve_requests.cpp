// Serving requests: trace files (JSONL or CSV) and the synthetic generator (Poisson or bursty
// arrivals, fixed/uniform/exponential lengths, fixed seed, own samplers so that the sequence is
// the same with every standard library).
#include <cmath>
#include <limits>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "sim/error.h"
#include "workloads/serve.h"

namespace orrery::serve {
namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// An optional field not given (NaN: any number given, -1 included, is checked as a value).
const double kAbsent = std::numeric_limits<double>::quiet_NaN();

double num_field(const nlohmann::json& j, const std::string& key, const std::string& where, bool required) {
  if (!j.contains(key)) {
    if (required) throw make_error(where, key, "missing");
    return kAbsent;
  }
  const auto& v = j[key];
  if (!v.is_number()) throw make_error(where, key, "expected a number");
  double x = v.get<double>();
  if (!std::isfinite(x)) throw make_error(where, key, "must be finite");
  return x;
}

long count_field(double x, const std::string& where, const std::string& key, long min) {
  if (x != std::floor(x) || x < static_cast<double>(min) || x > 1e9)
    throw make_error(where, key, "must be an integer >= " + std::to_string(min) + " (and <= 1e9)");
  return static_cast<long>(x);
}

Request make_request(double arrival, double prompt, double output, double prefix_id, double prefix_tokens,
                     const std::string& where) {
  Request r;
  if (!(arrival >= 0) || arrival > 1e6) throw make_error(where, "arrival", "must be between 0 and 1e6 seconds");
  r.arrival = arrival;
  r.prompt = count_field(prompt, where, "prompt_tokens", 1);
  r.output = count_field(output, where, "output_tokens", 1);
  if (!std::isnan(prefix_id)) r.prefix_id = count_field(prefix_id, where, "prefix_id", 0);
  if (!std::isnan(prefix_tokens)) r.prefix_tokens = count_field(prefix_tokens, where, "prefix_tokens", 0);
  if (r.prefix_tokens > r.prompt) throw make_error(where, "prefix_tokens", "longer than prompt_tokens");
  return r;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(trim(cell));
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

double csv_number(const std::string& cell, const std::string& where, const std::string& key) {
  if (cell.empty()) return kAbsent;
  char* end = nullptr;
  double x = std::strtod(cell.c_str(), &end);
  if (end == cell.c_str() || *end != '\0' || !std::isfinite(x)) throw make_error(where, key, "'" + cell + "' is not a number");
  return x;
}

}  // namespace

std::vector<Request> load_requests(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw make_error(path, "", "cannot open request trace");
  std::vector<Request> out;
  std::string line;
  long lineno = 0;
  std::vector<std::string> header;
  bool csv = path.size() >= 4 && path.substr(path.size() - 4) == ".csv";
  while (std::getline(in, line)) {
    ++lineno;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::string where = path + ": line " + std::to_string(lineno);
    Request r;
    if (csv) {
      auto cells = split_csv(line);
      if (header.empty()) {
        header = cells;
        for (auto& k : {"arrival", "prompt_tokens", "output_tokens"})
          if (std::find(header.begin(), header.end(), k) == header.end())
            throw make_error(path + ": line 1", k, "missing column (header: arrival,prompt_tokens,output_tokens[,prefix_id,prefix_tokens])");
        continue;
      }
      if (cells.size() != header.size()) throw make_error(where, "", "expected " + std::to_string(header.size()) + " cells");
      auto get = [&](const char* k) {
        for (size_t i = 0; i < header.size(); ++i)
          if (header[i] == k) return csv_number(cells[i], where, k);
        return kAbsent;
      };
      for (auto& k : {"arrival", "prompt_tokens", "output_tokens"})
        if (std::isnan(get(k))) throw make_error(where, k, "missing");
      r = make_request(get("arrival"), get("prompt_tokens"), get("output_tokens"), get("prefix_id"), get("prefix_tokens"), where);
    } else {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception&) {
        throw make_error(where, "", "not a JSON object (JSONL: one {\"arrival\", \"prompt_tokens\", \"output_tokens\"} per line)");
      }
      if (!j.is_object()) throw make_error(where, "", "expected a JSON object");
      for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "arrival" && it.key() != "prompt_tokens" && it.key() != "output_tokens" &&
            it.key() != "prefix_id" && it.key() != "prefix_tokens")
          throw make_error(where, it.key(), "unknown key (known: arrival, prompt_tokens, output_tokens, prefix_id, prefix_tokens)");
      r = make_request(num_field(j, "arrival", where, true), num_field(j, "prompt_tokens", where, true),
                       num_field(j, "output_tokens", where, true), num_field(j, "prefix_id", where, false),
                       num_field(j, "prefix_tokens", where, false), where);
    }
    if (!out.empty() && r.arrival < out.back().arrival) {
      char b[160];
      std::snprintf(b, sizeof b, "%.6g s is before the previous request's %.6g s (arrivals must be sorted)", r.arrival,
                    out.back().arrival);
      throw make_error(where, "arrival", b);
    }
    out.push_back(r);
    if (out.size() > 50'000'000) throw make_error(path, "", "more than 50 million requests");
  }
  if (out.empty()) throw make_error(path, "", "no requests");
  return out;
}

namespace {
// splitmix64: the same stream on every platform. The seed goes through the mixing function
// before it becomes the counter, so seeds s and s + 1 start unrelated streams (a counter of
// seed x increment would make seed s + 1's stream seed s's shifted by one draw).
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(mix(seed + 0x632BE59BD9B4E019ULL)) {}
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t next() { return mix(s += 0x9E3779B97F4A7C15ULL); }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }  // (0,1)
  double exponential(double mean) { return -mean * std::log(uniform()); }
  double normal() { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); }
  // Marsaglia-Tsang; shape < 1 boosted with U^(1/shape).
  double gamma(double shape, double scale) {
    if (shape < 1) return gamma(shape + 1, scale) * std::pow(uniform(), 1.0 / shape);
    double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    for (;;) {
      double x = normal(), v = 1 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      double u = uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v * scale;
    }
  }
};

long draw_length(Rng& g, const std::string& dist, long mean) {
  if (dist == "fixed") return mean;
  if (dist == "uniform") return std::max(1L, static_cast<long>(std::lround(mean * (0.5 + g.uniform()))));
  return std::max(1L, static_cast<long>(std::lround(g.exponential(static_cast<double>(mean)))));
}
}  // namespace

constexpr std::size_t kMaxRequests = 50'000'000;
constexpr double kMaxBurstCv = 30;

std::vector<Request> synth_requests(const SynthSpec& s) {
  if (!(s.rate > 0) || !std::isfinite(s.rate)) throw make_error("--rate", format_number(s.rate), "must be greater than zero");
  if (s.arrivals != "poisson" && s.arrivals != "bursty") throw make_error("--arrivals", s.arrivals, "expected poisson or bursty");
  if (s.arrivals == "bursty" && !(s.cv > 0)) throw make_error("--cv", format_number(s.cv), "must be greater than zero");
  // Gamma gaps of shape 1/cv^2: beyond cv ~30 the sampler's U^(cv^2) underflows to 0, and nearly
  // every request would arrive at one instant.
  if (s.arrivals == "bursty" && s.cv > kMaxBurstCv)
    throw make_error("--cv", format_number(s.cv), "must be at most " + format_number(kMaxBurstCv) +
                                                      " (larger bursts put nearly every request at one instant)");
  if (s.lengths != "fixed" && s.lengths != "uniform" && s.lengths != "exponential")
    throw make_error("--lengths", s.lengths, "expected fixed, uniform or exponential");
  if (s.prompt < 1) throw make_error("--prompt", std::to_string(s.prompt), "must be at least 1");
  if (s.output < 1) throw make_error("--output", std::to_string(s.output), "must be at least 1");
  if (s.num_requests <= 0 && !(s.duration > 0)) throw make_error("--duration", format_number(s.duration), "must be greater than zero");
  if (s.num_requests > static_cast<long>(kMaxRequests)) throw make_error("--requests", std::to_string(s.num_requests), "more than 5e7 requests");
  if (s.num_requests <= 0 && s.duration * s.rate > 5e7) throw make_error("--rate", format_number(s.rate), "rate x duration above 5e7 requests");
  Rng g(s.seed);
  std::vector<Request> out;
  double t = 0;
  for (;;) {
    double gap = s.arrivals == "poisson" ? g.exponential(1 / s.rate) : g.gamma(1 / (s.cv * s.cv), s.cv * s.cv / s.rate);
    t += gap;
    if (s.num_requests > 0 ? static_cast<long>(out.size()) >= s.num_requests : t > s.duration) break;
    if (out.size() >= kMaxRequests)  // (bursts can put far more than rate x duration in the window)
      throw make_error(s.arrivals == "bursty" ? "--cv" : "--rate", format_number(s.arrivals == "bursty" ? s.cv : s.rate),
                       "more than 5e7 requests arrive in --duration");
    Request r;
    r.arrival = t;
    r.prompt = draw_length(g, s.lengths, s.prompt);
    r.output = draw_length(g, s.lengths, s.output);
    if (s.prefix_groups > 0) {
      r.prefix_id = static_cast<long>(g.next() % static_cast<std::uint64_t>(s.prefix_groups));
      r.prefix_tokens = s.prefix_tokens;  // the shared prefix, then the request's own prompt
      r.prompt += s.prefix_tokens;
    }
    out.push_back(r);
  }
  if (out.empty()) throw make_error("--duration", format_number(s.duration), "no request arrives in that time at that rate");
  return out;
}

}  // namespace orrery::serve
