#include "sim/params.h"

#include <algorithm>
#include <sstream>

#include "sim/error.h"

namespace orrery {

ParamSet::ParamSet(std::string component, std::string description, std::vector<ParamDecl> decls)
    : component_(std::move(component)), description_(std::move(description)), decls_(std::move(decls)) {}

const ParamDecl* ParamSet::find(const std::string& name) const {
  for (auto& d : decls_)
    if (d.name == name) return &d;
  return nullptr;
}

namespace {
double parse_value(const ParamDecl& d, const nlohmann::json& v, const std::string& where) {
  double x = 0;
  if (v.is_number()) {
    x = v.get<double>();
  } else if (v.is_string()) {
    try {
      x = parse_quantity(v.get<std::string>(), d.unit, d.name);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  } else {
    throw make_error(where, d.name, "expected a number or a string with unit " + std::string(unit_name(d.unit)));
  }
  if (d.positive && !(x > 0))
    throw make_error(where, d.name, "must be greater than zero (got " + v.dump() + ")");
  if (x < 0) throw make_error(where, d.name, "must not be negative (got " + v.dump() + ")");
  // An efficiency is a usable fraction: above 1 it is no efficiency.
  if (d.unit == Unit::Ratio && d.name.find("efficiency") != std::string::npos && x > 1)
    throw make_error(where, d.name, "above 1 (a usable fraction; got " + v.dump() + ")");
  // A rate so small that the times it gives overflow: no link, memory or engine is that slow.
  if ((d.unit == Unit::Bandwidth || d.unit == Unit::FlopRate) && x > 0 && x < 1)
    throw make_error(where, d.name, "below 1 " + std::string(unit_name(d.unit)) + " (got " + v.dump() + ")");
  return x;
}
}  // namespace

ParamValues ParamSet::resolve(const nlohmann::json& obj, const std::string& where) const {
  ParamValues out;
  if (!obj.is_null() && !obj.is_object()) throw make_error(where, component_, "expected an object of parameters");
  if (obj.is_object()) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const ParamDecl* d = find(it.key());
      if (!d) throw make_error(where, it.key(), unknown(it.key()));
      out.values_[d->name] = parse_value(*d, it.value(), where);
    }
  }
  for (auto& d : decls_) {
    if (out.values_.count(d.name)) continue;
    if (d.default_text.empty()) throw make_error(where, d.name, "required parameter is missing");
    out.values_[d.name] = parse_value(d, nlohmann::json(d.default_text), where + " (default)");
  }
  return out;
}

std::string ParamSet::unknown(const std::string& name) const {
  auto r = retired_.find(name);
  if (r != retired_.end()) return "no longer a parameter of " + component_ + ": " + r->second;
  std::string known;
  for (auto& k : decls_) known += (known.empty() ? "" : ", ") + k.name;
  return "unknown parameter of " + component_ + (known.empty() ? " (it takes none)" : " (known: " + known + ")");
}

std::string ParamSet::describe_values(const ParamValues& v, const nlohmann::json& given, const std::string& source) const {
  std::ostringstream os;
  size_t w = 9;
  for (auto& d : decls_) w = std::max(w, d.name.size());
  auto col = [](std::string s, size_t n) { return s.size() < n ? s + std::string(n - s.size(), ' ') : s + " "; };
  os << "  " << col("parameter", w + 2) << col("unit", 8) << col("default", 14) << col("value", 14) << col("source", 10)
     << "description\n";
  for (auto& d : decls_) {
    std::string value = "-";
    if (v.has(d.name)) {
      double x = v.get(d.name);
      if (d.unit == Unit::Count || d.unit == Unit::Ratio) {
        std::ostringstream n;
        n << x;
        value = n.str();
      } else {
        value = format_quantity(x, d.unit, 6);
      }
    }
    bool from_file = given.is_object() && given.contains(d.name);
    os << "  " << col(d.name, w + 2) << col(d.unit == Unit::Ratio ? "ratio" : d.unit == Unit::Count ? "count" : unit_name(d.unit), 8) << col(d.default_text.empty() ? "(required)" : d.default_text, 14)
       << col(value, 14) << col(from_file ? "file" : "default", 10) << d.description << "\n";
  }
  os << "  (source \"file\": " << source << ")\n";
  return os.str();
}

std::string ParamSet::describe() const {
  std::ostringstream os;
  os << component_ << ": " << description_ << "\n";
  size_t w = 4;
  for (auto& d : decls_) w = std::max(w, d.name.size());
  for (auto& d : decls_) {
    os << "  " << d.name << std::string(w - d.name.size() + 2, ' ');
    std::string def = d.default_text.empty() ? "(required)" : d.default_text;
    os << def << std::string(def.size() < 14 ? 14 - def.size() : 1, ' ') << d.description << "\n";
  }
  return os.str();
}

double ParamSet::check_value(const std::string& name, const nlohmann::json& value, const std::string& where) const {
  const ParamDecl* d = find(name);
  if (!d) throw make_error(where, name, unknown(name));
  return parse_value(*d, value, where);
}

double ParamValues::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error("internal: parameter '" + std::string(name) + "' was not resolved");
  return it->second;
}

void ParamValues::apply_override(const ParamSet& decls, const std::string& assignment, const std::string& flag) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos) throw make_error(flag, assignment, "expected name=value");
  std::string name = assignment.substr(0, eq);
  const ParamDecl* d = decls.find(name);
  if (!d) throw make_error(flag, name, decls.unknown(name));
  values_[name] = parse_value(*d, nlohmann::json(assignment.substr(eq + 1)), flag);
}

nlohmann::json ParamValues::to_json(const ParamSet& decls) const {
  nlohmann::json j = nlohmann::json::object();
  for (auto& d : decls.decls()) {
    auto it = values_.find(d.name);
    if (it == values_.end()) continue;
    if (d.unit == Unit::Count || d.unit == Unit::Ratio)
      j[d.name] = it->second;
    else
      j[d.name] = format_quantity(it->second, d.unit, 6);
  }
  return j;
}

namespace {
std::vector<const ParamSet*>& registry() {
  static std::vector<const ParamSet*> r;
  return r;
}
}  // namespace

void register_param_set(const ParamSet* set) { registry().push_back(set); }
std::vector<const ParamSet*> all_param_sets() { return registry(); }

}  // namespace orrery
