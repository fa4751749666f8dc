// The process-wide table behind orrery::Name (workloads/interned_name.h).
#include "workloads/interned_name.h"

#include <mutex>
#include <unordered_set>

namespace orrery {
namespace {

struct Hash {  // transparent: a lookup by string_view builds no std::string
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
};

struct Table {
  std::mutex mu;
  std::unordered_set<std::string, Hash, std::equal_to<>> set;  // node-based: the strings never move
};

Table& table() {
  static Table* t = new Table;  // never destroyed: names may outlive static destructors
  return *t;
}

}  // namespace

const std::string& Name::empty_string() {
  static const std::string* e = intern(std::string_view());
  return *e;
}

const std::string* Name::intern(std::string_view s) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.set.find(s);
  if (it == t.set.end()) it = t.set.emplace(s).first;
  return &*it;
}

std::size_t Name::table_size() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.set.size();
}

}  // namespace orrery
