#pragma once
// Subcommands register themselves: one file per command in tools/, no central list to edit.
// Each command declares its flags once (Spec): the same declaration parses the command line
// (Args), prints `orrery CMD --help`, and is walked by tests/cli_test.cpp, so the help text
// cannot drift from what is parsed. See docs/cli.md ("Adding a flag").
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace orrery::cli {

// One flag. `names`: "--nodes" or aliases "-b, --minbytes" (the first is the canonical name).
// `value`: placeholder shown in help ("N", "SIZE"); empty = a switch without value.
// `def`: the value the parser returns when the flag is absent ("" = none); it is also what
// --help prints as the default. `unit` is printed next to it.
struct Flag {
  enum Opt : unsigned { Repeat = 1, Required = 2, Ignored = 4, MeaningDefault = 8 };
  std::string names, value, def, unit, help;
  unsigned opts = 0;  // Repeat: may be given several times; Required; Ignored: accepted for
                      // compatibility and has no effect; MeaningDefault: the default changes
                      // what is simulated, so the run's summary prints it when it was used.
  std::vector<std::string> aliases() const;
};

class Args;
using CommandFn = std::function<int(const std::vector<std::string>& args)>;
using SpecFn = std::function<int(Args& args)>;

struct Spec {
  std::string name;
  std::string summary;   // one line for `orrery --help`
  std::string usage;     // after "usage: orrery NAME "; more lines may follow "\n"
  std::string example;   // one runnable example (without the leading "orrery ")
  std::vector<Flag> flags;
  std::string notes;     // printed after the flags (positionals, modes)
};

struct Command {
  std::string name;
  std::string summary;
  CommandFn fn;       // legacy commands (parse their own arguments)
  SpecFn spec_fn;     // declared commands
  Spec spec;
  bool declared = false;
};

std::map<std::string, Command>& commands();
std::string help_text(const Spec& s);
// Runs a registered command as `orrery name args...` would (help, parsing, no-op check).
int run_command(const std::string& name, const std::vector<std::string>& args);

struct Register {
  Register(Spec spec, SpecFn fn);
};

// Common flag declarations (one place for what several commands share).
Flag set_flag();      // --set name=value (GPU preset), repeatable
Flag sys_set_flag();  // --sys-set key=value (system), repeatable
Flag system_flag();   // --system NAME|FILE (default dgx-h100)
Flag nodes_flag();    // --nodes N

// Argument parser: "--name value", "--name=value", "-b 8", positionals, repeated flags. Flags
// given but never read by the command are an error after it ran (a silent no-op otherwise).
class Args {
 public:
  Args(const std::vector<std::string>& args, const Spec& spec);
  bool has(const std::string& flag) const;  // given on the command line
  std::string get(const std::string& flag, const std::string& def = "") const;
  std::vector<std::string> all(const std::string& flag) const;
  // A finite number in [lo, hi]; errors name the flag ("-f: '1e999' is not a finite number").
  // Absent: the declaration's default if it has one, else `def`.
  double get_double(const std::string& flag, double def, double lo = -std::numeric_limits<double>::max(),
                    double hi = std::numeric_limits<double>::max()) const;
  // An integer that fits its destination: T is the destination's type (deduced from `def`) and
  // [lo, hi] defaults to T's range, so "--scale-dp 4294967304" is an error, not 8.
  template <class T>
  T get_int(const std::string& flag, T def, T lo = std::numeric_limits<T>::min(),
            T hi = std::numeric_limits<T>::max()) const {
    static_assert(std::is_integral_v<T>, "get_int: integer destinations only");
    std::string v = get(flag);
    if (v.empty() && !has(flag)) return def;  // (given empty, --tp "": parse_int says so)
    return static_cast<T>(parse_int(flag, v, static_cast<long long>(lo), static_cast<long long>(hi)));
  }
  const std::vector<std::string>& positional() const { return positional_; }
  // Everything after a bare "--" (passed through untouched, e.g. a script's own arguments).
  const std::vector<std::string>& rest() const { return rest_; }
  const std::vector<std::string>& raw() const { return raw_; }
  // The command line as run: {command, args...}; config.json stores it as "argv" (orrery rerun).
  std::vector<std::string> argv() const;
  // Flags given but never looked at by the command (excluding Ignored ones).
  std::vector<std::string> unread() const;
  // The values of given Ignored flags have the form their placeholder declares ("N": a whole
  // number >= 0, "0|1", "0-3", "SECONDS"): accepted for compatibility, but not whatever is typed.
  void check_ignored_values() const;
  // "--system dgx-h100 --seq 2048": MeaningDefault flags the command read but the user omitted.
  std::string defaults_used() const;

 private:
  long long parse_int(const std::string& flag, const std::string& v, long long lo, long long hi) const;
  std::string canon(const std::string& flag) const;
  const Flag* decl(const std::string& flag) const;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_, raw_, rest_;
  std::string command_;
  std::vector<Flag> flags_;
  std::map<std::string, std::string> alias_;  // any name -> canonical name
  mutable std::set<std::string> read_;
};

// One line for an exception that is not an orrery::Error (file system, allocation, JSON library).
std::string describe_foreign_error(const std::exception& e);

}  // namespace orrery::cli
