// Owns fast_sax_parse: the chunked JSON tokenizer behind the streaming trace readers.
#include "workloads/json_lexer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include <locale.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace orrery {

namespace {

using json = nlohmann::json;

struct Stop {};  // the handler returned false or took a parse error: unwind

class Lexer {
 public:
  Lexer(const JsonByteSource& src, nlohmann::json_sax<json>* sax) : src_(src), sax_(sax), buf_(new char[cap_]) {}

  void parse() {
    if (peek() == 0xEF) {  // a UTF-8 byte order mark is skipped, as nlohmann does
      ++p_;
      if (get() != 0xBB || get() != 0xBF) fail("syntax error while parsing value - invalid BOM; must be 0xEF 0xBB 0xBF if given");
    }
    std::vector<char> stack;  // 'o' object, 'a' array
    // value: parse one value; then after: what follows it in its container.
  value:
    skip_ws();
    switch (peek()) {
      case '{':
        ++p_;
        ok(sax_->start_object(static_cast<std::size_t>(-1)));
        skip_ws();
        if (peek() == '}') {
          ++p_;
          ok(sax_->end_object());
          goto after;
        }
        stack.push_back('o');
        goto key;
      case '[':
        ++p_;
        ok(sax_->start_array(static_cast<std::size_t>(-1)));
        skip_ws();
        if (peek() == ']') {
          ++p_;
          ok(sax_->end_array());
          goto after;
        }
        stack.push_back('a');
        goto value;
      case '"':
        read_string();
        ok(sax_->string(tok_));
        goto after;
      case 't':
        literal("true");
        ok(sax_->boolean(true));
        goto after;
      case 'f':
        literal("false");
        ok(sax_->boolean(false));
        goto after;
      case 'n':
        literal("null");
        ok(sax_->null());
        goto after;
      case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        number();
        goto after;
      case -1: fail("syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal");
      default: fail("syntax error while parsing value - invalid literal; expected '[', '{', or a literal");
    }
  key:
    skip_ws();
    if (peek() != '"')
      fail(peek() == -1 ? "syntax error while parsing object key - unexpected end of input; expected string literal"
                        : "syntax error while parsing object key - expected string literal");
    read_string();
    ok(sax_->key(tok_));
    skip_ws();
    if (peek() != ':') fail("syntax error while parsing object separator - expected ':'");
    ++p_;
    goto value;
  after:
    if (stack.empty()) {
      skip_ws();
      if (peek() != -1) fail("syntax error while parsing value - unexpected characters; expected end of input");
      return;
    }
    skip_ws();
    {
      int c = peek();
      if (stack.back() == 'o') {
        if (c == ',') {
          ++p_;
          goto key;
        }
        if (c != '}') fail("syntax error while parsing object - expected '}' or ','");
        ++p_;
        stack.pop_back();
        ok(sax_->end_object());
        goto after;
      }
      if (c == ',') {
        ++p_;
        goto value;
      }
      if (c != ']') fail("syntax error while parsing array - expected ']' or ','");
      ++p_;
      stack.pop_back();
      ok(sax_->end_array());
      goto after;
    }
  }

 private:
  static void ok(bool go_on) {
    if (!go_on) throw Stop{};
  }

  bool refill() {
    if (eof_) return false;
    if (end_) {  // newlines of the chunk being left, for the line and column of a later error
      const char* last_nl = nullptr;
      for (const char* q = buf_.get(); q < end_; ++q)
        if (*q == '\n') {
          ++lines_;
          last_nl = q;
        }
      col_base_ = last_nl ? static_cast<std::size_t>(end_ - last_nl - 1) : col_base_ + static_cast<std::size_t>(end_ - buf_.get());
      consumed_ += static_cast<std::size_t>(end_ - buf_.get());
    }
    if (end_ == buf_.get() + cap_ && cap_ < kMaxBuf) {  // the source fills what it is given: read larger chunks
      cap_ = std::min(kMaxBuf, 8 * cap_);
      buf_.reset(new char[cap_]);
    }
    std::size_t n = src_(buf_.get(), cap_);
    p_ = buf_.get();
    end_ = p_ + n;
    if (n == 0) {
      eof_ = true;
      return false;
    }
    return true;
  }
  int peek() {
    if (p_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(*p_);
  }
  int get() {
    if (p_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(*p_++);
  }
  void skip_ws() {
    for (;;) {
      while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
      if (p_ < end_ || !refill()) return;
    }
  }

  [[noreturn]] void fail(const std::string& what) {
    nlohmann::detail::position_t pos;
    pos.chars_read_total = consumed_ + static_cast<std::size_t>(p_ - buf_.get()) + 1;
    pos.lines_read = lines_;
    std::size_t col = col_base_;
    for (const char* q = buf_.get(); q < p_ && q < end_; ++q) {
      if (*q == '\n') {
        ++pos.lines_read;
        col = 0;
      } else {
        ++col;
      }
    }
    pos.chars_read_current_line = col + 1;
    auto ex = nlohmann::detail::parse_error::create(101, pos, what, nullptr);
    sax_->parse_error(pos.chars_read_total, "", ex);
    throw Stop{};
  }

  void literal(const char* word) {
    for (const char* w = word; *w; ++w) {
      if (peek() != *w) fail(std::string("syntax error while parsing value - invalid literal; expected '") + word + "'");
      ++p_;
    }
  }

  // Appends the UTF-8 sequence starting with lead byte c (>= 0x80), checked as nlohmann does (RFC 3629).
  void utf8(int c) {
    int need = 0;
    int lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
    else if (c == 0xED) need = 2, hi = 0x9F;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    else fail("syntax error while parsing value - invalid string: ill-formed UTF-8 byte");
    tok_.push_back(static_cast<char>(c));
    for (int i = 0; i < need; ++i) {
      int d = get();
      if (d < lo || d > hi) fail("syntax error while parsing value - invalid string: ill-formed UTF-8 byte");
      tok_.push_back(static_cast<char>(d));
      lo = 0x80, hi = 0xBF;
    }
  }

  int hex4() {
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      int c = get();
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) fail("syntax error while parsing value - invalid string: '\\u' must be followed by 4 hex digits");
      v = v * 16 + d;
    }
    return v;
  }

  void escape() {
    int c = get();
    switch (c) {
      case '"': tok_.push_back('"'); return;
      case '\\': tok_.push_back('\\'); return;
      case '/': tok_.push_back('/'); return;
      case 'b': tok_.push_back('\b'); return;
      case 'f': tok_.push_back('\f'); return;
      case 'n': tok_.push_back('\n'); return;
      case 'r': tok_.push_back('\r'); return;
      case 't': tok_.push_back('\t'); return;
      case 'u': break;
      default: fail("syntax error while parsing value - invalid string: forbidden character after backslash");
    }
    unsigned cp = static_cast<unsigned>(hex4());
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (get() != '\\' || get() != 'u')
        fail("syntax error while parsing value - invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF");
      unsigned lo = static_cast<unsigned>(hex4());
      if (lo < 0xDC00 || lo > 0xDFFF)
        fail("syntax error while parsing value - invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      fail("syntax error while parsing value - invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF");
    }
    if (cp < 0x80) {
      tok_.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      tok_.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      tok_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      tok_.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      tok_.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      tok_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      tok_.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      tok_.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      tok_.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      tok_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // At the opening quote: the unescaped string into tok_.
  void read_string() {
    ++p_;
    tok_.clear();
    for (;;) {
      const char* s = p_;
#ifdef __SSE2__
      // 16 bytes at a time to the next quote, backslash, control or non-ASCII byte (kernel names
      // are long: most of a Kineto trace's bytes are in strings).
      const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
      while (end_ - p_ >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
        // signed compare: bytes below 0x20 and bytes from 0x80 (negative) both come out "less"
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)), _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(hit);
        if (mask) {
          p_ += __builtin_ctz(static_cast<unsigned>(mask));
          break;
        }
        p_ += 16;
      }
#endif
      while (p_ < end_) {
        unsigned char c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      tok_.append(s, p_);
      int c = get();
      if (c == '"') return;
      if (c == -1) fail("syntax error while parsing value - invalid string: missing closing quote");
      if (c == '\\') escape();
      else if (c >= 0x20 && c < 0x80) tok_.push_back(static_cast<char>(c));  // the chunk ended inside the string
      else if (c < 0x20) fail("syntax error while parsing value - invalid string: control character must be escaped");
      else utf8(c);
    }
  }

  static bool digit(int c) { return c >= '0' && c <= '9'; }
  static bool number_char(char c) {  // a byte that can continue a number token: one table lookup
    static constexpr auto table = [] {
      std::array<bool, 256> t{};
      for (unsigned char x : std::string_view("0123456789-+.eE")) t[x] = true;
      return t;
    }();
    return table[static_cast<unsigned char>(c)];
  }

  // A number token: read in place when it ends inside the buffer (the common case), else
  // gathered across chunks into tok_.
  void number() {
    const char* s = p_;
    while (p_ < end_ && number_char(*p_)) ++p_;
    if (p_ < end_) return number_text(s, p_);
    tok_.assign(s, p_);
    while (refill()) {
      const char* t = p_;
      while (p_ < end_ && number_char(*p_)) ++p_;
      tok_.append(t, p_);
      if (p_ < end_) break;
    }
    const std::string text = tok_;
    number_text(text.data(), text.data() + text.size());
  }

  // Decimal with at most 15 significant digits and |exponent| <= 22 (a Kineto timestamp, a
  // duration): mantissa and power of ten are exact doubles, so one IEEE multiply or divide gives
  // the correctly rounded value, the same bits as from_chars. False: not that form.
  static bool exact_decimal(const char* q, const char* e, bool neg, double& out) {
    static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    std::uint64_t m = 0;
    int digits = 0, scale = 0;
    for (; q < e && digit(*q); ++q) {
      m = m * 10 + static_cast<unsigned>(*q - '0');
      if (m != 0 && ++digits > 15) return false;
    }
    if (q < e && *q == '.')
      for (++q; q < e && digit(*q); ++q) {
        m = m * 10 + static_cast<unsigned>(*q - '0');
        --scale;
        if (m != 0 && ++digits > 15) return false;
      }
    if (q != e || scale < -22) return false;  // an exponent part: left to from_chars
    double d = static_cast<double>(m);
    d = scale < 0 ? d / kPow10[-scale] : d;
    out = neg ? -d : d;
    return true;
  }

  // Grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  void number_text(const char* b, const char* e) {
    const char* q = b;
    bool neg = q < e && *q == '-';
    if (neg) ++q;
    const char* mant = q;
    bool is_float = false;
    auto bad = [&] { fail("syntax error while parsing value - invalid number"); };
    if (q == e || !digit(*q)) bad();
    if (*q == '0') ++q;
    else
      while (q < e && digit(*q)) ++q;
    if (q < e && *q == '.') {
      is_float = true;
      ++q;
      if (q == e || !digit(*q)) bad();
      while (q < e && digit(*q)) ++q;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
      is_float = true;
      ++q;
      if (q < e && (*q == '+' || *q == '-')) ++q;
      if (q == e || !digit(*q)) bad();
      while (q < e && digit(*q)) ++q;
    }
    if (q != e) bad();
    if (!is_float) {
      if (neg) {
        std::int64_t v = 0;
        auto r = std::from_chars(b, e, v);
        if (r.ec == std::errc()) return ok(sax_->number_integer(v));
      } else {
        std::uint64_t v = 0;
        auto r = std::from_chars(b, e, v);
        if (r.ec == std::errc()) return ok(sax_->number_unsigned(v));
      }
      // Integers beyond 64 bits become floats, as in nlohmann.
    }
    tok_.assign(b, e);  // the float's text goes to the handler with its value
    double d = 0;
    if (!exact_decimal(mant, e, neg, d)) {
      auto r = std::from_chars(b, e, d);
      if (r.ec != std::errc()) {
        // Out of range: underflow to a (sub)normal is a number, overflow is an error (strtod decides).
        static locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
        d = strtod_l(tok_.c_str(), nullptr, c_locale);
      }
    }
    if (!std::isfinite(d)) fail("number overflow parsing '" + tok_ + "'");
    ok(sax_->number_float(d, tok_));
  }

  const JsonByteSource& src_;
  nlohmann::json_sax<json>* sax_;
  // Chunks start at 64 KiB (a small file costs a small buffer) and grow to 1 MiB on a large one.
  static constexpr std::size_t kMaxBuf = std::size_t{1} << 20;
  std::size_t cap_ = std::size_t{1} << 16;
  std::unique_ptr<char[]> buf_;  // not zero-filled: only what the source wrote is read
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  bool eof_ = false;
  std::size_t consumed_ = 0, lines_ = 0, col_base_ = 0;
  std::string tok_;
};

}  // namespace

bool fast_sax_parse(const JsonByteSource& src, nlohmann::json_sax<json>* sax) {
  Lexer lx(src, sax);
  try {
    lx.parse();
  } catch (const Stop&) {
    return false;
  }
  return true;
}

}  // namespace orrery
