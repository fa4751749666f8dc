#pragma once
// Name: an interned, immutable string for the per-kernel data model of a capture (kernel, op,
// runtime-call, class and dtype names). A 1M-kernel Kineto trace names its kernels with a few
// hundred distinct strings: each is stored once for the whole process (a table that only grows;
// thread-safe), and a field holding one is a pointer (8 bytes, no allocation) instead of a
// std::string (32 bytes plus a heap copy of every long name). Reads like a const std::string.
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

namespace orrery {

class Name {
 public:
  Name() : s_(&empty_string()) {}
  Name(const std::string& s) : s_(intern(s)) {}  // NOLINT: implicit, as a std::string field was
  Name(std::string_view s) : s_(intern(s)) {}    // NOLINT
  Name(const char* s) : s_(intern(s)) {}         // NOLINT
  const std::string& str() const { return *s_; }
  operator const std::string&() const { return *s_; }  // NOLINT
  const char* c_str() const { return s_->c_str(); }
  const char* data() const { return s_->data(); }
  bool empty() const { return s_->empty(); }
  std::size_t size() const { return s_->size(); }
  std::size_t find(std::string_view x, std::size_t pos = 0) const { return s_->find(x, pos); }
  std::size_t rfind(std::string_view x, std::size_t pos = std::string::npos) const { return s_->rfind(x, pos); }
  std::string substr(std::size_t pos = 0, std::size_t n = std::string::npos) const { return s_->substr(pos, n); }
  std::string::const_iterator begin() const { return s_->begin(); }
  std::string::const_iterator end() const { return s_->end(); }
  char operator[](std::size_t i) const { return (*s_)[i]; }
  // Identity of the interned text: equal names are the same pointer.
  const std::string* id() const { return s_; }

  friend bool operator==(const Name& a, const Name& b) { return a.s_ == b.s_; }
  friend bool operator!=(const Name& a, const Name& b) { return a.s_ != b.s_; }
  friend bool operator<(const Name& a, const Name& b) { return *a.s_ < *b.s_; }
  friend bool operator==(const Name& a, const std::string& b) { return *a.s_ == b; }
  friend bool operator==(const std::string& a, const Name& b) { return a == *b.s_; }
  friend bool operator!=(const Name& a, const std::string& b) { return *a.s_ != b; }
  friend bool operator!=(const std::string& a, const Name& b) { return a != *b.s_; }
  friend bool operator==(const Name& a, const char* b) { return *a.s_ == b; }
  friend bool operator!=(const Name& a, const char* b) { return *a.s_ != b; }
  friend std::string operator+(const std::string& a, const Name& b) { return a + *b.s_; }
  friend std::string operator+(const Name& a, const std::string& b) { return *a.s_ + b; }
  friend std::string operator+(const char* a, const Name& b) { return a + *b.s_; }
  friend std::string operator+(const Name& a, const char* b) { return *a.s_ + b; }
  friend std::ostream& operator<<(std::ostream& o, const Name& n) { return o << *n.s_; }

  // Distinct names interned so far (the table's size; for tests and the ingest benchmark).
  static std::size_t table_size();

 private:
  static const std::string* intern(std::string_view s);
  static const std::string& empty_string();
  const std::string* s_;
};

// nlohmann::json / ordered_json: a Name serializes as its text.
template <class Json>
void to_json(Json& j, const Name& n) {
  j = n.str();
}

}  // namespace orrery

template <>
struct std::hash<orrery::Name> {
  std::size_t operator()(const orrery::Name& n) const noexcept { return std::hash<const void*>()(n.id()); }
};
