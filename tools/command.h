#pragma once
// Subcommands register themselves: one file per command in tools/, no central list to edit.
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace orrery::cli {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string name;
  std::string summary;  // one line for `orrery --help`
  CommandFn fn;
};

std::map<std::string, Command>& commands();

struct Register {
  Register(const std::string& name, const std::string& summary, CommandFn fn) {
    commands()[name] = Command{name, summary, std::move(fn)};
  }
};

// Small argument helper: flags "--name value", "--name=value", "-b 8", positionals, repeated flags.
class Args {
 public:
  Args(const std::vector<std::string>& args, const std::vector<std::string>& flags_with_value,
       const std::vector<std::string>& bool_flags);
  bool has(const std::string& flag) const;
  std::string get(const std::string& flag, const std::string& def = "") const;
  std::vector<std::string> all(const std::string& flag) const;
  // A finite number in [lo, hi]; errors name the flag ("-f: '1e999' is not a finite number").
  double get_double(const std::string& flag, double def, double lo = -std::numeric_limits<double>::max(),
                    double hi = std::numeric_limits<double>::max()) const;
  // An integer that fits its destination: T is the destination's type (deduced from `def`) and
  // [lo, hi] defaults to T's range, so "--scale-dp 4294967304" is an error, not 8.
  template <class T>
  T get_int(const std::string& flag, T def, T lo = std::numeric_limits<T>::min(),
            T hi = std::numeric_limits<T>::max()) const {
    static_assert(std::is_integral_v<T>, "get_int: integer destinations only");
    if (!has(flag)) return def;
    return static_cast<T>(parse_int(flag, static_cast<long long>(lo), static_cast<long long>(hi)));
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  long long parse_int(const std::string& flag, long long lo, long long hi) const;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// One line for an exception that is not an orrery::Error (file system, allocation, JSON library).
std::string describe_foreign_error(const std::exception& e);

}  // namespace orrery::cli
