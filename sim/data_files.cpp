#include "sim/data_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace orrery {

std::string data_dir(const char* env, const std::string& subdir) {
  if (const char* v = std::getenv(env)) return v;
  return std::string(ORRERY_SOURCE_DIR) + "/" + subdir;
}

std::vector<std::string> json_stems(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace orrery
