#include "workloads/json_io.h"

#include <zlib.h>

#include <filesystem>
#include <set>
#include <vector>
#include <fstream>
#include <sstream>

#include "sim/error.h"

namespace orrery {

namespace {
bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string gunzip(const std::string& path, const std::string& data) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) throw make_error(path, "", "cannot initialise zlib");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[1 << 16];
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret == Z_STREAM_END && zs.avail_in > 0) {
      // concatenated gzip members
      out.append(buf, sizeof buf - zs.avail_out);
      inflateReset(&zs);
      ret = Z_OK;
      continue;
    }
    if (ret != Z_OK && ret != Z_STREAM_END) {
      inflateEnd(&zs);
      if (ret == Z_BUF_ERROR)
        throw make_error(path, "", "truncated gzip stream (file ends after " + std::to_string(data.size()) + " bytes)");
      throw make_error(path, "", std::string("corrupt gzip stream: ") + (zs.msg ? zs.msg : "inflate failed"));
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (ret != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw make_error(path, "", "truncated gzip stream (file ends after " + std::to_string(data.size()) + " bytes)");
    }
  }
  inflateEnd(&zs);
  return out;
}
}  // namespace

std::string read_file_maybe_gz(const std::string& path) {
  if (!std::filesystem::exists(path)) throw make_error(path, "", "no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw make_error(path, "", "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  bool gz = data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b;
  if (gz || ends_with(path, ".gz")) {
    if (!gz) throw make_error(path, "", "not a gzip file");
    return gunzip(path, data);
  }
  return data;
}

nlohmann::json read_json_file(const std::string& path) { return read_json_file(path, {}); }

nlohmann::json read_json_file(const std::string& path, const std::vector<std::string>& skip_keys) {
  std::string text = read_file_maybe_gz(path);
  try {
    if (!skip_keys.empty()) {
      // Drop bulky values nobody reads (shape/stride strings of every op) while parsing.
      std::set<std::string> skip(skip_keys.begin(), skip_keys.end());
      nlohmann::json::parser_callback_t cb = [&skip](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
        if (ev == nlohmann::json::parse_event_t::key && parsed.is_string()) return skip.count(parsed.get_ref<const std::string&>()) == 0;
        return true;
      };
      return nlohmann::json::parse(text, cb);
    }
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    auto p = what.find("parse error");
    throw make_error(path, "", "invalid JSON (" + (p == std::string::npos ? what : what.substr(p)) + ")");
  }
}

void write_text_file(const std::string& path, const std::string& text) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  std::ofstream out(path, std::ios::binary);
  if (!out) throw make_error(path, "", "cannot write");
  out << text;
  if (!out) throw make_error(path, "", "write failed");
}

void write_json_file(const std::string& path, const nlohmann::json& j, int indent) {
  write_text_file(path, j.dump(indent) + "\n");
}

std::string config_path_for(const std::string& json_path) {
  std::filesystem::path p(json_path);
  return (p.parent_path() / (p.stem().string() + ".config.json")).string();
}

}  // namespace orrery
