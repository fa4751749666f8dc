#pragma once
// CSV output for spreadsheets and pandas: RFC 4180 quoting, one header line, deterministic number
// formatting. Rows are flat JSON objects; the header is the union of their keys in first-seen
// order (a row without a key leaves its cell empty).
#include <string>

#include <nlohmann/json.hpp>

namespace orrery {

// One cell: strings quoted when they hold a comma, quote, CR or LF (quotes doubled); numbers with
// up to 10 significant digits (integers exactly); booleans true/false; null empty. Nested arrays
// and objects are written as their compact JSON text (quoted).
std::string csv_cell(const nlohmann::ordered_json& v);
std::string to_csv(const nlohmann::ordered_json& rows);
// Writes to_csv(rows) to `path`; `flag` names the option in the error when the file can't be written.
void write_csv_file(const std::string& path, const nlohmann::ordered_json& rows, const std::string& flag = "--csv");

}  // namespace orrery
