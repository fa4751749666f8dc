#include "workloads/json_io.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <vector>

#include "sim/data_files.h"
#include "sim/error.h"
#include "workloads/json_lexer.h"
#include "workloads/json_stream.h"

namespace orrery {

namespace {

// Plain or gzip'd file read in chunks through zlib (gzread passes plain files through).
class ChunkReader {
 public:
  explicit ChunkReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw make_error(path, "", ec ? "cannot access: " + ec.message() : "no such file");
    if (std::filesystem::is_directory(path, ec)) throw make_error(path, "", "is a directory, not a file");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw make_error(path, "", "cannot open");
    unsigned char magic[2] = {0, 0};
    size_t got = std::fread(magic, 1, 2, f);
    std::fclose(f);
    bool gz = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (!gz && path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0)
      throw make_error(path, "", "not a gzip file");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw make_error(path, "", "cannot open");
    // zlib's buffers (input, and twice that for output) sized to the file: 256 KiB, less for small files.
    std::uintmax_t size = std::filesystem::file_size(path, ec);
    gzbuffer(file_, static_cast<unsigned>(ec ? 1u << 18 : std::clamp<std::uintmax_t>(size, 1u << 13, 1u << 18)));
  }
  ~ChunkReader() {
    if (file_) gzclose(file_);
  }
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;
  // Up to cap bytes (decompressed) into buf; 0 at the end of the file.
  std::size_t read(char* buf, std::size_t cap) {
    int n = gzread(file_, buf, static_cast<unsigned>(std::min<std::size_t>(cap, 1u << 30)));
    int err = Z_OK;
    const char* msg = gzerror(file_, &err);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) {
      if (err == Z_BUF_ERROR) {
        std::error_code ec;
        throw make_error(path_, "", "truncated gzip stream (file ends after " +
                                        std::to_string(std::filesystem::file_size(path_, ec)) + " bytes)");
      }
      throw make_error(path_, "", std::string("corrupt gzip stream: ") + (msg ? msg : "inflate failed"));
    }
    return static_cast<std::size_t>(n);
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

using json = nlohmann::json;

// Builds a DOM while parsing, dropping the values of skipped keys and handing the elements of one
// top-level array to a callback one at a time. No rescans: every token is visited once.
class FilterSax : public nlohmann::json_sax<json> {
 public:
  FilterSax(const std::string& path, const std::vector<std::string>& skip, const std::string& array_key,
            const JsonElementFn* on_element, JsonElementSax* element_sax = nullptr)
      : path_(path), skip_(skip.begin(), skip.end()), array_key_(array_key), on_element_(on_element),
        element_sax_(element_sax) {}
  json root;

  bool null() override { return fwd() ? scalar_done(element_sax_->null()) : put(json()); }
  bool boolean(bool v) override { return fwd() ? scalar_done(element_sax_->boolean(v)) : put(json(v)); }
  bool number_integer(number_integer_t v) override {
    return fwd() ? scalar_done(element_sax_->number_integer(v)) : put(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return fwd() ? scalar_done(element_sax_->number_unsigned(v)) : put(json(v));
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return fwd() ? scalar_done(element_sax_->number_float(v, s)) : put(json(v));
  }
  bool string(string_t& v) override { return fwd() ? scalar_done(element_sax_->string(v)) : put(json(std::move(v))); }
  bool binary(binary_t&) override { return put(json()); }
  bool start_object(std::size_t n) override {
    if (fwd()) {
      check_depth(static_cast<std::size_t>(++elem_depth_));
      return element_sax_->start_object(n);
    }
    return open(json::object());
  }
  bool start_array(std::size_t n) override {
    if (fwd()) {
      check_depth(static_cast<std::size_t>(++elem_depth_));
      return element_sax_->start_array(n);
    }
    if (skip_depth_ == 0 && !skip_next_ && (on_element_ || element_sax_) && stack_.size() == 1 &&
        stack_[0]->is_object() && key_ == array_key_) {
      (*stack_[0])[key_] = json::array();  // kept empty: the caller can see the array was there
      stack_.push_back(nullptr);           // the streamed array: its elements go to on_element one by one
      return true;
    }
    return open(json::array());
  }
  bool end_object() override {
    if (elem_depth_ > 0) return container_done(element_sax_->end_object());
    return close();
  }
  bool end_array() override {
    if (elem_depth_ > 0) return container_done(element_sax_->end_array());
    return close();
  }
  bool key(string_t& k) override {
    if (elem_depth_ > 0) return element_sax_->key(k);
    if (skip_depth_ > 0) return true;
    if (skip_.count(k)) skip_next_ = true;
    else key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    auto p = what.find("parse error");
    throw make_error(path_, "", "invalid JSON (" + (p == std::string::npos ? what : what.substr(p)) + ")");
  }

 private:
  // True when the event belongs to an element of the streamed array and a JsonElementSax takes it.
  bool fwd() const { return element_sax_ && (elem_depth_ > 0 || (!stack_.empty() && !stack_.back())); }
  bool scalar_done(bool go_on) {
    if (elem_depth_ == 0) element_sax_->element_done(index_++);
    return go_on;
  }
  bool container_done(bool go_on) {
    if (--elem_depth_ == 0) element_sax_->element_done(index_++);
    return go_on;
  }
  // Places v where the parser is; returns it (null when dropped).
  json* place(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json* top = stack_.back();
    if (!top) {
      element_ = std::move(v);
      return &element_;
    }
    if (top->is_object()) {
      json& slot = (*top)[key_];
      slot = std::move(v);
      return &slot;
    }
    top->push_back(std::move(v));
    return &top->back();
  }
  bool skipping() {
    if (skip_depth_ > 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      return true;
    }
    return false;
  }
  bool put(json&& v) {
    if (skipping()) return true;
    place(std::move(v));
    if (!stack_.empty() && !stack_.back()) emit();
    return true;
  }
  bool open(json&& container) {
    if (skipping()) {
      ++skip_depth_;
      return true;
    }
    check_depth(stack_.size());
    stack_.push_back(place(std::move(container)));
    return true;
  }
  // (kMaxJsonDepth, sim/data_files.h: deeper nesting would overflow every recursive walk)
  void check_depth(std::size_t depth) const {
    if (depth >= static_cast<std::size_t>(kMaxJsonDepth))
      throw make_error(path_, "", "JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
  }
  bool close() {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    stack_.pop_back();
    if (!stack_.empty() && !stack_.back()) emit();
    return true;
  }
  void emit() {
    (*on_element_)(std::move(element_), index_++);
    element_ = json();
  }
  std::string path_;
  std::set<std::string, std::less<>> skip_;
  std::string array_key_;
  const JsonElementFn* on_element_;
  JsonElementSax* element_sax_;
  int elem_depth_ = 0;        // nesting inside the element being forwarded to element_sax_
  std::vector<json*> stack_;  // containers being built; nullptr: the streamed array
  std::string key_;
  int skip_depth_ = 0;
  bool skip_next_ = false;
  json element_;
  size_t index_ = 0;
};

json parse_streaming(const std::string& path, const std::vector<std::string>& skip, const std::string& array_key,
                     const JsonElementFn* on_element, JsonElementSax* element_sax = nullptr) {
  ChunkReader reader(path);
  FilterSax sax(path, skip, array_key, on_element, element_sax);
  fast_sax_parse([&reader](char* buf, std::size_t cap) { return reader.read(buf, cap); }, &sax);
  return std::move(sax.root);
}

}  // namespace

std::string read_file_maybe_gz(const std::string& path) {
  ChunkReader reader(path);
  std::string out;
  std::vector<char> buf(1 << 20);
  while (std::size_t n = reader.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}

json read_json_file(const std::string& path) { return parse_streaming(path, {}, "", nullptr); }

json read_json_file(const std::string& path, const std::vector<std::string>& skip_keys) {
  return parse_streaming(path, skip_keys, "", nullptr);
}

json stream_json_file(const std::string& path, const std::string& array_key, const std::vector<std::string>& skip_keys,
                      const JsonElementFn& on_element) {
  return parse_streaming(path, skip_keys, array_key, &on_element);
}

json stream_json_file(const std::string& path, const std::string& array_key, JsonElementSax& element_sax) {
  return parse_streaming(path, {}, array_key, nullptr, &element_sax);
}

void write_text_file(const std::string& path, const std::string& text) {
  // ("-" would silently become a file of that name: only `orrery kernel --json -` prints to stdout)
  if (path == "-") throw make_error(path, "", "standard output is not an output file here: give a file name");
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
