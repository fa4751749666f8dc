#include "sim/csv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include "sim/error.h"

namespace orrery {

namespace {
std::string quote_if_needed(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}
}  // namespace

std::string csv_cell(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return quote_if_needed(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) {
    double d = v.get<double>();
    if (!std::isfinite(d)) return std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", d);
    return buf;
  }
  return quote_if_needed(v.dump());
}

std::string to_csv(const nlohmann::ordered_json& rows) {
  std::vector<std::string> keys;
  if (rows.is_array())
    for (auto& r : rows)
      if (r.is_object())
        for (auto it = r.begin(); it != r.end(); ++it)
          if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + quote_if_needed(keys[i]);
  out += "\n";
  if (rows.is_array())
    for (auto& r : rows) {
      if (!r.is_object()) continue;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i) out += ",";
        auto it = r.find(keys[i]);
        if (it != r.end()) out += csv_cell(*it);
      }
      out += "\n";
    }
  return out;
}

void write_csv_file(const std::string& path, const nlohmann::ordered_json& rows, const std::string& flag) {
  if (path == "-") throw make_error(flag, path, "standard output is not an output file here: give a file name");
  std::ofstream o(path, std::ios::binary);
  if (!o) throw make_error(flag, path, "cannot write");
  o << to_csv(rows);
  if (!o) throw make_error(flag, path, "write failed");
}

}  // namespace orrery
