#pragma once
// Parameters declared once: name, unit, default, description. The same declaration validates
// input JSON (unknown keys, bad units, non-positive values where forbidden) and prints
// `orrery describe`.
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/units.h"

namespace orrery {

struct ParamDecl {
  std::string name;
  Unit unit;
  std::string default_text;  // parsed with the unit; "" = required
  std::string description;
  bool positive = false;     // must be > 0 (bandwidths, capacities)
};

class ParamValues;

class ParamSet {
 public:
  ParamSet(std::string component, std::string description, std::vector<ParamDecl> decls);
  const std::string& component() const { return component_; }
  const std::string& description() const { return description_; }
  const std::vector<ParamDecl>& decls() const { return decls_; }
  const ParamDecl* find(const std::string& name) const;

  // Resolves an object of "name": "value with unit" (or a bare number in SI units).
  // Unknown keys, missing required keys, bad units: Error naming `where` and the field.
  ParamValues resolve(const nlohmann::json& obj, const std::string& where) const;
  // One value of a declared parameter, checked as resolve() checks it (unit, sign, range); an
  // Error naming `where` and the parameter. (What-ifs check their values before they are merged.)
  double check_value(const std::string& name, const nlohmann::json& value, const std::string& where) const;
  // Human readable table for `orrery describe`.
  std::string describe() const;
  // `orrery describe NAME`: every parameter with unit, default, the value in effect and its
  // source (`given`: the object as written in `source`; a key absent from it is "default").
  std::string describe_values(const ParamValues& v, const nlohmann::json& given, const std::string& source) const;
  // A name this component used to declare: input naming it fails with `why` (where it moved),
  // so old files and --set get a clear migration message instead of "unknown parameter".
  ParamSet& retire(const std::string& name, const std::string& why) {
    retired_[name] = why;
    return *this;
  }

 private:
  friend class ParamValues;
  std::string unknown(const std::string& name) const;  // the error text for an undeclared name
  std::string component_, description_;
  std::vector<ParamDecl> decls_;
  std::map<std::string, std::string> retired_;
};

class ParamValues {
 public:
  // By string_view into a hash table: the cost models call get() about 15 times per kernel, and
  // a std::string key built from a literal for an ordered map was 8% of replaying a large trace.
  double get(std::string_view name) const;
  bool has(std::string_view name) const { return values_.find(name) != values_.end(); }
  void set(const std::string& name, double v) { values_[name] = v; }
  // Applies "name=value" overrides (the --set flag), validated against the declarations.
  void apply_override(const ParamSet& decls, const std::string& assignment, const std::string& flag = "--set");
  // Resolved values printed with units, in declaration order.
  nlohmann::json to_json(const ParamSet& decls) const;

 private:
  friend class ParamSet;
  struct TextHash {  // hashes std::string and string_view alike (heterogeneous lookup)
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, double, TextHash, std::equal_to<>> values_;
};

// Registry of every component's declarations (for `orrery describe`).
void register_param_set(const ParamSet* set);
std::vector<const ParamSet*> all_param_sets();

}  // namespace orrery
