#pragma once
// Where bundled data lives (presets, systems, models) and what a data folder holds.
#include <string>
#include <vector>

namespace orrery {

// $env when set, else <source dir>/<subdir>.
std::string data_dir(const char* env, const std::string& subdir);
// Names (file stems) of the *.json files in dir, sorted; empty when dir is missing.
std::vector<std::string> json_stems(const std::string& dir);

}  // namespace orrery
