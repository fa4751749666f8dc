#include "sim/data_files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sim/error.h"

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

bool path_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}
bool is_directory_path(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}
bool is_regular_file_path(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

std::string json_string_field(const nlohmann::json& j, const char* key, const std::string& def, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return def;
  if (!j[key].is_string()) throw make_error(where, key, std::string("expected a string, not ") + j[key].type_name());
  return j[key].get<std::string>();
}

double json_positive_field(const nlohmann::json& j, const char* key, const std::string& where, bool whole, double hi) {
  if (!j.is_object() || !j.contains(key)) throw make_error(where, key, "missing field");
  if (!j[key].is_number()) throw make_error(where, key, std::string("expected a number, not ") + j[key].type_name());
  double v = j[key].get<double>();
  if (!(v > 0) || !(v <= hi)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "expected a positive number of at most %.6g", hi);
    throw make_error(where, key, buf);
  }
  if (whole && v != std::floor(v)) throw make_error(where, key, "expected a whole number");
  return v;
}

std::string find_data_file(const std::string& name_or_path, const std::string& dir, const std::string& flag,
                           const std::string& unknown, const std::string& label, const std::string& tail) {
  namespace fs = std::filesystem;
  // The non-throwing overloads: a name the filesystem rejects (too long, found by fuzz_plan) is
  // an unknown name, not a library exception.
  std::error_code ec;
  fs::file_status st = fs::status(name_or_path, ec);
  if (fs::exists(st) && !fs::is_directory(st)) return name_or_path;
  std::string path = dir + "/" + name_or_path + ".json";
  if (fs::exists(path, ec)) return path;
  std::string known;
  for (auto& n : json_stems(dir)) known += (known.empty() ? "" : ", ") + n;
  throw make_error(flag, name_or_path, unknown + " (" + label + ": " + known + tail + ")");
}

nlohmann::json parse_json_path(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw make_error(path, "", "is a directory, not a file");
  std::ifstream in(path);
  if (!in) throw make_error(path, "", "cannot open");
  try {
    // No input nests deeper than a few levels; thousands would overflow the stack of every
    // recursive walk of the tree (copies, destruction): one line instead.
    return nlohmann::json::parse(in, [&path](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > kMaxJsonDepth) throw make_error(path, "", "JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
      return true;
    });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 3, ..." -> "parse error at line 3, ..."
    std::string what = e.what();
    auto b = what.find("] ");
    throw make_error(path, "", "invalid JSON (" + (what.rfind("[json.", 0) == 0 && b != std::string::npos ? what.substr(b + 2) : what) + ")");
  }
}

}  // namespace orrery
