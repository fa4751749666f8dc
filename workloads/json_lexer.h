#pragma once
// A fast JSON tokenizer for traces at real sizes: reads a byte source chunk by chunk and drives
// nlohmann's SAX interface (json_sax<json>) with the same events, number types and validation
// rules as nlohmann::json::sax_parse (RFC 8259: UTF-8 checked, control characters rejected,
// integers as unsigned/integer when they fit, else float; non-finite numbers rejected), at about
// ten times its speed: nlohmann's lexer reads one character at a time through the input adapter
// (about 50 MB/s here), a 1M-kernel Kineto trace is 1 GB.
#include <cstddef>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace orrery {

// Fills buf with up to cap bytes; returns how many (0 at the end of the input).
using JsonByteSource = std::function<std::size_t(char* buf, std::size_t cap)>;

// Parses one JSON value (then only whitespace) from `src`, calling `sax`. A syntax error calls
// sax->parse_error with a nlohmann::detail::parse_error whose text says where ("parse error at
// line L, column C: ..."). Returns false when the handler stopped the parse or reported an error.
bool fast_sax_parse(const JsonByteSource& src, nlohmann::json_sax<nlohmann::json>* sax);

}  // namespace orrery
