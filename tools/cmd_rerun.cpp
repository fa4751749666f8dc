// `orrery rerun CONFIG.json`: runs again the command a resolved configuration (the
// .config.json written next to --json results) records, and checks that the configuration it
// resolves now is the one recorded (a preset or system file changed since is named).
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "sim/data_files.h"
#include "sim/error.h"
#include "tools/command.h"
#include "workloads/json_io.h"

namespace orrery::cli {
namespace {

// The recorded argv without its output files (--json/--csv/--timeline), with --json OUT instead.
std::vector<std::string> rerun_args(const std::vector<std::string>& argv, const std::string& json_out) {
  std::vector<std::string> out;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    bool file_flag = a == "--json" || a == "--csv" || a == "--timeline";
    bool file_eq = a.rfind("--json=", 0) == 0 || a.rfind("--csv=", 0) == 0 || a.rfind("--timeline=", 0) == 0;
    if (file_flag) {
      ++i;
      continue;
    }
    if (!file_eq) out.push_back(a);
  }
  if (!json_out.empty()) {
    out.push_back("--json");
    out.push_back(json_out);
  }
  return out;
}

// Top-level keys whose values differ, apart from where the outputs went.
std::string config_diff(nlohmann::json a, nlohmann::json b) {
  for (auto* j : {&a, &b})
    for (const char* k : {"argv", "command", "timeline", "json", "csv"}) j->erase(k);
  std::string keys;
  for (auto it = a.begin(); it != a.end(); ++it)
    if (!b.contains(it.key()) || b[it.key()] != it.value()) keys += (keys.empty() ? "" : ", ") + it.key();
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!a.contains(it.key())) keys += (keys.empty() ? "" : ", ") + it.key();
  return keys;
}

Spec rerun_spec() {
  Spec s;
  s.name = "rerun";
  s.summary = "run again the command a .config.json records (replay, train, collective) and check its configuration";
  s.usage = "CONFIG.json [--json OUT.json]";
  s.example = "rerun out/demo/result.config.json --json again.json";
  s.flags = {{"--json", "FILE", "", "", "write the results here (and FILE.config.json, compared with CONFIG.json)"}};
  s.notes = "The recorded --json/--csv/--timeline outputs are not overwritten: they are dropped unless --json is given\n"
            "(the configuration is checked either way).";
  return s;
}

// The recorded command and flags parse as that command's (an edited or foreign argv is the
// configuration file's fault, not a flag's the user typed): an error names the file's argv.
void check_recorded_args(const std::string& path, const std::vector<std::string>& argv, const std::string& out) {
  auto it = commands().find(argv[0]);
  if (it == commands().end()) throw make_error(path, "argv", "'" + argv[0] + "' is not an orrery command");
  if (!it->second.declared) return;
  try {
    Args probe(rerun_args(argv, out), it->second.spec);
    probe.check_ignored_values();
  } catch (const Error& e) {
    throw make_error(path, "argv", e.what());
  }
}

Register rerun_reg(rerun_spec(), [](Args& a) {
  if (a.positional().size() != 1) throw Error("usage: orrery rerun " + rerun_spec().usage);
  const std::string path = a.positional()[0];
  nlohmann::json cfg = parse_json_path(path);
  if (!cfg.is_object() || !cfg.contains("argv") || !cfg["argv"].is_array() || cfg["argv"].empty())
    throw make_error(path, "argv", "missing: not a configuration written by orrery replay, train or collective --json");
  std::vector<std::string> argv;
  for (auto& x : cfg["argv"]) {
    if (!x.is_string()) throw make_error(path, "argv", "expected strings");
    argv.push_back(x.get<std::string>());
  }
  if (argv[0] == "rerun") throw make_error(path, "argv", "records a rerun");
  // Without --json the results go to a scratch file, so that the configuration is checked all the same.
  std::string out = a.get("--json");
  const bool scratch = out.empty();
  if (scratch)
    out = (std::filesystem::temp_directory_path() / ("orrery-rerun-" + std::to_string(::getpid()) + ".json")).string();
  check_recorded_args(path, argv, out);
  struct Scratch {  // removed however the run ends
    std::string out;
    ~Scratch() {
      if (out.empty()) return;
      std::error_code ec;
      std::filesystem::remove(out, ec);
      std::filesystem::remove(config_path_for(out), ec);
    }
  } cleanup{scratch ? out : ""};
  int rc = 0;
  try {  // (everything the run reads comes from the recorded argv: its errors are the file's)
    rc = run_command(argv[0], rerun_args(argv, out));
  } catch (const Error& e) {
    throw make_error(path, "argv", e.what());
  }
  std::string diff;
  if (rc == 0) diff = config_diff(cfg, parse_json_path(config_path_for(out)));
  if (!diff.empty()) throw make_error(path, diff, "resolved differently now (a preset, system or model file changed since)");
  if (rc == 0) std::fprintf(stderr, "rerun: configuration identical to %s\n", path.c_str());
  return rc;
});
}  // namespace
}  // namespace orrery::cli
