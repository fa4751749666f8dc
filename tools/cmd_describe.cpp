// `orrery describe [NAME]` and `orrery list [presets|systems|models]`: what there is to run and
// every parameter of a component, preset, system or model with unit, default, value and source.
#include <cstdio>
#include <filesystem>

#include "hw_models/accelerator.h"
#include "sim/data_files.h"
#include "sim/error.h"
#include "sim/params.h"
#include "tools/command.h"
#include "topology/topology.h"
#include "workloads/collective.h"
#include "workloads/models.h"

namespace orrery::cli {
namespace {

// The keys of `obj` that are parameters (everything but the listed descriptive fields).
nlohmann::json numeric_keys(const nlohmann::json& obj, std::initializer_list<const char*> skip) {
  nlohmann::json out = nlohmann::json::object();
  if (!obj.is_object()) return out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool drop = false;
    for (const char* s : skip) drop |= it.key() == s;
    if (!drop) out[it.key()] = it.value();
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  for (auto& y : v)
    if (y == x) return true;
  return false;
}

void describe_preset(const std::string& name) {
  Accelerator acc = load_accelerator(name);
  nlohmann::json given = parse_json_path(acc.source_path).value("params", nlohmann::json::object());
  std::printf("hardware preset %s (%s)\n  %s\n\n", acc.name.c_str(), acc.source_path.c_str(), acc.description.c_str());
  std::printf("%s", accelerator_params().describe_values(acc.params, given, acc.source_path).c_str());
  std::printf("\n  efficiency curves: gemm (%zu dtypes), memory (%zu points), attention (%zu points); host dispatch: %zu ops\n",
              acc.gemm_eff.size(), acc.memory_eff.points.size(), acc.attention_eff.points.size(), acc.host_dispatch.size());
  std::printf("  what-if: --set NAME=VALUE on replay, train, convert, chakra-run, validate\n");
}

void describe_system(const std::string& name) {
  topo::System sys = topo::load_system(name);
  std::printf("system %s (%s)\n  %s\n  accelerator: %s (orrery describe %s)\n\n", sys.name.c_str(), sys.source_path.c_str(),
              sys.description.c_str(), sys.accelerator.c_str(), sys.accelerator.c_str());
  const nlohmann::json& t = sys.raw["topology"];
  const ParamSet& ps = topo::topology_params(sys.topo.type);
  nlohmann::json given = numeric_keys(t, {"type", "name", "description", "dims", "vertices", "links"});
  std::printf("topology (type %s):\n%s", sys.topo.type.c_str(), ps.describe_values(ps.resolve(given, sys.source_path), given, sys.source_path).c_str());
  if (t.contains("dims")) std::printf("  dims %s\n", t["dims"].dump().c_str());
  const ParamSet& cs = coll::collective_params();
  std::printf("\ncollective tuner (section \"collective\"):\n%s",
              cs.describe_values(cs.resolve(sys.collective, sys.source_path + ": collective"), sys.collective, sys.source_path).c_str());
  std::printf("  what-if: --sys-set KEY=VALUE (topology) or --sys-set collective.KEY=VALUE\n");
}

void describe_model(const std::string& name) {
  ModelSpec m = load_model(name);
  nlohmann::json given = numeric_keys(parse_json_path(m.source_path), {"name", "description", "activation", "tied_embeddings", "dropout", "position"});
  std::printf("model %s (%s)\n  %s\n  activation %s, tied embeddings %s, dropout %s, positions %s, %.2fB parameters\n\n", m.name.c_str(),
              m.source_path.c_str(), m.description.c_str(), m.swiglu ? "swiglu" : "gelu", m.tied_embeddings ? "yes" : "no",
              m.dropout ? "yes" : "no", m.rope ? "rope" : "learned", m.total_params() / 1e9);
  std::printf("%s", model_params().describe_values(model_params().resolve(given, m.source_path), given, m.source_path).c_str());
}

// A file of a preset, system or model: which, by its keys (a preset's "params", a system's
// "topology"); each loader then checks it as --hw / --system / --model would.
void describe_file(const std::string& path) {
  nlohmann::json j = parse_json_path(path);
  if (!j.is_object()) throw make_error(path, "", "expected a JSON object (a hardware preset, system or model)");
  if (j.contains("params") || j.contains("arch")) describe_preset(path);
  else if (j.contains("topology")) describe_system(path);
  else describe_model(path);
}

Spec describe_spec() {
  Spec s;
  s.name = "describe";
  s.summary = "every parameter of a component, preset, system or model (unit, default, value, source)";
  s.usage = "[COMPONENT|PRESET|SYSTEM|MODEL]";
  s.example = "describe h100";
  s.notes = "Without NAME: the declarations of every component. NAME: a component (accelerator, model, collective,\n"
            "topology.nvswitch, ...), a hardware preset, a system or a model (orrery list) or a file of one of those.";
  return s;
}

Register describe_reg(describe_spec(), [](Args& a) {
  if (a.positional().size() > 1) throw Error("usage: orrery describe " + describe_spec().usage);
  std::string only = a.positional().empty() ? "" : a.positional()[0];
  if (!a.positional().empty() && only.empty()) throw make_error("describe", "", "empty name (see orrery list)");
  bool any = false;
  for (const ParamSet* s : all_param_sets()) {
    if (!only.empty() && s->component() != only) continue;
    std::printf("%s\n", s->describe().c_str());
    any = true;
  }
  if (any) return 0;
  if (std::filesystem::is_regular_file(only)) {
    describe_file(only);
    return 0;
  }
  if (contains(list_presets(), only)) describe_preset(only);
  else if (contains(topo::list_systems(), only)) describe_system(only);
  else if (contains(list_models(), only)) describe_model(only);
  else if (only.find('/') != std::string::npos || (only.size() > 5 && only.compare(only.size() - 5, 5, ".json") == 0)) {
    // (a path: say what is wrong with the file, not that it is no component)
    std::error_code ec;
    throw make_error(only, "", std::filesystem::exists(only, ec) ? "not a file (a directory?)" : "no such file");
  } else {
    std::string comps;
    for (const ParamSet* s : all_param_sets()) comps += (comps.empty() ? "" : ", ") + s->component();
    throw make_error("describe", only, "not a component (" + comps + "), preset, system or model (see orrery list)");
  }
  return 0;
});

void list_one(const char* kind, const std::vector<std::string>& names, const std::string& dir) {
  std::printf("%s (%s):\n", kind, dir.c_str());
  for (auto& n : names) {
    std::string desc;
    try {
      desc = parse_json_path(dir + "/" + n + ".json").value("description", "");
    } catch (const Error&) {
      desc = "(unreadable)";
    }
    if (desc.size() > 90) desc = desc.substr(0, 87) + "...";
    std::printf("  %-20s %s\n", n.c_str(), desc.c_str());
  }
}

Spec list_spec() {
  Spec s;
  s.name = "list";
  s.summary = "list the hardware presets, systems and models there are (orrery describe NAME for one)";
  s.usage = "[presets|systems|models]";
  s.example = "list systems";
  return s;
}

Register list_reg(list_spec(), [](Args& a) {
  if (a.positional().size() > 1) throw Error("usage: orrery list " + list_spec().usage);
  std::string what = a.positional().empty() ? "" : a.positional()[0];
  if (!what.empty() && what != "presets" && what != "systems" && what != "models")
    throw make_error("list", what, "expected presets, systems or models");
  if (what.empty() || what == "presets") list_one("hardware presets (--hw, system accelerator)", list_presets(), presets_dir());
  if (what.empty() || what == "systems") list_one("systems (--system)", topo::list_systems(), topo::systems_dir());
  if (what.empty() || what == "models") list_one("models (train --model)", list_models(), models_dir());
  return 0;
});
}  // namespace
}  // namespace orrery::cli
