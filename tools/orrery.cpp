// The `orrery` command line: dispatches to self-registered subcommands.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <new>
#include <iostream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/error.h"
#include "tools/command.h"

namespace orrery::cli {

namespace {
template <class T>
std::string range_text(T lo, T hi) {
  auto num = [](T x) {
    std::ostringstream s;
    s << x;
    return s.str();
  };
  if (lo <= std::numeric_limits<T>::lowest() / 2) return "at most " + num(hi);
  if (hi >= std::numeric_limits<T>::max() / 2) return "at least " + num(lo);
  return num(lo) + " to " + num(hi);
}
}  // namespace

std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> c;
  return c;
}

Args::Args(const std::vector<std::string>& args, const std::vector<std::string>& with_value,
           const std::vector<std::string>& bools) {
  auto is = [](const std::vector<std::string>& v, const std::string& s) {
    for (auto& x : v)
      if (x == s) return true;
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      std::string name = a, val;
      bool has_eq = false;
      auto eq = a.find('=');
      if (eq != std::string::npos && a.rfind("--", 0) == 0) {
        name = a.substr(0, eq);
        val = a.substr(eq + 1);
        has_eq = true;
      }
      if (is(bools, name)) {
        values_.emplace(name, has_eq ? val : "1");
      } else if (is(with_value, name)) {
        if (!has_eq) {
          if (i + 1 >= args.size()) throw Error(name + ": missing value");
          val = args[++i];
        }
        values_.emplace(name, val);
      } else {
        throw Error(name + ": unknown option");
      }
    } else {
      positional_.push_back(a);
    }
  }
}

bool Args::has(const std::string& f) const { return values_.count(f) != 0; }
std::string Args::get(const std::string& f, const std::string& def) const {
  auto r = values_.equal_range(f);
  std::string v = def;
  for (auto it = r.first; it != r.second; ++it) v = it->second;  // last wins
  return v;
}
std::vector<std::string> Args::all(const std::string& f) const {
  std::vector<std::string> out;
  auto r = values_.equal_range(f);
  for (auto it = r.first; it != r.second; ++it) out.push_back(it->second);
  return out;
}
double Args::get_double(const std::string& f, double def, double lo, double hi) const {
  if (!has(f)) return def;
  std::string v = get(f);
  double d = 0;
  try {
    size_t pos = 0;
    d = std::stod(v, &pos);
    if (pos != v.size()) throw 1;
  } catch (...) {
    throw Error(f + ": '" + v + "' is not a number");
  }
  if (!std::isfinite(d)) throw Error(f + ": '" + v + "' is not a finite number");
  if (d < lo || d > hi) throw Error(f + ": " + v + " is out of range (" + range_text(lo, hi) + ")");
  return d;
}
long long Args::parse_int(const std::string& f, long long lo, long long hi) const {
  std::string v = get(f);
  long long d = 0;
  try {
    size_t pos = 0;
    d = std::stoll(v, &pos);
    if (pos != v.size()) throw 1;
  } catch (const std::out_of_range&) {
    throw Error(f + ": " + v + " is out of range (" + range_text(lo, hi) + ")");
  } catch (...) {
    throw Error(f + ": '" + v + "' is not an integer");
  }
  if (d < lo || d > hi) throw Error(f + ": " + v + " is out of range (" + range_text(lo, hi) + ")");
  return d;
}

std::string describe_foreign_error(const std::exception& e) {
  if (auto* fe = dynamic_cast<const std::filesystem::filesystem_error*>(&e))
    return (fe->path1().empty() ? std::string("file system") : fe->path1().string()) + ": " + fe->code().message();
  if (dynamic_cast<const std::bad_alloc*>(&e))
    return "out of memory: an input (a size, a count or a trace) is too large for this machine";
  if (dynamic_cast<const nlohmann::json::exception*>(&e)) {
    std::string w = e.what();
    auto b = w.find("] ");
    return "malformed JSON value: " + (b == std::string::npos ? w : w.substr(b + 2));
  }
  return std::string("internal error: ") + e.what();
}

}  // namespace orrery::cli

int main(int argc, char** argv) {
  using namespace orrery::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::printf("orrery: simulate accelerator clusters\n\nusage: orrery COMMAND [options]\n\ncommands:\n");
    for (auto& [name, c] : commands()) std::printf("  %-12s %s\n", name.c_str(), c.summary.c_str());
    return args.empty() ? 2 : 0;
  }
  auto it = commands().find(args[0]);
  if (it == commands().end()) {
    std::fprintf(stderr, "orrery: unknown command '%s' (see orrery --help)\n", args[0].c_str());
    return 2;
  }
  try {
    return it->second.fn(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const orrery::Error& e) {
    std::fprintf(stderr, "orrery %s: error: %s\n", args[0].c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    // Not an orrery::Error: a library's exception a reader did not translate. Still one line, and
    // never the library's text alone.
    std::fprintf(stderr, "orrery %s: error: %s\n", args[0].c_str(), orrery::cli::describe_foreign_error(e).c_str());
    return 1;
  }
}
