// The `orrery` command line: dispatches to self-registered subcommands, parses their declared
// flags (tools/command.h) and prints their --help from the same declaration.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <new>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/error.h"
#include "tools/command.h"

#include <unistd.h>
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ORRERY_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ORRERY_ASAN 1
#endif

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

Register::Register(Spec spec, SpecFn fn) {
  std::string name = spec.name, summary = spec.summary;
  commands()[name] = Command{name, summary, nullptr, std::move(fn), std::move(spec), true};
}

std::vector<std::string> Flag::aliases() const {
  std::vector<std::string> out;
  std::stringstream ss(names);
  std::string n;
  while (std::getline(ss, n, ',')) {
    auto b = n.find_first_not_of(' '), e = n.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(n.substr(b, e - b + 1));
  }
  return out;
}

Flag set_flag() {
  return {"--set", "NAME=VALUE", "", "", "GPU preset parameter for this run (see orrery describe accelerator); an unknown name is an error",
          Flag::Repeat};
}
Flag sys_set_flag() {
  return {"--sys-set", "KEY=VALUE", "", "",
          "system parameter for this run: a topology key (nvlink_bandwidth=50GB/s) or collective.KEY (see orrery describe SYSTEM)",
          Flag::Repeat};
}
Flag system_flag() {
  return {"--system", "NAME|FILE", "dgx-h100", "", "system preset (orrery list systems) or system JSON (e.g. from topo --json)",
          Flag::MeaningDefault};
}
Flag nodes_flag() { return {"--nodes", "N", "", "", "number of nodes (default: the size the system describes)"}; }

std::string help_text(const Spec& s) {
  std::string out = "usage: orrery " + s.name + " " + s.usage + "\n\n" + s.summary + "\n";
  if (!s.flags.empty()) out += "\noptions:\n";
  for (auto& f : s.flags) {
    std::string left = "  " + f.names + (f.value.empty() ? "" : " " + f.value);
    std::string text = f.help;
    if (!f.unit.empty()) text += " [" + f.unit + "]";
    if (!f.def.empty()) text += " (default: " + f.def + ")";
    if (f.opts & Flag::Required) text += " (required)";
    if (f.opts & Flag::Repeat) text += " (repeatable)";
    if (f.opts & Flag::Ignored) text += " (accepted, no effect)";
    if (left.size() <= 28) left.resize(30, ' ');  // at least two spaces before the text
    else left += "\n" + std::string(30, ' ');
    out += left + text + "\n";
  }
  out += std::string("  -h, --help") + std::string(18, ' ') + "this help\n";
  if (!s.notes.empty()) out += "\n" + s.notes + (s.notes.back() == '\n' ? "" : "\n");
  if (!s.example.empty()) out += "\nexample:\n  orrery " + s.example + "\n";
  return out;
}

namespace {
bool looks_like_flag(const std::string& a) {
  return a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1])) && a[1] != '.';
}
}  // namespace

Args::Args(const std::vector<std::string>& args, const Spec& spec) : raw_(args), command_(spec.name), flags_(spec.flags) {
  for (auto& f : flags_)
    for (auto& n : f.aliases()) alias_[n] = f.aliases().front();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      rest_.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (!looks_like_flag(a)) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a, val;
    bool has_eq = false;
    auto eq = a.find('=');
    if (eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      val = a.substr(eq + 1);
      has_eq = true;
    }
    const Flag* f = decl(name);
    if (!f) throw Error(name + ": unknown option (see orrery " + spec.name + " --help)");
    if (f->value.empty()) {
      values_.emplace(canon(name), has_eq ? val : "1");
      continue;
    }
    if (!has_eq) {
      if (i + 1 >= args.size()) throw Error(name + ": missing value " + f->value);
      val = args[++i];
    }
    values_.emplace(canon(name), val);
  }
  for (auto& f : flags_) {
    std::string c = f.aliases().front();
    if ((f.opts & Flag::Required) && !values_.count(c)) throw Error(c + ": required (" + f.help + ")");
    if (!(f.opts & Flag::Repeat) && values_.count(c) > 1) throw Error(c + ": given more than once");
  }
}


std::vector<std::string> Args::argv() const {
  std::vector<std::string> v{command_};
  v.insert(v.end(), raw_.begin(), raw_.end());
  return v;
}

std::string Args::canon(const std::string& f) const {
  auto it = alias_.find(f);
  return it == alias_.end() ? f : it->second;
}
const Flag* Args::decl(const std::string& f) const {
  std::string c = canon(f);
  for (auto& x : flags_)
    if (x.aliases().front() == c) return &x;
  return nullptr;
}

bool Args::has(const std::string& f) const {
  read_.insert(canon(f));
  return values_.count(canon(f)) != 0;
}
std::string Args::get(const std::string& f, const std::string& def) const {
  std::string c = canon(f);
  read_.insert(c);
  auto r = values_.equal_range(c);
  if (r.first == r.second) {
    const Flag* d = decl(c);
    return d && !d->def.empty() ? d->def : def;  // the declaration's default wins: help cannot drift
  }
  std::string v;
  for (auto it = r.first; it != r.second; ++it) v = it->second;  // last wins
  return v;
}
std::vector<std::string> Args::all(const std::string& f) const {
  std::string c = canon(f);
  read_.insert(c);
  std::vector<std::string> out;
  auto r = values_.equal_range(c);
  for (auto it = r.first; it != r.second; ++it) out.push_back(it->second);
  return out;
}
double Args::get_double(const std::string& f, double def, double lo, double hi) const {
  std::string v = get(f);
  if (v.empty() && has(f)) throw Error(f + ": an empty value (expected a number)");  // (--tp "" ran as the default)
  if (v.empty()) return def;
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
long long Args::parse_int(const std::string& f, const std::string& v, long long lo, long long hi) const {
  if (v.empty()) throw Error(f + ": an empty value (expected a whole number)");
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

// An error is one line: newlines a user's string carried into it (a name, a flag value) are
// written as \n.
std::string one_line(std::string m) {
  std::string out;
  for (char c : m) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
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
std::vector<std::string> Args::unread() const {
  std::vector<std::string> out;
  for (auto it = values_.begin(); it != values_.end(); it = values_.upper_bound(it->first)) {
    const Flag* d = decl(it->first);
    if (!read_.count(it->first) && !(d && (d->opts & Flag::Ignored))) out.push_back(it->first);
  }
  return out;
}
void Args::check_ignored_values() const {
  for (auto& f : flags_) {
    if (!(f.opts & Flag::Ignored)) continue;
    std::string c = f.aliases().front();
    for (auto it = values_.lower_bound(c); it != values_.upper_bound(c); ++it) {
      if (f.value == "N") parse_int(c, it->second, 0, std::numeric_limits<long long>::max());
      else if (f.value == "0|1") parse_int(c, it->second, 0, 1);
      else if (f.value == "0-3") parse_int(c, it->second, 0, 3);
      else if (f.value == "SECONDS") get_double(c, 0, 0);
    }
  }
}
std::string Args::defaults_used() const {
  std::string out;
  for (auto& f : flags_) {
    std::string c = f.aliases().front();
    if ((f.opts & Flag::MeaningDefault) && read_.count(c) && !values_.count(c) && !f.def.empty())
      out += (out.empty() ? "" : " ") + c + " " + f.def;
  }
  return out;
}

}  // namespace orrery::cli

namespace {
int list_commands() {
  using namespace orrery::cli;
  std::printf("orrery: simulate accelerator clusters\n\nusage: orrery COMMAND [options]   (orrery COMMAND --help for its flags)\n\ncommands:\n");
  for (auto& [name, c] : commands()) std::printf("  %-12s %s\n", name.c_str(), c.summary.c_str());
  return 0;
}

// What a command prints to stdout is held until it returns: a command that fails (bad input found
// after some output, a flag that turned out to do nothing) then prints its one error line and
// nothing else; one that returns, whatever its exit code, prints everything it held. A script a
// command runs (emulate) inherits the held descriptor. Without a temporary file, output is not held.
class HeldStdout {
 public:
  HeldStdout() {
    std::fflush(stdout);
    std::cout.flush();
    file_ = std::tmpfile();
    saved_ = file_ ? ::dup(STDOUT_FILENO) : -1;
    if (saved_ < 0 || ::dup2(::fileno(file_), STDOUT_FILENO) < 0) restore();
  }
  HeldStdout(const HeldStdout&) = delete;
  HeldStdout& operator=(const HeldStdout&) = delete;
  ~HeldStdout() { restore(); }  // (an exception is leaving: what was held is dropped)
  void release() {
    if (saved_ < 0) return;
    std::FILE* f = file_;
    file_ = nullptr;  // (kept open past restore() to copy it out)
    restore();
    std::rewind(f);
    char buf[1 << 16];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) std::fwrite(buf, 1, n, stdout);
    std::fflush(stdout);
    std::fclose(f);
  }

 private:
  void restore() {
    std::fflush(stdout);
    std::cout.flush();
    if (saved_ >= 0) {
      ::dup2(saved_, STDOUT_FILENO);
      ::close(saved_);
      saved_ = -1;
    }
    if (file_) std::fclose(file_);
    file_ = nullptr;
  }
  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

// An output flag given "-" would write a file of that name: only `kernel --json -` prints to
// stdout, every other output is a file (and a result's .config.json goes beside it).
void check_no_stdout_file(const std::string& command, const std::vector<std::string>& raw) {
  static const char* outputs[] = {"--json", "--timeline", "--dot", "--csv", "--report", "-o", "--write-bundle", "--write-chakra"};
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == "--") break;
    for (const char* f : outputs) {
      std::string flag = f;
      bool dash = (raw[i] == flag && i + 1 < raw.size() && raw[i + 1] == "-") || raw[i] == flag + "=-";
      if (dash && !(command == "kernel" && flag == "--json"))
        throw orrery::make_error(flag, "-", "standard output is not an output file here: give a file name");
    }
  }
}

int dispatch(const orrery::cli::Command& c, const std::vector<std::string>& rest) {
  using namespace orrery::cli;
  if (!c.declared) return c.fn(rest);
  for (auto& x : rest) {
    if (x == "--") break;  // what follows belongs to someone else (emulate's script)
    if (x == "--help" || x == "-h") {
      std::printf("%s", help_text(c.spec).c_str());
      return 0;
    }
  }
  Args a(rest, c.spec);
  a.check_ignored_values();
  check_no_stdout_file(c.name, a.raw());
  HeldStdout held;
  int rc = c.spec_fn(a);
  auto unread = a.unread();
  // (a run that failed, and said why, stopped before reading the rest: not the flags' fault)
  if (rc == 0 && !unread.empty()) {
    std::string names;
    for (auto& u : unread) names += (names.empty() ? "" : ", ") + u;
    throw orrery::Error(names + ": given but has no effect in this run (see orrery " + c.name + " --help)");
  }
  held.release();
  return rc;
}
}  // namespace

namespace orrery::cli {
int run_command(const std::string& name, const std::vector<std::string>& args) {
  auto it = commands().find(name);
  if (it == commands().end()) throw Error(name + ": unknown command (see orrery --help)");
  return dispatch(it->second, args);
}
}  // namespace orrery::cli

namespace {
// Transparent huge pages for the heap. A large trace allocates gigabytes in small objects, and
// with 4 KiB pages much of the run is page faults and TLB misses: the 1M-kernel Kineto replay
// (docs/robustness.md) spends about half its user time less with glibc's huge-page malloc. glibc
// takes that setting only from GLIBC_TUNABLES at start-up, so orrery runs itself again once
// with `glibc.malloc.hugetlb=1` added (madvise only: where THP is off, nothing changes).
// ORRERY_NO_HUGE_PAGES=1 turns this off; it is not done under sanitizers (their own allocator) or
// inside an MPI launch (the launcher tracks this process).
void use_huge_pages(char** argv) {
#if defined(__GLIBC__) && !defined(ORRERY_ASAN)
  if (std::getenv("ORRERY_NO_HUGE_PAGES")) return;
  for (const char* mpi : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(mpi)) return;
  const char* t = std::getenv("GLIBC_TUNABLES");
  std::string tunables = t ? t : "";
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos) return;  // set: ours or the user's
  tunables += std::string(tunables.empty() ? "" : ":") + "glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on as we are
#else
  (void)argv;
#endif
}
}  // namespace

int main(int argc, char** argv) {
  using namespace orrery::cli;
  use_huge_pages(argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    list_commands();
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    if (args.size() > 1 && commands().count(args[1])) args = {args[1], "--help"};
    else return list_commands();
  }
  auto it = commands().find(args[0]);
  if (it == commands().end()) {
    std::fprintf(stderr, "orrery: unknown command '%s' (see orrery --help)\n", args[0].c_str());
    return 2;
  }
  try {
    return dispatch(it->second, std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const orrery::Error& e) {
    std::fprintf(stderr, "orrery %s: error: %s\n", args[0].c_str(), one_line(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    // Not an orrery::Error: a library's exception a reader did not translate. Still one line, and
    // never the library's text alone.
    std::fprintf(stderr, "orrery %s: error: %s\n", args[0].c_str(), one_line(describe_foreign_error(e)).c_str());
    return 1;
  }
}
