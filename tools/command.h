#pragma once
// Subcommands register themselves: one file per command in tools/, no central list to edit.
#include <functional>
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
  double get_double(const std::string& flag, double def) const;
  long get_int(const std::string& flag, long def) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace orrery::cli
