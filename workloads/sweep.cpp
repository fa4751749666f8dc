// Design-space sweeps (see sweep.h): spec, constraints, sampling, execution, results.
#include "workloads/sweep.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "sim/csv.h"
#include "sim/data_files.h"
#include "sim/error.h"
#include "workloads/api.h"

namespace orrery::sweep {
namespace {
constexpr long kMaxPoints = 10000000;  // points of one sweep (grid product, samples, a range axis's steps)

std::string S(long x) { return std::to_string(x); }

// ---------------------------------------------------------------- deterministic randomness
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  size_t below(size_t n) { return static_cast<size_t>(uniform() * static_cast<double>(n)) % n; }
};

std::string fnv_hex(const std::string& text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) { h ^= c; h *= 1099511628211ULL; }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool is_price_key(const std::string& k) {
  auto base = k.substr(k.find('.') == std::string::npos ? 0 : k.find('.') + 1);
  return base == "price_gpu_hour" || base == "price_kwh" || base == "pue";
}

void check_value(const std::string& where, const std::string& field, const std::string& key, const nlohmann::json& v) {
  if (!is_price_key(key)) return;
  double x = 0;
  if (v.is_number()) x = v.get<double>();
  else if (v.is_string()) {
    try { x = std::stod(v.get<std::string>()); } catch (...) { throw make_error(where, field, "'" + v.get<std::string>() + "' is not a number"); }
  }
  if (!(x >= 0) || !std::isfinite(x)) throw make_error(where, field, key + " must be zero or more (got " + v.dump() + ")");
}

Axis parse_axis(const nlohmann::json& a, const std::string& where, const std::string& field) {
  Axis x;
  if (!a.is_object()) throw make_error(where, field, "expected an object {name, values | range}");
  for (auto it = a.begin(); it != a.end(); ++it) {
    static const std::set<std::string> known = {"name", "values", "range", "log", "integer", "unit", "steps"};
    if (!known.count(it.key())) throw make_error(where, field + "." + it.key(), "unknown key (known: name, values, range, log, integer, unit, steps)");
  }
  if (!a.contains("name") || !a["name"].is_string() || a["name"].get<std::string>().empty())
    throw make_error(where, field + ".name", "required (the option the axis varies)");
  x.name = a["name"];
  if (a.contains("values") && a.contains("range")) throw make_error(where, field, "axis '" + x.name + "' has both values and range: give one");
  for (const char* k : {"log", "integer"})
    if (a.contains(k) && !a[k].is_boolean()) throw make_error(where, field + "." + k, "expected true or false");
  if (a.contains("unit") && !a["unit"].is_string()) throw make_error(where, field + ".unit", "expected a string");
  if (a.contains("steps") && !a["steps"].is_number_integer()) throw make_error(where, field + ".steps", "expected an integer from 1 to 10000000");
  if (a.contains("values")) {
    if (!a["values"].is_array()) throw make_error(where, field + ".values", "expected an array");
    for (auto& v : a["values"]) x.values.push_back(v);
    if (x.values.empty()) throw make_error(where, field + ".values", "empty axis '" + x.name + "'");
    for (size_t i = 0; i < x.values.size(); ++i) check_value(where, field + ".values[" + S(static_cast<long>(i)) + "]", x.name, x.values[i]);
    for (const char* k : {"range", "steps", "log", "integer", "unit"})  // (a listed axis would ignore them)
      if (a.contains(k)) throw make_error(where, field + "." + k, "applies to a range axis, not to one with values");
  } else if (a.contains("range")) {
    const auto& r = a["range"];
    if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number())
      throw make_error(where, field + ".range", "expected [low, high] numbers");
    x.continuous = true;
    x.lo = r[0];
    x.hi = r[1];
    if (!(x.hi >= x.lo) || !std::isfinite(x.lo) || !std::isfinite(x.hi)) throw make_error(where, field + ".range", "empty axis '" + x.name + "': high < low");
    x.log = a.value("log", false);
    if (x.log && !(x.lo > 0)) throw make_error(where, field + ".range", "a log axis needs low > 0");
    x.integer = a.value("integer", false);
    x.unit = a.value("unit", "");
    x.steps = a.value("steps", 0L);
    if (a.contains("steps") && (x.steps < 1 || x.steps > kMaxPoints))
      throw make_error(where, field + ".steps", "expected an integer from 1 to 10000000");
    check_value(where, field + ".range", x.name, x.lo);
  } else {
    throw make_error(where, field, "axis '" + x.name + "' needs values or range");
  }
  return x;
}

nlohmann::json continuous_value(const Axis& a, double u) {
  double v = a.log ? std::exp(std::log(a.lo) + u * (std::log(a.hi) - std::log(a.lo))) : a.lo + u * (a.hi - a.lo);
  if (a.integer) v = std::round(v);
  if (a.unit.empty()) return a.integer ? nlohmann::json(static_cast<long>(v)) : nlohmann::json(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g%s", v, a.unit.c_str());
  return buf;
}

std::vector<nlohmann::json> grid_values(const Axis& a, const std::string& where) {
  if (!a.continuous) return a.values;
  if (a.steps < 1) throw make_error(where, a.name, "a range axis in a grid needs steps");
  std::vector<nlohmann::json> out;
  for (long i = 0; i < a.steps; ++i) out.push_back(continuous_value(a, a.steps == 1 ? 0.0 : static_cast<double>(i) / (a.steps - 1)));
  return out;
}

// ---------------------------------------------------------------- expressions
struct Parser {
  const std::string& t;
  const std::function<bool(const std::string&, double*)>& var;
  size_t i = 0;
  int depth = 0;  // nested parentheses and prefix operators: bounded, the parser recurses
  void ws() { while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i; }
  bool eat(const char* op) {
    ws();
    size_t n = std::strlen(op);
    if (t.compare(i, n, op) == 0) { i += n; return true; }
    return false;
  }
  [[noreturn]] void fail(const std::string& what) {
    std::string shown = t.size() > 80 ? t.substr(0, 80) + "..." : t;
    throw Error("'" + shown + "': " + what + " at column " + S(static_cast<long>(i + 1)));
  }
  struct Nest {  // one level deeper for the life of a parenthesis or prefix operator
    Parser& p;
    explicit Nest(Parser& q) : p(q) {
      if (++p.depth > 256) p.fail("nested more than 256 deep");
    }
    ~Nest() { --p.depth; }
  };
  double primary() {
    ws();
    if (eat("(")) { Nest n(*this); double v = orr(); if (!eat(")")) fail("expected ')'"); return v; }
    if (eat("!")) { Nest n(*this); return primary() == 0 ? 1 : 0; }
    if (eat("-")) { Nest n(*this); return -primary(); }
    if (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) {
      const char* start = t.c_str() + i;
      char* end = nullptr;
      double v = std::strtod(start, &end);
      if (end == start) fail("expected a number");
      if (!std::isfinite(v)) fail("number out of range");
      i += static_cast<size_t>(end - start);
      return v;
    }
    size_t j = i;
    while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '_' || t[j] == '.')) ++j;
    if (j == i) fail("expected a number or a name");
    std::string name = t.substr(i, j - i);
    i = j;
    double v = 0;
    if (!var(name, &v)) fail("unknown or non-numeric variable '" + name + "'");
    return v;
  }
  double mul() {
    double v = primary();
    for (;;) {
      if (eat("*")) v *= primary();
      else if (eat("/")) v /= primary();
      else if (eat("%")) { double d = primary(); v = d != 0 ? std::fmod(v, d) : NAN; }
      else return v;
    }
  }
  double add() {
    double v = mul();
    for (;;) {
      if (eat("+")) v += mul();
      else if (eat("-")) v -= mul();
      else return v;
    }
  }
  double cmp() {
    double v = add();
    if (eat("==")) return v == add();
    if (eat("!=")) return v != add();
    if (eat("<=")) return v <= add();
    if (eat(">=")) return v >= add();
    if (eat("<")) return v < add();
    if (eat(">")) return v > add();
    return v;
  }
  double andx() { double v = cmp(); while (eat("&&")) { double w = cmp(); v = (v != 0 && w != 0); } return v; }
  double orr() { double v = andx(); while (eat("||")) { double w = andx(); v = (v != 0 || w != 0); } return v; }
};

bool option_number(const nlohmann::json& opts, const std::string& name, double* out) {
  if (!opts.contains(name)) return false;
  const auto& v = opts[name];
  if (v.is_number()) { *out = v.get<double>(); return true; }
  if (v.is_boolean()) { *out = v.get<bool>(); return true; }
  if (v.is_string()) {
    try {
      size_t n = 0;
      std::string s = v.get<std::string>();
      *out = std::stod(s, &n);
      return n == s.size();
    } catch (...) { return false; }
  }
  return false;
}

bool satisfies(const Spec& s, const nlohmann::json& opts) {
  for (size_t i = 0; i < s.constraints.size(); ++i) {
    const std::string& c = s.constraints[i];
    double v = 0;
    try {
      v = eval_expr(c, [&](const std::string& n, double* out) { return option_number(opts, n, out); });
    } catch (const Error& e) {  // (a syntax error or an unknown name: the file and which constraint)
      throw make_error(s.where, "constraints[" + S(static_cast<long>(i)) + "]", e.what());
    }
    if (v == 0 || std::isnan(v)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- files
// Appends one line under an exclusive lock (concurrent workers and MPI ranks share the file).
void append_line(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw make_error(path, "", "cannot write");
  ::flock(fd, LOCK_EX);
  std::string l = line + "\n";
  size_t off = 0;
  while (off < l.size()) {
    ssize_t w = ::write(fd, l.data() + off, l.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
}

// Drops a torn last line (a run killed mid-write) so appends start on a fresh line.
void repair_tail(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return;
  ::flock(fd, LOCK_EX);
  off_t size = ::lseek(fd, 0, SEEK_END);
  off_t keep = size;
  char c = 0;
  while (keep > 0) {
    if (::pread(fd, &c, 1, keep - 1) != 1 || c == '\n') break;
    --keep;
  }
  if (keep != size && ::ftruncate(fd, keep) != 0) { /* left as is: readers skip a torn line */ }
  ::flock(fd, LOCK_UN);
  ::close(fd);
}

long count_lines(const std::string& path) {
  std::ifstream in(path);
  long n = 0;
  std::string l;
  while (std::getline(in, l)) if (!l.empty()) ++n;
  return n;
}

void show_progress(bool tty, long done, long total, double secs, double* last_print) {
  double rate = secs > 0 ? done / secs : 0;
  double eta = rate > 0 ? (total - done) / rate : 0;
  if (tty) {
    int w = 30, fill = total > 0 ? static_cast<int>(w * done / total) : w;
    std::fprintf(stderr, "\r[%s%s] %ld/%ld  %.1f points/s  ETA %.0f s ", std::string(fill, '#').c_str(),
                 std::string(w - fill, '.').c_str(), done, total, rate, eta);
    if (done >= total) std::fprintf(stderr, "\n");
  } else if (secs - *last_print >= 5 || done >= total) {
    std::fprintf(stderr, "sweep: %ld/%ld points done (%.1f/s, ETA %.0f s)\n", done, total, rate, eta);
    *last_print = secs;
  }
  std::fflush(stderr);
}

}  // namespace

// ======================================================================== spec
Spec parse_spec(const nlohmann::json& j, const std::string& where) {
  Spec s;
  s.where = where;
  if (!j.is_object()) throw make_error(where, "", "expected a JSON object");
  static const std::set<std::string> known = {"command", "base", "axes", "sampler", "samples", "seed",
                                              "constraints", "metric", "output", "description"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key()))
      throw make_error(where, it.key(), "unknown key (known: command, base, axes, sampler, samples, seed, constraints, metric, output, description)");
  for (const char* k : {"command", "sampler", "metric", "output", "description"})
    if (j.contains(k) && !j[k].is_string()) throw make_error(where, k, "expected a string");
  s.command = j.value("command", "train");
  if (s.command != "train" && s.command != "replay" && s.command != "collective")
    throw make_error(where, "command", "'" + s.command + "': expected train, replay or collective");
  if (j.contains("base")) {
    if (!j["base"].is_object()) throw make_error(where, "base", "expected an object of options");
    s.base = j["base"];
    for (auto it = s.base.begin(); it != s.base.end(); ++it) check_value(where, "base." + it.key(), it.key(), it.value());
  }
  if (!j.contains("axes")) throw make_error(where, "axes", "required (at least one axis)");
  const auto& ax = j["axes"];
  if (ax.is_object()) {  // shorthand {"tp": [1, 2, 4]}
    for (auto it = ax.begin(); it != ax.end(); ++it)
      s.axes.push_back(parse_axis({{"name", it.key()}, {"values", it.value()}}, where, "axes." + it.key()));
  } else if (ax.is_array()) {
    for (size_t i = 0; i < ax.size(); ++i) s.axes.push_back(parse_axis(ax[i], where, "axes[" + S(static_cast<long>(i)) + "]"));
  } else {
    throw make_error(where, "axes", "expected an array of axes or an object name -> values");
  }
  if (s.axes.empty()) throw make_error(where, "axes", "empty: no axis to sweep");
  std::set<std::string> names;
  for (auto& a : s.axes)
    if (!names.insert(a.name).second) throw make_error(where, "axes", "axis '" + a.name + "' appears twice");
  s.sampler = j.value("sampler", "grid");
  if (s.sampler != "grid" && s.sampler != "random" && s.sampler != "lhs")
    throw make_error(where, "sampler", "'" + s.sampler + "': expected grid, random or lhs");
  if (j.contains("samples")) {
    if (!j["samples"].is_number_integer() || j["samples"].get<long>() < 1 || j["samples"].get<long>() > kMaxPoints)
      throw make_error(where, "samples", "expected an integer from 1 to 10000000");
    s.samples = j["samples"];
  }
  if (s.sampler != "grid" && s.samples < 1) throw make_error(where, "samples", "required by the " + s.sampler + " sampler");
  if (s.sampler == "grid")
    for (const char* k : {"samples", "seed"})
      if (j.contains(k)) throw make_error(where, k, "the grid sampler takes every point: samples and seed are for random and lhs");
  if (j.contains("seed")) {
    if (!j["seed"].is_number_integer()) throw make_error(where, "seed", "expected an integer");
    s.seed = j["seed"].get<std::uint64_t>();
  }
  if (j.contains("constraints")) {
    const auto& c = j["constraints"];
    if (c.is_string()) s.constraints.push_back(c);
    else if (c.is_array()) for (auto& x : c) {
      if (!x.is_string()) throw make_error(where, "constraints", "expected strings");
      s.constraints.push_back(x);
    }
    else throw make_error(where, "constraints", "expected a string or an array of strings");
  }
  s.metric = j.value("metric", default_metric(s.command));
  s.output = j.value("output", "");
  return s;
}

Spec load_spec(const std::string& path) { return parse_spec(parse_json_path(path), path); }

std::string default_metric(const std::string& command) {
  if (command == "replay") return "step_time_s";
  if (command == "collective") return "time_us";
  return "iteration_time_s";
}

double eval_expr(const std::string& expr, const std::function<bool(const std::string&, double*)>& var) {
  Parser p{expr, var};
  double v = p.orr();
  p.ws();
  if (p.i != expr.size()) p.fail("unexpected '" + expr.substr(p.i) + "'");
  return v;
}

// ======================================================================== points
std::vector<Point> make_points(const Spec& s) {
  std::vector<nlohmann::json> combos;  // axis name -> value
  if (s.sampler == "grid") {
    double size = 1;  // (checked before any point is built: a grid of 1e9 points would exhaust memory)
    for (auto& a : s.axes) size *= a.continuous ? static_cast<double>(a.steps) : static_cast<double>(a.values.size());
    if (size > kMaxPoints) throw make_error(s.where, "axes", "grid larger than 10 million points");
    combos.push_back(nlohmann::json::object());
    for (auto& a : s.axes) {
      std::vector<nlohmann::json> next;
      for (auto& c : combos)
        for (auto& v : grid_values(a, s.where)) {
          nlohmann::json d = c;
          d[a.name] = v;
          next.push_back(std::move(d));
        }
      combos = std::move(next);
    }
  } else {
    Rng rng{s.seed};
    const size_t n = static_cast<size_t>(s.samples);
    std::vector<std::vector<size_t>> perm(s.axes.size());
    if (s.sampler == "lhs")
      for (auto& p : perm) {
        p.resize(n);
        for (size_t i = 0; i < n; ++i) p[i] = i;
        for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.below(i)]);
      }
    for (size_t i = 0; i < n; ++i) {
      nlohmann::json d = nlohmann::json::object();
      for (size_t k = 0; k < s.axes.size(); ++k) {
        const Axis& a = s.axes[k];
        double u = s.sampler == "lhs" ? (static_cast<double>(perm[k][i]) + rng.uniform()) / static_cast<double>(n) : rng.uniform();
        d[a.name] = a.continuous ? continuous_value(a, u) : a.values[std::min(a.values.size() - 1, static_cast<size_t>(u * a.values.size()))];
      }
      combos.push_back(std::move(d));
    }
  }
  std::vector<Point> pts;
  std::set<std::string> seen;
  for (auto& c : combos) {
    Point p;
    p.axes = c;
    p.options = s.base;
    for (auto it = c.begin(); it != c.end(); ++it) p.options[it.key()] = it.value();
    if (!satisfies(s, p.options)) continue;
    p.id = fnv_hex(s.command + p.options.dump());
    if (!seen.insert(p.id).second) continue;  // random draws can repeat a discrete point
    p.index = static_cast<long>(pts.size());
    pts.push_back(std::move(p));
  }
  if (pts.empty()) {
    std::string all;
    for (auto& c : s.constraints) all += (all.empty() ? "" : " && ") + c;
    throw make_error(s.where, "constraints", "no point satisfies '" + all + "' (of " + S(static_cast<long>(combos.size())) + " " + s.sampler + " points)");
  }
  return pts;
}

nlohmann::json run_point(const Spec& s, const Point& p) {
  nlohmann::json row;
  row["id"] = p.id;
  row["index"] = p.index;
  for (auto it = p.axes.begin(); it != p.axes.end(); ++it) row[it.key()] = it.value();
  try {
    nlohmann::json r = api::run(s.command, p.options);
    row["status"] = "ok";
    for (auto it = r.begin(); it != r.end(); ++it)
      if (it.value().is_primitive() && !row.contains(it.key())) row[it.key()] = it.value();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    row["status"] = "failed";
    row["error"] = msg;
  }
  return row;
}

// ======================================================================== execution
void check_run_options(const Spec& s, const RunOptions& o) {
  if (o.output.empty()) throw make_error(s.where, "output", "required (sweep file \"output\" or -o FILE.jsonl)");
  if (o.jobs < 1) throw make_error("-j", S(o.jobs), "must be at least 1");
  int fd = ::open(o.output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw make_error(o.output, "", "cannot write");
  ::close(fd);
}

RunStats run(const Spec& s, const std::vector<Point>& points, const RunOptions& o_in) {
  auto t0 = std::chrono::steady_clock::now();
  check_run_options(s, o_in);
  RunOptions o = o_in;
  if (o.rank == 0) repair_tail(o.output);
  std::set<std::string> done;
  for (auto& r : read_results(o.output)) done.insert(r.value("id", ""));
  RunStats st;
  st.total = static_cast<long>(points.size());
  std::vector<const Point*> todo;  // this rank's share
  long pending_all = 0;
  for (auto& p : points) {
    if (done.count(p.id)) { ++st.skipped; continue; }
    ++pending_all;
    if (p.index % o.ranks == o.rank) todo.push_back(&p);
  }
  // (no more workers than points: -j 100000 forked idle workers one by one)
  o.jobs = static_cast<int>(std::min<size_t>(static_cast<size_t>(o.jobs), std::max<size_t>(1, todo.size())));
  const long lines0 = count_lines(o.output);
  const bool tty = o.progress && o.rank == 0 && ::isatty(2);
  const bool report = o.progress && o.rank == 0;
  auto work = [&](int w) {
    for (size_t i = static_cast<size_t>(w); i < todo.size(); i += static_cast<size_t>(o.jobs))
      append_line(o.output, run_point(s, *todo[i]).dump());
  };
  double last = -1e9;
  auto secs = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (o.jobs == 1) {
    for (size_t i = 0; i < todo.size(); ++i) {
      append_line(o.output, run_point(s, *todo[i]).dump());
      if (report) show_progress(tty, count_lines(o.output) - lines0, pending_all, secs(), &last);
    }
  } else {
    std::fflush(nullptr);
    std::vector<pid_t> kids;
    for (int w = 0; w < o.jobs; ++w) {
      pid_t pid = ::fork();
      if (pid < 0) throw Error("sweep: cannot start worker process");
      if (pid == 0) {
        int rc = 0;
        try { work(w); } catch (const std::exception& e) { std::fprintf(stderr, "orrery sweep: worker: %s\n", e.what()); rc = 1; }
        std::fflush(nullptr);
        ::_exit(rc);
      }
      kids.push_back(pid);
    }
    size_t alive = kids.size();
    while (alive > 0) {
      int status = 0;
      pid_t r = ::waitpid(-1, &status, WNOHANG);
      if (r > 0) { --alive; continue; }
      if (report) show_progress(tty, count_lines(o.output) - lines0, pending_all, secs(), &last);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  if (report && o.ranks == 1) show_progress(tty, count_lines(o.output) - lines0, pending_all, secs(), &last);
  for (auto& r : read_results(o.output)) {
    if (r.value("status", "") == "failed") ++st.failed;
  }
  st.done = count_lines(o.output) - lines0;
  st.wall_s = secs();
  return st;
}

// ======================================================================== results
std::vector<nlohmann::json> read_results(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  std::set<std::string> ids;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("id")) continue;  // a torn line
    if (!ids.insert(j["id"].get<std::string>()).second) continue;
    rows.push_back(std::move(j));
  }
  std::sort(rows.begin(), rows.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("index", 0L) != b.value("index", 0L) ? a.value("index", 0L) < b.value("index", 0L) : a["id"] < b["id"];
  });
  return rows;
}

std::vector<size_t> pareto_front(const std::vector<nlohmann::json>& rows, const std::vector<std::string>& keys) {
  std::vector<size_t> ok;
  for (size_t i = 0; i < rows.size(); ++i) {
    bool all = true;
    for (auto& k : keys) all = all && rows[i].contains(k) && rows[i][k].is_number();
    if (all) ok.push_back(i);
  }
  std::vector<size_t> front;
  for (size_t i : ok) {
    bool dominated = false;
    for (size_t j : ok) {
      if (i == j) continue;
      bool le = true, lt = false;
      for (auto& k : keys) {
        double a = rows[j][k].get<double>(), b = rows[i][k].get<double>();
        le = le && a <= b;
        lt = lt || a < b;
      }
      if (le && lt) { dominated = true; break; }
    }
    if (!dominated) front.push_back(i);
  }
  return front;
}

void write_csv(const Spec& s, const std::vector<nlohmann::json>& rows, const std::string& path) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  std::set<std::string> metric_keys;
  for (auto& r : rows) for (auto it = r.begin(); it != r.end(); ++it) metric_keys.insert(it.key());
  std::vector<std::string> cols = {"id", "index", "status"};
  for (auto& a : s.axes) cols.push_back(a.name);
  for (auto& k : metric_keys)
    if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
  for (auto& r : rows) {
    nlohmann::ordered_json o;
    for (auto& c : cols) o[c] = r.contains(c) ? nlohmann::ordered_json(r[c]) : nlohmann::ordered_json(nullptr);
    out.push_back(o);
  }
  write_csv_file(path, out, "--csv");
}

}  // namespace orrery::sweep
