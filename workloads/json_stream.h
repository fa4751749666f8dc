#pragma once
// Streaming JSON (SAX) for traces at real sizes: linear time, and memory for what the reader
// keeps, not for the document (a DOM of a 1M-kernel Kineto trace is several GB).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orrery {

// Streams `path` (plain or gzip): each element of the top-level object's array `array_key` is
// built alone (without the keys in skip_keys, at any depth), handed to on_element with its index,
// and freed; the rest of the document is returned, with array_key as an empty array when present.
// Errors (missing file, truncated gzip, invalid JSON) throw orrery::Error naming the file.
using JsonElementFn = std::function<void(nlohmann::json&& element, size_t index)>;
nlohmann::json stream_json_file(const std::string& path, const std::string& array_key,
                                const std::vector<std::string>& skip_keys, const JsonElementFn& on_element);

// The same, without building the elements: each element's SAX events (a scalar, or start_object ...
// end_object with everything inside) go to the handler, then element_done(index). For readers that
// keep a few fields of millions of elements (a DOM per Kineto event costs more than the parse).
class JsonElementSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  virtual void element_done(size_t index) = 0;
  bool binary(binary_t&) override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};
nlohmann::json stream_json_file(const std::string& path, const std::string& array_key, JsonElementSax& element_sax);

}  // namespace orrery
