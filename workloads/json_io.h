#pragma once
// Reading JSON files, plain or gzip-compressed, with errors that name the file.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orrery {

// Reads `path` (".gz" files are decompressed). Missing file, truncated gzip or invalid JSON
// throw orrery::Error naming the file.
nlohmann::json read_json_file(const std::string& path);
// Same, discarding the values of the named object keys while parsing (faster, less memory).
nlohmann::json read_json_file(const std::string& path, const std::vector<std::string>& skip_keys);
std::string read_file_maybe_gz(const std::string& path);
// Writes JSON with 1-space indentation (deterministic key order: nlohmann sorts object keys).
void write_json_file(const std::string& path, const nlohmann::json& j, int indent = 1);
// "out/r.json" -> "out/r.config.json": where a run's resolved configuration goes next to its results.
std::string config_path_for(const std::string& json_path);
// Writes text; creates parent directories; errors name the path.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace orrery
