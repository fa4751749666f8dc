#pragma once
// Where bundled data lives (presets, systems, models) and what a data folder holds.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orrery {

// $env when set, else <source dir>/<subdir>.
std::string data_dir(const char* env, const std::string& subdir);
// Names (file stems) of the *.json files in dir, sorted; empty when dir is missing.
std::vector<std::string> json_stems(const std::string& dir);
// An existing file path, else dir/NAME.json. Unknown: Error "FLAG: NAME: UNKNOWN (LABEL: a, b, c TAIL)".
std::string find_data_file(const std::string& name_or_path, const std::string& dir, const std::string& flag,
                           const std::string& unknown, const std::string& label, const std::string& tail = "");
// Whether a path a user named exists / is a directory / is a regular file. Never throws: a name
// the filesystem rejects (too long, a bad component; found by fuzz_plan) is simply not there, so
// the caller's own one-line error names it instead of a std::filesystem exception.
bool path_exists(const std::string& path);
bool is_directory_path(const std::string& path);
bool is_regular_file_path(const std::string& path);
// An optional string field of a JSON object: absent -> def; any other type is an Error naming
// `where` and the field.
std::string json_string_field(const nlohmann::json& j, const char* key, const std::string& def, const std::string& where);
// A required number field of a JSON object: positive, at most `hi`, a whole number when `whole`;
// anything else is an Error naming `where` and the field.
double json_positive_field(const nlohmann::json& j, const char* key, const std::string& where, bool whole = false,
                           double hi = 1e30);
// Deepest nesting any JSON input may have (parse_json_path, read_json_file): deeper is an error.
constexpr int kMaxJsonDepth = 256;
// Parses a JSON file; an unreadable file, invalid JSON or nesting deeper than kMaxJsonDepth is an
// Error naming the path.
nlohmann::json parse_json_path(const std::string& path);

}  // namespace orrery
