// The `orrery` command line: dispatches to self-registered subcommands.
#include <cstdio>
#include <iostream>

#include "sim/error.h"
#include "tools/command.h"

namespace orrery::cli {

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
double Args::get_double(const std::string& f, double def) const {
  if (!has(f)) return def;
  std::string v = get(f);
  try {
    size_t pos = 0;
    double d = std::stod(v, &pos);
    if (pos != v.size()) throw 1;
    return d;
  } catch (...) {
    throw Error(f + ": '" + v + "' is not a number");
  }
}
long Args::get_int(const std::string& f, long def) const {
  if (!has(f)) return def;
  std::string v = get(f);
  try {
    size_t pos = 0;
    long d = std::stol(v, &pos);
    if (pos != v.size()) throw 1;
    return d;
  } catch (...) {
    throw Error(f + ": '" + v + "' is not an integer");
  }
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
    std::fprintf(stderr, "orrery %s: error: %s\n", args[0].c_str(), e.what());
    return 1;
  }
}
