#include "workloads/pytorch_trace.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "hw_models/calibrate.h"
#include "sim/error.h"
#include "sim/limits.h"
#include "sim/units.h"
#include "workloads/json_io.h"
#include "workloads/ingest_probe.h"
#include "workloads/json_stream.h"
#include "workloads/tensor_iterator.h"

namespace orrery {

namespace fs = std::filesystem;

Dtype EtOp::first_dtype() const {
  for (auto& a : inputs) {
    if (a.is_tensor) return a.dtype;
    for (auto& e : a.elems)
      if (e.is_tensor) return e.dtype;
  }
  for (auto& a : outputs)
    if (a.is_tensor) return a.dtype;
  return Dtype::UNKNOWN;
}

namespace {

std::string find_file(const std::string& dir, const std::string& stem, bool required) {
  for (const char* ext : {".json.gz", ".json"}) {
    std::string p = (fs::path(dir) / (stem + ext)).string();
    if (std::error_code ec; fs::exists(p, ec)) return p;
  }
  if (required)
    throw make_error(dir, stem + ".json[.gz]", "missing file in capture bundle");
  return "";
}

// A JSON number as an int64: `def` when it is not a number; an error naming the field when it does
// not fit (converting a float beyond 2^63, or infinity, would be undefined behaviour).
std::int64_t checked_int(const nlohmann::json& v, std::int64_t def, const std::string& file, const std::string& field) {
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw make_error(file, field, "value " + v.dump() + " is out of range");
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!(std::fabs(d) < 9.2e18)) throw make_error(file, field, "value " + v.dump() + " is out of range");
    return static_cast<std::int64_t>(d);
  }
  return def;
}
int checked_int32(const nlohmann::json& v, int def, const std::string& file, const std::string& field) {
  std::int64_t x = checked_int(v, def, file, field);
  if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
    throw make_error(file, field, "value " + v.dump() + " is out of range");
  return static_cast<int>(x);
}

// Largest tensor in bytes (4 EiB): element counts and byte sizes stay far from int64 overflow.
constexpr std::int64_t kMaxTensorBytes = std::int64_t{1} << 62;

// a * b for sizes, or an error when the product leaves [0, kMaxTensorBytes].
std::int64_t checked_size_mul(std::int64_t a, std::int64_t b, const std::string& file, const std::string& field) {
  std::int64_t p = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &p) || p > kMaxTensorBytes)
    throw make_error(file, field, std::to_string(a) + " x " + std::to_string(b) +
                                      " is beyond any real tensor (more than 2^62 elements or bytes)");
  return p;
}

// "Tensor(float)" -> FP32, "Tensor(c10::BFloat16)" -> BF16
Dtype tensor_type_dtype(const std::string& t) {
  auto a = t.find('('), b = t.rfind(')');
  if (a == std::string::npos || b == std::string::npos || b <= a) return Dtype::UNKNOWN;
  return parse_dtype(t.substr(a + 1, b - a - 1));
}

const nlohmann::json kNoJson;  // an argument's missing shape or strides

// Elements of a tensor of these sizes at distinct addresses, by its strides (a dimension of stride
// 0 repeats one element); numel when the strides are missing or do not match the sizes.
std::int64_t distinct_elements(const std::vector<std::int64_t>& shape, const nlohmann::json& stride, std::int64_t numel) {
  if (!stride.is_array() || stride.size() != shape.size()) return numel;
  std::int64_t n = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!stride[d].is_number_integer()) return numel;
    if (shape[d] == 0) return 0;
    if (stride[d].get<std::int64_t>() != 0 && __builtin_mul_overflow(n, shape[d], &n)) return numel;
  }
  return std::min(n, numel);
}

EtArg parse_arg(const std::string& type, const nlohmann::json& value, const nlohmann::json& shape,
               const nlohmann::json& stride, const std::string& file, const std::string& where) {
  EtArg a;
  a.type = type;
  a.value = value;
  if (type.rfind("Tensor(", 0) == 0 && value.is_array() && value.size() >= 5) {
    a.is_tensor = true;
    a.dtype = tensor_type_dtype(type);
    auto num = [&](const nlohmann::json& v) -> std::int64_t { return checked_int(v, 0, file, where + " tensor"); };
    a.tensor_id = num(value[0]);
    a.storage_id = num(value[1]);
    a.offset = num(value[2]);
    a.numel = num(value[3]);
    a.elem_bytes = num(value[4]);
    // (offset + numel) * elem_bytes is the storage size the memory model sums: range-checked here.
    checked_size_mul(checked_size_mul(1, a.offset, file, where + " tensor offset") +
                         checked_size_mul(1, a.numel, file, where + " tensor numel"),
                     a.elem_bytes, file, where + " tensor bytes");
    if (value.size() > 5 && value[5].is_string()) a.device = value[5].get<std::string>();
    // A tensor's sizes are whole numbers >= 0: anything else (negative, fractional, a string)
    // would price the op on a shape no tensor has.
    if (!shape.is_null() && !shape.is_array())
      throw make_error(file, where + " shapes", "expected the tensor's sizes as a list, got " + shape.dump().substr(0, 40));
    if (shape.is_array())
      for (auto& s : shape) {
        if (!s.is_number_integer() || checked_int(s, 0, file, where + " shapes") < 0)
          throw make_error(file, where + " shapes", "expected whole sizes >= 0, got " + s.dump().substr(0, 40));
        a.shape.push_back(checked_int(s, 0, file, where + " shapes"));
      }
    a.distinct_numel = distinct_elements(a.shape, stride, a.numel);
  } else if (type.rfind("GenericList[", 0) == 0 && value.is_array()) {
    // Element types: "GenericList[Tensor(float),Tensor(float)]" (or a single repeated type).
    std::string inner = type.substr(12, type.size() >= 13 ? type.size() - 13 : 0);
    std::vector<std::string> types;
    int depth = 0;
    std::string cur;
    for (char c : inner) {
      if (c == '(' || c == '[') ++depth;
      if (c == ')' || c == ']') --depth;
      if (c == ',' && depth == 0) {
        types.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) types.push_back(cur);
    for (size_t i = 0; i < value.size(); ++i) {
      std::string et = types.empty() ? "" : types[std::min(i, types.size() - 1)];
      const nlohmann::json& sh = shape.is_array() && i < shape.size() ? shape[i] : kNoJson;
      const nlohmann::json& st = stride.is_array() && i < stride.size() ? stride[i] : kNoJson;
      a.elems.push_back(parse_arg(et, value[i], sh, st, file, where));
    }
  }
  return a;
}

std::vector<EtArg> parse_args(const nlohmann::json& io, const std::string& file, const std::string& where) {
  std::vector<EtArg> out;
  if (!io.is_object()) return out;
  const auto& values = io.value("values", nlohmann::json::array());
  const auto& types = io.value("types", nlohmann::json::array());
  const auto& shapes = io.value("shapes", nlohmann::json::array());
  const auto& strides = io.value("strides", nlohmann::json::array());
  if (!values.is_array() || !types.is_array())
    throw make_error(file, where + " values/types", "expected arrays");
  // (the three lists describe the same arguments: a shorter one leaves tensors without their sizes)
  if (types.size() != values.size() || (io.contains("shapes") && (!shapes.is_array() || shapes.size() != values.size())))
    throw make_error(file, where + " values/types/shapes", "expected lists of one length (" + std::to_string(values.size()) + " values, " +
                                                               std::to_string(types.size()) + " types, " +
                                                               std::to_string(shapes.is_array() ? shapes.size() : 0) + " shapes)");
  for (size_t i = 0; i < values.size(); ++i) {
    std::string t = i < types.size() && types[i].is_string() ? types[i].get<std::string>() : "";
    const nlohmann::json& sh = shapes.is_array() && i < shapes.size() ? shapes[i] : kNoJson;  // (no copies)
    const nlohmann::json& st = strides.is_array() && i < strides.size() ? strides[i] : kNoJson;
    out.push_back(parse_arg(t, values[i], sh, st, file, where));
  }
  return out;
}

constexpr std::int64_t kNoArg = std::numeric_limits<std::int64_t>::min();
std::int64_t arg_or(std::int64_t v, std::int64_t def) { return v == kNoArg ? def : v; }

// One Kineto complete ("X") event reduced to what the reader uses: a 1M-kernel trace holds about
// 3M events, so no JSON is kept per event.
struct Ev {
  Name cat_, name_;  // interned: a kernel name is stored once, not per event
  const std::string& cat() const { return cat_; }
  const std::string& name() const { return name_; }
  double ts = 0, dur = 0;  // seconds
  int tid = 0;
  std::int64_t ext = kNoArg, rf = kNoArg, corr = kNoArg, stream = kNoArg, bytes = kNoArg, wait = kNoArg;
  std::int64_t grid = 0, block = 0;  // products of the dims
  struct Extra {  // cpu ops of a Kineto-only bundle: record_shapes inputs, communication attributes
    std::vector<EtArg> inputs;
    std::string collective_name, pg_name, comm_dtype;
    std::int64_t in_nelems = 0, out_nelems = 0, group_size = 0, autograd_seq = -1;
  };
  std::unique_ptr<Extra> x;
};

// The events of one kind, in chunks that double from 16 up to 8Ki (900 KB): a full-size chunk is
// one large allocation (mapped, not carved from the heap), so freeing them gives the memory back
// instead of leaving 3M small holes between the records built from them (about 300 MB at 1M
// kernels); a small trace pays for small chunks only (a first chunk of 256 events, 28 KB built per
// kind, was a tenth of reading a few-event trace under ASan). Grows without moving its events.
class EvList {
 public:
  static constexpr std::size_t kFirst = std::size_t{1} << 4, kChunk = std::size_t{1} << 13;
  void push_back(Ev&& e) {
    if (chunks_.empty() || fill_ == cap_.back()) {
      cap_.push_back(chunks_.empty() ? kFirst : std::min(kChunk, 2 * cap_.back()));
      chunks_.push_back(std::make_unique<Ev[]>(cap_.back()));
      fill_ = 0;
    }
    chunks_.back()[fill_++] = std::move(e);
    ++n_;
  }
  std::size_t size() const { return n_; }
  void clear() {
    chunks_.clear();
    chunks_.shrink_to_fit();
    cap_.clear();
    n_ = fill_ = 0;
  }
  template <class List, class T>
  struct Iter {  // walks chunk by chunk; compares by position
    List* l;
    std::size_t i, c = 0, o = 0;
    T& operator*() const { return l->chunks_[c][o]; }
    Iter& operator++() {
      ++i;
      if (++o == l->cap_[c]) ++c, o = 0;
      return *this;
    }
    bool operator!=(const Iter& x) const { return i != x.i; }
  };
  Iter<EvList, Ev> begin() { return {this, 0}; }
  Iter<EvList, Ev> end() { return {this, n_}; }
  Iter<const EvList, const Ev> begin() const { return {this, 0}; }
  Iter<const EvList, const Ev> end() const { return {this, n_}; }

 private:
  std::vector<std::unique_ptr<Ev[]>> chunks_;
  std::vector<std::size_t> cap_;  // capacity of each chunk
  std::size_t n_ = 0, fill_ = 0;  // events in all, in the last chunk
};

// A traceEvents[] element as the streaming reader keeps it: the top-level fields and the args
// fields the reader uses, each a small JSON value (containers such as grid or Input Dims built;
// every other key skipped unbuilt). The slots are reused from one event to the next, so a string
// field costs no allocation once its buffer is large enough.
class KinetoSax : public JsonElementSax {
 public:
  enum Top { kPh, kCat, kName, kTid, kTs, kDur, kTopN };
  enum Arg { kExt, kRf, kCorr, kStream, kBytes, kWait, kGrid, kBlock, kArgName,
             // record_shapes inputs and communication attributes: Kineto-only bundles
             kInputType, kInputDims, kConcrete, kCollName, kPgName, kDtype, kInNelems, kOutNelems, kGroupSize, kSeq, kArgN };
  using Fn = std::function<void(const KinetoSax&)>;
  KinetoSax(bool with_inputs, Fn on_event) : nargs_(with_inputs ? kArgN : kInputType), on_event_(std::move(on_event)) {}

  const nlohmann::json* top(Top k) const { return present_[k] ? &top_[k] : nullptr; }
  const nlohmann::json* arg(Arg k) const { return arg_present_[k] ? &args_[k] : nullptr; }
  bool has_args() const { return has_args_; }

  void element_done(size_t) override {
    if (is_object_) on_event_(*this);
    is_object_ = has_args_ = false;
    std::fill(std::begin(present_), std::end(present_), false);
    std::fill(std::begin(arg_present_), std::end(arg_present_), false);
    level_ = 0;
  }
  bool null() override { return scalar(nlohmann::json()); }
  bool boolean(bool v) override { return scalar(nlohmann::json(v)); }
  bool number_integer(number_integer_t v) override { return scalar(nlohmann::json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(nlohmann::json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return scalar(nlohmann::json(v)); }
  bool string(string_t& v) override {
    if (skip_) return true;
    nlohmann::json* s = build_.empty() ? target() : next_slot();
    if (s) {
      if (s->is_string()) s->get_ref<std::string&>().assign(v);  // reuses the buffer
      else *s = v;
    }
    return true;
  }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (skip_) return true;
    if (!build_.empty()) {
      bkey_ = k;
      return true;
    }
    pending_ = -1;
    if (level_ == 1) {
      static constexpr std::string_view names[kTopN] = {"ph", "cat", "name", "tid", "ts", "dur"};
      pending_ = k.size() == 4 && std::memcmp(k.data(), "args", 4) == 0 ? kArgsKey : find_key(k, names, kTopN);
    } else if (level_ == 2) {
      static constexpr std::string_view names[kArgN] = {
          "External id", "Record function id", "correlation", "stream", "bytes", "wait_on_cuda_event_record_corr_id",
          "grid", "block", "name", "Input type", "Input Dims", "Concrete Inputs", "Collective name",
          "Process Group Name", "dtype", "In msg nelems", "Out msg nelems", "Group size", "Sequence number"};
      pending_ = find_key(k, names, nargs_);
    }
    return true;
  }

 private:
  static constexpr int kArgsKey = 100;
  static int find_key(const std::string& k, const std::string_view* names, int n) {
    for (int i = 0; i < n; ++i)
      if (names[i].size() == k.size() && std::memcmp(names[i].data(), k.data(), k.size()) == 0) return i;
    return -1;
  }
  // The slot the next value goes to (nullptr: skipped); consumes the pending key.
  nlohmann::json* target() {
    int p = pending_;
    pending_ = -1;
    if (p < 0) return nullptr;
    if (level_ == 1) {
      if (p == kArgsKey) {  // "args" that is not an object: no args (a later "args" replaces an earlier one)
        has_args_ = false;
        std::fill(std::begin(arg_present_), std::end(arg_present_), false);
        return nullptr;
      }
      present_[p] = true;
      return &top_[p];
    }
    arg_present_[p] = true;
    return &args_[p];
  }
  bool scalar(nlohmann::json&& v) {
    if (skip_) return true;
    if (nlohmann::json* s = build_.empty() ? target() : next_slot()) *s = std::move(v);
    return true;
  }
  // The slot of the next element of the container being built. An array's elements are the
  // previous event's, overwritten in place (a string or nested array keeps its buffer; about 15
  // allocations per cpu_op otherwise), and the ones left over are dropped when it closes.
  nlohmann::json* next_slot() {
    Building& b = build_.back();
    if (b.j->is_object()) return &(*b.j)[bkey_];
    auto& a = b.j->get_ref<nlohmann::json::array_t&>();
    if (b.used == a.size()) a.emplace_back();
    return &a[b.used++];
  }
  static void make_container(nlohmann::json* s, bool object) {
    if (object) {
      if (s->is_object()) s->clear();
      else *s = nlohmann::json::object();
    } else if (!s->is_array()) {
      *s = nlohmann::json::array();
    }
  }
  bool open(bool object) {
    if (skip_) {
      ++skip_;
      return true;
    }
    if (!build_.empty()) {
      nlohmann::json* s = next_slot();
      make_container(s, object);
      build_.push_back({s, 0});
      return true;
    }
    if (level_ == 0) {  // the element itself
      if (object) {
        is_object_ = true;
        level_ = 1;
      } else {
        skip_ = 1;
      }
      return true;
    }
    if (level_ == 1 && pending_ == kArgsKey && object) {
      pending_ = -1;
      has_args_ = true;
      std::fill(std::begin(arg_present_), std::end(arg_present_), false);
      level_ = 2;
      return true;
    }
    nlohmann::json* s = target();
    if (!s) {
      skip_ = 1;
      return true;
    }
    make_container(s, object);  // the previous event's container: its buffers are reused
    build_.push_back({s, 0});
    return true;
  }
  bool close() {
    if (skip_) {
      --skip_;
      return true;
    }
    if (!build_.empty()) {
      Building& b = build_.back();
      if (b.j->is_array()) b.j->get_ref<nlohmann::json::array_t&>().resize(b.used);
      build_.pop_back();
      return true;
    }
    --level_;
    return true;
  }

  int nargs_;
  Fn on_event_;
  int level_ = 0;     // 0: between elements, 1: in the event object, 2: in its args object
  int pending_ = -1;  // slot of the key just read (-1: skip its value)
  int skip_ = 0;      // depth inside a skipped container
  struct Building {
    nlohmann::json* j;
    std::size_t used;  // elements written so far (arrays)
  };
  std::vector<Building> build_;  // containers being built into a slot
  std::string bkey_;
  bool is_object_ = false, has_args_ = false;
  bool present_[kTopN] = {}, arg_present_[kArgN] = {};
  nlohmann::json top_[kTopN], args_[kArgN];
};

std::string str_or(const nlohmann::json* j) { return j && j->is_string() ? j->get<std::string>() : std::string(); }
// An event's own string field (ph, cat, name): absent is "", any other type is malformed.
const std::string& str_field(const nlohmann::json* v, const char* k, const std::string& file) {
  static const std::string empty;
  if (!v) return empty;
  if (!v->is_string())
    throw make_error(file, std::string("traceEvents[] ") + k, "malformed trace: expected a string, got " + v->dump().substr(0, 80));
  return v->get_ref<const std::string&>();
}

// An int64 args field; the field name is only built for an error (this runs millions of times).
std::int64_t args_int(const nlohmann::json* v, std::int64_t def, const std::string& file, const char* k) {
  if (!v || !v->is_number()) return def;
  if (v->is_number_integer() && !v->is_number_unsigned()) return v->get<std::int64_t>();
  if (v->is_number_unsigned()) {  // a non-negative integer is read as unsigned: the common case
    auto u = v->get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return static_cast<std::int64_t>(u);
  }
  return checked_int(*v, def, file, std::string("traceEvents[] args.") + k);
}

// Inputs from record_shapes: "Input type" (dtype name for tensors, Scalar, TensorList, ...),
// "Input Dims" (shape; list of shapes for TensorList), "Concrete Inputs" (scalar values).
std::vector<EtArg> kineto_inputs(const nlohmann::json* types_p, const nlohmann::json* dims_p, const nlohmann::json* conc_p,
                                 const std::string& file, const std::string& op) {
  std::vector<EtArg> out;
  // The field name is built only for an error (this runs once per op of a 1M-op trace).
  auto field = [&] { return "traceEvents[] '" + op.substr(0, 80) + "' args.Input Dims"; };
  static const nlohmann::json none = nlohmann::json::array();
  const auto& types = types_p ? *types_p : none;
  const auto& dims = dims_p ? *dims_p : none;
  const auto& conc = conc_p ? *conc_p : none;
  auto tensor = [&](Dtype d, const std::string& type, const nlohmann::json& shape) {
    EtArg t;
    // "Tensor(<dtype>)" built once per distinct dtype name (3M tensors in a 1M-kernel trace)
    thread_local std::unordered_map<std::string, Name> tensor_types;
    auto tt = tensor_types.find(type);
    if (tt == tensor_types.end()) tt = tensor_types.emplace(type, Name("Tensor(" + type + ")")).first;
    t.type = tt->second;
    t.is_tensor = true;
    t.dtype = d;
    t.numel = 1;
    t.elem_bytes = std::max(1, dtype_bytes(d));
    t.shape.reserve(shape.size());
    for (auto& x : shape)
      if (x.is_number()) {
        std::int64_t v = x.is_number_integer() && !x.is_number_unsigned() ? x.get<std::int64_t>() : checked_int(x, 0, file, field());
        t.shape.push_back(v);
        std::int64_t q = 0;
        if (__builtin_mul_overflow(t.numel, std::max<std::int64_t>(0, v), &q) || q > kMaxTensorBytes)
          checked_size_mul(t.numel, std::max<std::int64_t>(0, v), file, field());  // throws
        t.numel = q;
      }
    if (std::int64_t q = 0; __builtin_mul_overflow(t.numel, t.elem_bytes, &q) || q > kMaxTensorBytes)
      checked_size_mul(t.numel, t.elem_bytes, file, field());
    return t;
  };
  if (!types.is_array()) return out;
  out.reserve(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    std::string t = types[i].is_string() ? types[i].get<std::string>() : "";
    const nlohmann::json& d = dims.is_array() && i < dims.size() ? dims[i] : none;
    Dtype dt = parse_dtype(t);
    EtArg arg;
    if (dt != Dtype::UNKNOWN && t != "Scalar" && d.is_array()) {
      arg = tensor(dt, t, d);
    } else if (t == "TensorList" && d.is_array()) {
      arg.type = "GenericList[Tensor]";
      for (auto& sh : d)
        if (sh.is_array()) arg.elems.push_back(tensor(Dtype::FP32, "float", sh));  // element dtype not recorded
    } else {
      arg.type = t.empty() ? "None" : t;
      if (conc.is_array() && i < conc.size() && conc[i].is_string()) {
        const std::string v = conc[i].get<std::string>();
        char* endp = nullptr;
        errno = 0;
        long long x = std::strtoll(v.c_str(), &endp, 10);
        arg.value = !v.empty() && endp && *endp == 0 && errno == 0 ? nlohmann::json(x) : nlohmann::json(v);
      }
    }
    out.push_back(std::move(arg));
  }
  return out;
}

// Reads one traceEvents[] element: a complete event into v (true); thread names into st; else false.
bool read_kineto_event(const KinetoSax& e, Ev& v, bool with_inputs, const std::string& file, CapturedStep& st) {
  using K = KinetoSax;
  const std::string& ph = str_field(e.top(K::kPh), "ph", file);
  const nlohmann::json* tid_it = e.top(K::kTid);
  const int tid = tid_it ? checked_int32(*tid_it, 0, file, "traceEvents[] tid") : 0;
  const bool has_args = e.has_args();
  if (ph.size() == 1 && ph[0] == 'M') {
    if (str_or(e.top(K::kName)) == "thread_name" && tid_it && tid_it->is_number() && has_args)
      st.thread_names[tid] = str_or(e.arg(K::kArgName));
    return false;
  }
  if (ph.size() != 1 || ph[0] != 'X') return false;
  v.cat_ = str_field(e.top(K::kCat), "cat", file);
  v.name_ = str_field(e.top(K::kName), "name", file);
  v.tid = tid;
  const nlohmann::json *ts = e.top(K::kTs), *dur = e.top(K::kDur);
  v.ts = ts && ts->is_number() ? ts->get<double>() * 1e-6 : 0;
  v.dur = dur && dur->is_number() ? dur->get<double>() * 1e-6 : 0;
  if (!ts || !ts->is_number() || !std::isfinite(v.ts))
    throw make_error(file, "traceEvents[] ts", "event '" + v.name() + "' has no timestamp");
  if (std::abs(v.ts) > 1e12)  // (microseconds: 1e18 is 31,000 years from the clock's origin)
    throw make_error(file, "traceEvents[] ts", "event '" + v.name().substr(0, 80) + "' at ts " + ts->dump() + " is out of range");
  if (dur && dur->is_number() && v.dur >= kMaxSimSeconds)
    throw make_error(file, "traceEvents[] dur", "event '" + v.name().substr(0, 80) + "' at ts " + ts->dump() + ": duration " +
                                                    dur->dump() + " us is beyond the simulator's range (about 104 days)");
  if (!dur || !dur->is_number() || !std::isfinite(v.dur) || v.dur < 0)
    throw make_error(file, "traceEvents[] dur",
                     "complete event '" + v.name() + "' at ts " + ts->dump() +
                         (dur ? " has an invalid duration " + dur->dump() : " has no duration"));
  if (!has_args) return true;
  auto arg = [&](K::Arg k, const char* name) { return args_int(e.arg(k), kNoArg, file, name); };
  v.ext = arg(K::kExt, "External id");
  v.rf = arg(K::kRf, "Record function id");
  v.corr = arg(K::kCorr, "correlation");
  v.stream = arg(K::kStream, "stream");
  if (v.stream != kNoArg && (v.stream < -1 || v.stream > std::numeric_limits<int>::max()))
    throw make_error(file, "traceEvents[] args.stream", std::to_string(v.stream) + " is out of range");
  v.bytes = arg(K::kBytes, "bytes");
  v.wait = arg(K::kWait, "wait_on_cuda_event_record_corr_id");
  auto prod = [&](K::Arg k, const char* name) -> std::int64_t {
    const nlohmann::json* a = e.arg(k);
    if (!a || !a->is_array()) return 0;
    std::int64_t p = 1;
    for (auto& x : *a) {
      std::int64_t f = x.is_number() ? args_int(&x, 1, file, name) : 1, q = 0;
      if (f < 1)  // (no launch has an empty or negative dimension: [0,0,0] became "unknown launch")
        throw make_error(file, std::string("traceEvents[] args.") + name,
                         "kernel '" + v.name().substr(0, 60) + "': " + a->dump() + " has a dimension below 1");
      if (__builtin_mul_overflow(p, f, &q) || q > kMaxTensorBytes)
        checked_size_mul(p, f, file, std::string("traceEvents[] args.") + name);  // throws, naming the field
      p = q;
    }
    return p;
  };
  v.grid = prod(K::kGrid, "grid");
  v.block = prod(K::kBlock, "block");
  if (with_inputs && (v.cat() == "cpu_op" || v.cat() == "user_annotation")) {
    v.x = std::make_unique<Ev::Extra>();
    v.x->inputs = kineto_inputs(e.arg(K::kInputType), e.arg(K::kInputDims), e.arg(K::kConcrete), file, v.name());
    v.x->autograd_seq = arg_or(arg(K::kSeq, "Sequence number"), -1);
    if (v.name() == "record_param_comms") {
      v.x->collective_name = str_or(e.arg(K::kCollName));
      v.x->pg_name = str_or(e.arg(K::kPgName));
      v.x->comm_dtype = str_or(e.arg(K::kDtype));
      const std::string f = "traceEvents[] 'record_param_comms' args.";
      v.x->in_nelems = checked_size_mul(1, arg_or(arg(K::kInNelems, "In msg nelems"), 0), file, f + "In msg nelems");
      v.x->out_nelems = checked_size_mul(1, arg_or(arg(K::kOutNelems, "Out msg nelems"), 0), file, f + "Out msg nelems");
      std::int64_t g = arg_or(arg(K::kGroupSize, "Group size"), 0);
      if (g < 0 || g > std::numeric_limits<int>::max()) throw make_error(file, f + "Group size", std::to_string(g) + " is out of range");
      v.x->group_size = g;
    }
  }
  return true;
}

std::string normalize_collective(std::string n) {
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto strip = [&](const std::string& p) {
    if (n.rfind(p, 0) == 0) n = n.substr(p.size());
  };
  strip("nccl:");
  strip("gloo:");
  strip("c10d::");
  if (!n.empty() && n.back() == '_') n.pop_back();
  if (n == "allreduce" || n == "all_reduce" || n == "allreduce_coalesced") return "all_reduce";
  if (n == "allgather" || n == "all_gather" || n == "_allgather_base" || n == "allgather_into_tensor_coalesced" ||
      n == "all_gather_into_tensor")
    return "all_gather";
  if (n == "reduce_scatter" || n == "reducescatter" || n == "_reduce_scatter_base" || n == "reduce_scatter_tensor")
    return "reduce_scatter";
  if (n == "alltoall" || n == "all_to_all" || n == "alltoall_base") return "alltoall";
  if (n == "broadcast") return "broadcast";
  if (n == "reduce") return "reduce";
  if (n == "send") return "send";
  if (n == "recv" || n == "recv_any_source") return "recv";
  if (n == "barrier") return "barrier";
  if (n == "gather") return "gather";
  if (n == "scatter") return "scatter";
  return n;
}

bool is_thread_root(const std::string& name) { return name == "[pytorch|profiler|execution_trace|thread]"; }
bool is_process_root(const std::string& name) { return name == "[pytorch|profiler|execution_trace|process]"; }

}  // namespace

std::string classify_kernel(const std::string& k, const std::string& op, DevKind kind) {
  if (kind == DevKind::Memcpy || kind == DevKind::Memset) return "copy";
  auto has = [&](const char* s) { return k.find(s) != std::string::npos; };
  auto ophas = [&](const char* s) { return op.find(s) != std::string::npos; };
  if (has("nccl") || has("Nccl")) return "communication";
  // torch.compile (inductor) Triton kernels: pointwise, reductions (persistent or not), templates.
  if (k.rfind("triton_poi", 0) == 0) return "elementwise";
  if (k.rfind("triton_red", 0) == 0 || k.rfind("triton_per", 0) == 0) return "reduction";
  if (k.rfind("triton_tem", 0) == 0 || k.rfind("triton_mm", 0) == 0 || k.rfind("triton_bmm", 0) == 0) return "gemm";
  if (has("flash") || has("fmha") || has("attention") || has("Attention") || has("cudnn_generated_fort_native_sdpa") ||
      has("sdpa") || ophas("attention") || ophas("Attention"))
    return "attention";
  if (has("gemm") || has("Gemm") || has("xmma") || has("cutlass") || has("cublas") || has("sm90_") ||
      has("sm80_") || has("nvjet") || has("wgmma") || has("splitKreduce"))
    return "gemm";
  // cuDNN convolution engines (implicit GEMM): forward, data and weight gradients.
  if (has("fprop") || has("dgrad") || has("wgrad") || has("convolve") || has("conv2d_") || has("Convolution"))
    return "gemm";
  if (has("multi_tensor_apply") || has("fused_adam") || has("FusedAdam") || has("adam") || has("Adam") ||
      ophas("Optimizer") || ophas("_fused_adam") || ophas("_foreach"))
    return "optimizer";
  if (has("SoftMax") || has("GammaBeta") || has("Norm") || has("layer_norm") || has("LayerNorm") || has("rms_norm") || has("RMSNorm") || has("reduce_kernel") ||
      has("softmax") || has("Softmax") || has("nll_loss") || has("cross_entropy") || has("norm") ||
      has("Reduce") || has("reduce"))
    return "reduction";
  if (has("copy") || has("Copy") || has("cat") || has("CatArray") || has("index") || has("gather") ||
      has("scatter") || has("embedding") || has("Embedding"))
    return "elementwise";
  if (has("elementwise") || has("Elementwise") || has("vectorized") || has("Functor") || has("fill") ||
      has("unrolled"))
    return "elementwise";
  return "other";
}

// measured.json is ground truth the replay reads as numbers: every field it reads is checked here,
// so a string or a negative time is an error naming the field, not a JSON library exception.
void check_measured(const nlohmann::json& m, const std::string& path) {
  if (!m.is_object()) throw make_error(path, "", "expected a JSON object");
  auto it = m.find("step_cuda_events");
  if (it == m.end() || !it->is_object() || !it->contains("median_ms"))
    throw make_error(path, "step_cuda_events.median_ms", "missing");
  for (const char* k : {"median_ms", "min_ms", "max_ms"}) {
    auto f = it->find(k);
    if (f == it->end()) continue;
    // (a measured step of zero time is no measurement: every error against it would read +0%)
    if (!f->is_number() || !std::isfinite(f->get<double>()) || f->get<double>() <= 0 || f->get<double>() > kMaxInputSeconds * 1e3)
      throw make_error(path, std::string("step_cuda_events.") + k, "expected a positive time in milliseconds, got " + f->dump().substr(0, 80));
  }
  double med = (*it)["median_ms"].get<double>();
  if ((it->contains("min_ms") && (*it)["min_ms"].get<double>() > med) || (it->contains("max_ms") && (*it)["max_ms"].get<double>() < med))
    throw make_error(path, "step_cuda_events", "min_ms <= median_ms <= max_ms does not hold");
  auto mem = m.find("max_mem_allocated");
  // (1 PiB: no device has that much memory)
  if (mem != m.end() && (!mem->is_number() || !std::isfinite(mem->get<double>()) || mem->get<double>() < 0 || mem->get<double>() > 1125899906842624.0))
    throw make_error(path, "max_mem_allocated", "expected a byte count (at most 1 PiB), got " + mem->dump().substr(0, 80));
}

std::vector<int> bundle_ranks(const std::string& dir) {
  // Ranks of et.<rank>.json[.gz]; a Kineto-only bundle: of kineto.<rank>.json[.gz].
  std::set<int> ranks;
  std::error_code ec;
  for (const std::string prefix : {"et.", "kineto."}) {
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) != 0) continue;
    std::string rest = n.substr(prefix.size());
    auto dot = rest.find('.');
    if (dot == std::string::npos) continue;
    std::string r = rest.substr(0, dot);
    if (r.empty() || !std::all_of(r.begin(), r.end(), ::isdigit)) continue;
    if (r.size() > 6) throw make_error(dir, n, "rank number out of range");
    ranks.insert(std::stoi(r));
  }
  if (!ranks.empty()) break;
  }
  return {ranks.begin(), ranks.end()};
}

namespace {
// Collectives of the step: record_param_comms (NCCL) and gloo c10d ops in every host item's op
// subtree, in order; `file` names the trace for type errors.
void find_collectives(CapturedStep& st, const std::string& file) {
  std::function<bool(int, const char*)> subtree_has = [&](int i, const char* name) {
    for (int c : st.ops[i].children)
      if (st.ops[c].name == name || subtree_has(c, name)) return true;
    return false;
  };
  for (size_t h = 0; h < st.host.size(); ++h) {
    if (st.host[h].op < 0) continue;
    // Walk the op subtree for collectives (record_param_comms or gloo c10d ops).
    std::vector<int> stack{st.host[h].op};
    while (!stack.empty()) {
      int i = stack.back();
      stack.pop_back();
      const EtOp& op = st.ops[i];
      bool rpc = op.name == "record_param_comms";
      // A c10d op that wraps a record_param_comms (NCCL) is that one collective, not two.
      bool c10d = op.name.rfind("c10d::", 0) == 0 && !subtree_has(i, "record_param_comms");
      if (rpc || c10d) {
        CollectiveCall c;
        c.op = i;
        c.host_item = static_cast<int>(h);
        c.pg_name = op.pg_name.empty() ? "0" : op.pg_name;
        c.seq = op.seq;
        c.pg_size = op.pg_size;
        if (rpc) {
          c.name = normalize_collective(op.collective_name);
          int eb = dtype_bytes(parse_dtype(op.comm_dtype));
          c.bytes = static_cast<double>(op.in_msg_nelems) * eb;
          // NCCL point-to-point: the peer rank is record_param_comms' positional inputs.values[3].
          if ((c.name == "send" || c.name == "recv") && op.inputs.size() > 3 && op.inputs[3].value.is_number())
            c.peer = op.inputs[3].value.get<int>();
        } else {
          c.name = normalize_collective(op.name);
          double bytes = 0;
          for (auto& a : op.inputs) {
            if (a.is_tensor) bytes += static_cast<double>(a.numel * a.elem_bytes);
            for (auto& e : a.elems)
              if (e.is_tensor) bytes += static_cast<double>(e.numel * e.elem_bytes);
          }
          c.bytes = bytes;
          if ((c.name == "send" || c.name == "recv") && op.inputs.size() > 2 && op.inputs[2].value.is_number())
            c.peer = checked_int32(op.inputs[2].value, -1, file, "send/recv peer");
        }
        st.host[h].collectives.push_back(static_cast<int>(st.collectives.size()));
        st.collectives.push_back(c);
        // Descend anyway: async ops nest in the ET (gloo's recv_ appears under the send).
      }
      for (auto it = op.children.rbegin(); it != op.children.rend(); ++it) stack.push_back(*it);
    }
  }
}

// Peak GPU memory from tensor lifetimes: storages live from first to last use; those first
// seen as inputs (weights, optimizer state) pre-exist the step.
double peak_memory_from_lifetimes(const CapturedStep& st) {
  struct Life {
    double bytes = 0;
    size_t first = 0, last = 0;
    bool preexisting = false;
  };
  std::unordered_map<std::int64_t, Life> lives;
  size_t pos = 0;
  std::function<void(const EtArg&, bool)> see = [&](const EtArg& a, bool is_output) {
    if (a.is_tensor && a.device.rfind("cuda", 0) == 0 && a.storage_id >= 0) {
      double b = static_cast<double>((a.offset + a.numel) * a.elem_bytes);
      b = std::ceil(b / 512.0) * 512.0;  // caching allocator granularity
      auto [it, fresh] = lives.try_emplace(a.storage_id);
      Life& l = it->second;
      if (fresh) {
        l.first = pos;
        l.preexisting = !is_output;
      }
      l.bytes = std::max(l.bytes, b);
      l.last = pos;
    }
    for (auto& e : a.elems) see(e, is_output);
  };
  for (size_t i = 0; i < st.ops.size(); ++i) {
    pos = i;
    for (auto& a : st.ops[i].inputs) see(a, false);
    for (auto& a : st.ops[i].outputs) see(a, true);
  }
  std::vector<double> delta(st.ops.size() + 2, 0.0);
  double base = 0;
  for (auto& [sid, l] : lives) {
    if (l.preexisting) {
      base += l.bytes;
    } else {
      delta[l.first] += l.bytes;
      delta[l.last + 1] -= l.bytes;
    }
  }
  double cur = base, peak = base;
  for (double d : delta) {
    cur += d;
    peak = std::max(peak, cur);
  }
  return peak;
}

// ---- load_bundle, step by step: files, Execution Trace, Kineto, host items, runtime calls ----

// Checks that `dir` is a bundle directory and finds its trace files: et[.rank].json[.gz] and
// kineto[.rank].json[.gz] (a Kineto trace alone is enough; a missing one is an error naming it).
// Fills st.dir, st.et_path (empty: Kineto-only), st.kineto_path, st.rank.
void locate_bundle_files(const std::string& dir, int rank, CapturedStep& st) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw make_error(dir, "", ec ? "cannot access the bundle directory: " + ec.message() : "no such bundle directory");
  if (!fs::is_directory(dir, ec)) throw make_error(dir, "", "a capture bundle is a directory (et.json.gz, kineto.json.gz, measured.json)");
  st.dir = dir;
  std::string suffix = rank >= 0 ? "." + std::to_string(rank) : "";
  st.et_path = find_file(dir, "et" + suffix, false);
  st.kineto_path = find_file(dir, "kineto" + suffix, false);
  // A Kineto trace alone (torch.profiler without ExecutionTraceObserver) is enough: the op tree
  // comes from the nesting of its cpu_op events and shapes from record_shapes' "Input Dims".
  if (st.et_path.empty() && st.kineto_path.empty()) find_file(dir, "et" + suffix, true);  // names the missing ET
  if (st.kineto_path.empty()) find_file(dir, "kineto" + suffix, true);
  st.rank = std::max(rank, 0);
}

// The positions of an op schema's out= arguments: its keyword-only (after `*`) mutable tensors,
// `aten::mul.out(Tensor self, Tensor other, *, Tensor(a!) out) -> Tensor(a!)` -> {2}. An
// in-place op's self (`add_.Tensor(Tensor(a!) self, ...)`) is positional: read, and not one.
std::vector<int> schema_out_arguments(const std::string& schema) {
  std::vector<int> out;
  size_t open = schema.find('(');
  if (open == std::string::npos) return out;
  int depth = 0, index = 0;
  bool keyword_only = false;
  std::string arg;
  for (size_t i = open + 1; i < schema.size(); ++i) {
    char c = schema[i];
    if (depth == 0 && (c == ',' || c == ')')) {
      size_t b = arg.find_first_not_of(' ');
      std::string a = b == std::string::npos ? "" : arg.substr(b);
      if (a == "*") keyword_only = true;
      else if (!a.empty()) {
        if (keyword_only && a.rfind("Tensor(", 0) == 0 && a.find("!)") != std::string::npos) out.push_back(index);
        ++index;
      }
      arg.clear();
      if (c == ')') break;
      continue;
    }
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    arg += c;
  }
  return out;
}

// The ET node attributes the replay reads (rf_id, tid, communication attributes) into op.
void read_et_attrs(const nlohmann::json& n, const std::string& where, const std::string& path, EtOp& op) {
  if (!n.contains("attrs")) return;
  if (!n["attrs"].is_array()) throw make_error(path, where + " attrs", "expected an array of {name, type, value}");
  for (auto& a : n["attrs"]) {
    if (!a.is_object() || !a.contains("name")) continue;
    std::string an = a["name"].get<std::string>();
    const auto& v = a.contains("value") ? a["value"] : nlohmann::json();
    const std::string field = where + " attrs." + an;
    if (an == "rf_id" && v.is_number()) op.rf_id = checked_int(v, -1, path, field);
    else if (an == "tid" && v.is_number()) op.tid = checked_int32(v, 0, path, field);
    else if (an == "seq_id" && v.is_number()) op.autograd_seq = checked_int(v, -1, path, field);
    else if (an == "op_schema" && v.is_string()) op.out_args = schema_out_arguments(v.get<std::string>());
    else if (an == "collective_name" && v.is_string()) op.collective_name = v.get<std::string>();
    else if (an == "pg_name" && v.is_string()) op.pg_name = v.get<std::string>();
    else if (an == "dtype" && v.is_string()) op.comm_dtype = v.get<std::string>();
    else if (an == "in_msg_nelems" && v.is_number()) op.in_msg_nelems = checked_size_mul(1, checked_int(v, 0, path, field), path, field);
    else if (an == "out_msg_nelems" && v.is_number()) op.out_msg_nelems = checked_size_mul(1, checked_int(v, 0, path, field), path, field);
    else if (an == "pg_size" && v.is_number()) op.pg_size = checked_int32(v, 0, path, field);
  }
}

// record_param_comms' positional inputs: the sequence number is inputs.values[1] = [seq, is_p2p]
// (or a bare number); the process group name, when no attribute gave one, inputs.values[2][0].
void read_comm_positional(const nlohmann::json& n, const std::string& where, const std::string& path, EtOp& op) {
  const auto in = n.value("inputs", nlohmann::json::object());
  const auto vals = in.is_object() ? in.value("values", nlohmann::json::array()) : nlohmann::json::array();
  if (vals.is_array() && vals.size() > 1 && vals[1].is_array() && !vals[1].empty() && vals[1][0].is_number())
    op.seq = checked_int(vals[1][0], -1, path, where + " inputs.values[1]");
  else if (vals.is_array() && vals.size() > 1 && vals[1].is_number())
    op.seq = checked_int(vals[1], -1, path, where + " inputs.values[1]");
  if (op.pg_name.empty() && vals.is_array() && vals.size() > 2 && vals[2].is_array() && !vals[2].empty() && vals[2][0].is_string())
    op.pg_name = vals[2][0].get<std::string>();
}

// One ET node as an EtOp: id, name, parent (ctrl_deps), inputs, outputs, attributes.
// The tensor operands of a node's inputs or outputs with their strides (0-dim tensors left out);
// false when a tensor's strides are missing or not a list of integers, or for a tensor list (cat
// iterates each input into a slice of the output: not one iteration over the output).
bool iter_operands(const nlohmann::json& io, std::vector<IterOperand>& out) {
  if (!io.is_object() || !io.contains("strides") || !io["strides"].is_array()) return false;
  const auto& types = io.value("types", nlohmann::json::array());
  const auto& shapes = io.value("shapes", nlohmann::json::array());
  const auto& strides = io["strides"];
  for (size_t i = 0; types.is_array() && i < types.size(); ++i) {
    if (!types[i].is_string()) continue;
    if (types[i].get<std::string>().find("List[Tensor") != std::string::npos) return false;
    if (types[i].get<std::string>().rfind("Tensor(", 0) != 0) continue;
    if (i >= shapes.size() || !shapes[i].is_array() || shapes[i].empty()) continue;
    if (i >= strides.size() || !strides[i].is_array() || strides[i].size() != shapes[i].size()) return false;
    IterOperand o;
    o.elem_bytes = dtype_bytes(parse_dtype(types[i].get<std::string>()));
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      if (!shapes[i][d].is_number_integer() || !strides[i][d].is_number_integer()) return false;
      o.shape.push_back(shapes[i][d].get<std::int64_t>());
      o.strides.push_back(strides[i][d].get<std::int64_t>());
    }
    out.push_back(std::move(o));
  }
  return true;
}

// TensorIterator's iteration over the node's output and tensor inputs (dims 0: unknown).
TensorIteration et_iteration(const nlohmann::json& n) {
  std::vector<IterOperand> outs, ins;
  if (!iter_operands(n.value("outputs", nlohmann::json::object()), outs) || outs.empty()) return {};
  if (!iter_operands(n.value("inputs", nlohmann::json::object()), ins)) return {};
  std::vector<IterOperand> ops{outs.front()};
  for (auto& o : ins) ops.push_back(std::move(o));
  return tensor_iteration(ops);
}

EtOp et_op_from_node(const nlohmann::json& n, const std::string& path) {
  if (!n.is_object() || !n.contains("id") || !n["id"].is_number() || !n.contains("name"))
    throw make_error(path, "nodes[]", "node without id or name");
  EtOp op;
  op.id = checked_int(n["id"], 0, path, "nodes[] id");
  std::string where = "node " + std::to_string(op.id);
  op.name = n["name"].is_string() ? n["name"].get<std::string>() : "";
  if (n.contains("ctrl_deps") && !n["ctrl_deps"].is_number_integer())
    throw make_error(path, "node " + std::to_string(op.id) + " ctrl_deps", "expected a node id, got " + n["ctrl_deps"].dump());
  op.parent = n.contains("ctrl_deps") ? checked_int(n["ctrl_deps"], 0, path, "node " + std::to_string(op.id) + " ctrl_deps") : 0;
  op.inputs = parse_args(n.value("inputs", nlohmann::json::object()), path, where + " inputs");
  op.outputs = parse_args(n.value("outputs", nlohmann::json::object()), path, where + " outputs");
  read_et_attrs(n, where, path, op);
  if (op.name == "record_param_comms") read_comm_positional(n, where, path, op);
  TensorIteration it = et_iteration(n);
  op.iter_dims = it.dims;
  for (const auto& a : it.access)  // (kept only where an operand is walked across its stride)
    if (a.inner_stride > 1 || a.inner_stride < -1) {
      op.iter_access = std::move(it.access);
      break;
    }
  return op;
}

// A cycle in the ET's parent (ctrl_deps) chain is an error: a malformed trace must not hang us.
void check_parent_cycles(const CapturedStep& st, const std::unordered_map<std::int64_t, int>& by_id) {
  // Each node is walked once: up its parents until a root or a node already checked (state 2); a
  // node met again on the walk in progress (state 1) closes a cycle. O(nodes), whatever the depth.
  std::vector<char> state(st.ops.size(), 0);
  std::vector<size_t> path;
  for (size_t i = 0; i < st.ops.size(); ++i) {
    path.clear();
    size_t cur = i;
    while (state[cur] == 0) {
      state[cur] = 1;
      path.push_back(cur);
      std::int64_t p = st.ops[cur].parent;
      auto it = p == st.ops[cur].id ? by_id.end() : by_id.find(p);
      if (it == by_id.end()) break;
      cur = static_cast<size_t>(it->second);
      if (state[cur] == 1)
        throw make_error(st.et_path, "node " + std::to_string(st.ops[i].id) + " ctrl_deps", "cycle in parent (ctrl_deps) chain");
    }
    for (size_t k : path) state[k] = 2;
  }
}

// Puts the ET's ops in issue order (node id order) and links them: children of each parent (an
// unknown parent is an error), op_by_rf for the record function ids; then the cycle check.
void link_et_ops(CapturedStep& st) {
  std::vector<int> order(st.ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return st.ops[a].id < st.ops[b].id; });
  std::vector<EtOp> sorted;
  sorted.reserve(st.ops.size());
  for (int i : order) sorted.push_back(std::move(st.ops[i]));
  st.ops = std::move(sorted);
  std::unordered_map<std::int64_t, int> by_id;
  for (size_t i = 0; i < st.ops.size(); ++i) by_id[st.ops[i].id] = static_cast<int>(i);
  for (size_t i = 0; i < st.ops.size(); ++i) {
    auto& op = st.ops[i];
    // 0 (or the node itself) means no parent; any other id must be a node of the trace.
    if (op.parent != 0 && op.parent != op.id && !by_id.count(op.parent))
      throw make_error(st.et_path, "node " + std::to_string(op.id) + " ctrl_deps",
                       "parent " + std::to_string(op.parent) + " is not a node of the trace (truncated trace?)");
    if (op.parent != op.id && by_id.count(op.parent)) st.ops[by_id[op.parent]].children.push_back(static_cast<int>(i));
    if (op.rf_id >= 0 && !is_thread_root(op.name) && !is_process_root(op.name)) st.op_by_rf.insert_or_assign(st.op_by_rf.end(), op.rf_id, static_cast<int>(i));  // ids ascend: O(1) at the end
  }
  check_parent_cycles(st, by_id);
}

// Reads the Execution Trace into st.ops, linked (nodes are read one at a time as the file
// streams: a DOM of a large ET is gigabytes). Duplicate node ids are an error.
void read_execution_trace(CapturedStep& st) {
  std::unordered_set<std::int64_t> seen;
  auto on_node = [&](nlohmann::json&& node, size_t) {
    EtOp op = et_op_from_node(node, st.et_path);
    if (!seen.insert(op.id).second) throw make_error(st.et_path, "node " + std::to_string(op.id), "duplicate node id");
    st.ops.push_back(std::move(op));
  };
  nlohmann::json et = stream_json_file(st.et_path, "nodes", {}, on_node);
  if (!et.is_object() || !et.contains("nodes") || !et["nodes"].is_array())
    throw make_error(st.et_path, "nodes", "missing: not a PyTorch Execution Trace");
  link_et_ops(st);
}

// The Kineto events the reader keeps, by kind, and the profiled step's window (without a
// ProfilerStep annotation: everything).
struct KinetoEvents {
  EvList cpu, rt, gpu;  // cpu_op + user_annotation; cuda_runtime + cuda_driver; kernel + gpu_memcpy + gpu_memset
  double win0 = -1e300, win1 = 1e300;
  bool in_window(double ts) const { return ts >= win0 - 1e-9 && ts <= win1 + 1e-9; }
};

// The trace's metadata: the device name, and distributedInfo's world size, process groups and
// rank (which must be `rank` when the caller names one).
void read_kineto_metadata(const nlohmann::json& kt, int rank, CapturedStep& st) {
  if (kt.contains("deviceProperties") && kt["deviceProperties"].is_array() && !kt["deviceProperties"].empty() &&
      kt["deviceProperties"][0].is_object() && kt["deviceProperties"][0].contains("name") &&
      kt["deviceProperties"][0]["name"].is_string())
    st.device_name = kt["deviceProperties"][0]["name"].get<std::string>();
  if (!kt.contains("distributedInfo") || !kt["distributedInfo"].is_object()) return;
  const auto& di = kt["distributedInfo"];
  st.world_size = checked_int32(di.value("world_size", nlohmann::json(1)), 1, st.kineto_path, "distributedInfo.world_size");
  const auto& pgc = di.value("pg_config", nlohmann::json::array());
  if (pgc.is_array())
    for (auto& pg : pgc) {
      if (!pg.is_object() || !pg.contains("pg_name") || !pg.contains("ranks") || !pg["ranks"].is_array()) continue;
      std::vector<int> rk;
      for (auto& x : pg["ranks"])
        if (x.is_number()) rk.push_back(checked_int32(x, 0, st.kineto_path, "distributedInfo.pg_config[].ranks"));
      st.process_groups[pg["pg_name"].is_string() ? pg["pg_name"].get<std::string>() : pg["pg_name"].dump()] = rk;
    }
  if (rank < 0) st.rank = checked_int32(di.value("rank", nlohmann::json(0)), 0, st.kineto_path, "distributedInfo.rank");
  else if (di.contains("rank") && di["rank"] != rank)
    throw make_error(st.kineto_path, "distributedInfo.rank",
                     di["rank"].dump() + ", but the file is rank " + std::to_string(rank) + "'s");
}

// Streams the Kineto trace (each event is reduced to an Ev as it is read: a 1M-kernel trace has
// 3M events), sorts the events by kind, finds the first ProfilerStep window, reads the metadata.
void read_kineto(CapturedStep& st, bool kineto_only, int rank, KinetoEvents& ev) {
  bool have_step = false;
  double step_ts = 0, step_dur = 0;
  // Categories compared by interned identity (a pointer), not text: this runs per event.
  const Name cpu_op("cpu_op"), annotation("user_annotation"), runtime("cuda_runtime"), driver("cuda_driver"),
      kernel("kernel"), gpu_copy("gpu_memcpy"), gpu_set("gpu_memset");
  KinetoSax sax(kineto_only, [&](const KinetoSax& e) {
    Ev v;
    if (!read_kineto_event(e, v, kineto_only, st.kineto_path, st)) return;
    if (v.cat_ == cpu_op || v.cat_ == annotation) {
      if (v.cat_ == annotation && v.name().rfind("ProfilerStep#", 0) == 0 && !have_step) {
        have_step = true;
        step_ts = v.ts;
        step_dur = v.dur;
        st.step_name = v.name();
      }
      ev.cpu.push_back(std::move(v));
    } else if (v.cat_ == runtime || v.cat_ == driver) {
      ev.rt.push_back(std::move(v));
    } else if (v.cat_ == kernel || v.cat_ == gpu_copy || v.cat_ == gpu_set) {
      ev.gpu.push_back(std::move(v));
    }
  });
  nlohmann::json kt = stream_json_file(st.kineto_path, "traceEvents", sax);
  ingest_probe("kineto events read");
  if (!kt.is_object() || !kt.contains("traceEvents") || !kt["traceEvents"].is_array())
    throw make_error(st.kineto_path, "traceEvents", "missing: not a Kineto/Chrome trace");
  read_kineto_metadata(kt, rank, st);
  if (have_step) {
    ev.win0 = step_ts;
    ev.win1 = ev.win0 + step_dur;
    st.profiled_step_s = ev.win1 - ev.win0;
  }
}

std::int64_t rf_of(const Ev& c) { return arg_or(c.rf, -1); }

// The EtOp of a Kineto-only cpu event: record_shapes inputs, an output shaped like the largest
// input tensor (Kineto records none: right for elementwise ops and norms; GEMM costs use input
// shapes only), record_param_comms' attributes. Moves the event's extras out.
void take_kineto_extras(Ev& e, EtOp& op) {
  if (!e.x) return;
  op.inputs = std::move(e.x->inputs);
  const EtArg* big = nullptr;
  for (auto& in : op.inputs)
    if (in.is_tensor && (!big || in.numel > big->numel)) big = &in;
  if (big) op.outputs.push_back(*big);
  op.autograd_seq = e.x->autograd_seq;
  if (op.name == "record_param_comms") {
    op.collective_name = e.x->collective_name;
    op.pg_name = e.x->pg_name;
    op.comm_dtype = e.x->comm_dtype;
    op.in_msg_nelems = e.x->in_nelems;
    op.out_msg_nelems = e.x->out_nelems;
    op.pg_size = e.x->group_size;
  }
  e.x.reset();
}

// Kineto-only: the op tree from the cpu events. Process root 1, one thread root per host thread,
// then every cpu_op / user_annotation in time order (id order = issue order, as in an ET); parent =
// the innermost event of the same thread that encloses it (Kineto's X events nest), else the thread
// root. Record function ids name the ops (a synthetic one, written into the event's rf, where the
// trace has none: 1M-entry side tables cost more than the ops).
void ops_from_kineto(CapturedStep& st, EvList& evs) {
  std::vector<Ev*> order;
  for (auto& e : evs) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Ev* a, const Ev* b) {
    return a->ts != b->ts ? a->ts < b->ts : a->dur > b->dur;  // outer before inner
  });
  st.ops.reserve(st.ops.size() + evs.size() + 16);
  const auto base = static_cast<std::int64_t>(st.ops.size());
  std::int64_t next_id = 1;
  EtOp proc;
  proc.id = proc.parent = next_id++;
  proc.name = "[pytorch|profiler|execution_trace|process]";
  st.ops.push_back(proc);
  std::map<int, std::int64_t> thread_root;
  for (Ev* e : order)
    if (!thread_root.count(e->tid)) {
      EtOp t;
      t.id = next_id++;
      t.parent = proc.id;
      t.tid = e->tid;
      t.name = "[pytorch|profiler|execution_trace|thread]";
      thread_root[e->tid] = t.id;
      st.ops.push_back(t);
    }
  std::map<int, std::vector<std::pair<double, std::int64_t>>> open;  // tid -> (end, id) stack
  std::int64_t next_rf = 1;
  for (Ev* e : order) {
    std::int64_t rf = arg_or(e->rf, -1);
    if (rf >= 0 && rf < std::numeric_limits<std::int64_t>::max()) next_rf = std::max(next_rf, rf + 1);
  }
  for (Ev* e : order) {
    EtOp op;
    op.id = next_id++;
    op.name = e->name_;
    op.tid = e->tid;
    auto& stack = open[e->tid];
    const double end = e->ts + e->dur;
    while (!stack.empty() && stack.back().first < end - 1e-9) stack.pop_back();
    op.parent = stack.empty() ? thread_root[e->tid] : stack.back().second;
    stack.push_back({end, op.id});
    op.rf_id = arg_or(e->rf, -1);
    if (op.rf_id < 0) e->rf = op.rf_id = next_rf++;
    take_kineto_extras(*e, op);
    st.ops.push_back(std::move(op));
  }
  // Ids were given in order from 1: op id k is st.ops[base + k - 1] (no 1M-entry index).
  auto index_of = [&](std::int64_t id) -> std::int64_t { return id >= 1 && id < next_id ? base + id - 1 : -1; };
  for (size_t i = 0; i < st.ops.size(); ++i) {
    auto& op = st.ops[i];
    if (op.parent != op.id && index_of(op.parent) >= 0) st.ops[static_cast<size_t>(index_of(op.parent))].children.push_back(static_cast<int>(i));
    if (op.rf_id >= 0 && !is_thread_root(op.name) && !is_process_root(op.name)) st.op_by_rf.insert_or_assign(st.op_by_rf.end(), op.rf_id, static_cast<int>(i));  // ids ascend: O(1) at the end
  }
}

// The cpu events by External id (runtime calls name theirs) and by record function id (ET ops).
struct CpuIndex {
  std::unordered_map<std::int64_t, const Ev*> by_ext, by_rf;
};

CpuIndex index_cpu_events(const EvList& cpu) {
  CpuIndex ix;
  ix.by_ext.reserve(cpu.size());
  ix.by_rf.reserve(cpu.size());
  for (auto& c : cpu) {
    std::int64_t ext = arg_or(c.ext, -1);
    std::int64_t rf = rf_of(c);
    if (ext >= 0) ix.by_ext[ext] = &c;
    if (rf >= 0) ix.by_rf[rf] = &c;
  }
  return ix;
}

// rf_id consistency: ET and Kineto must come from the same run (the ops sharing a record
// function id must mostly share a name).
void check_et_matches_kineto(const CapturedStep& st, const CpuIndex& cpu) {
  size_t matched = 0, mismatched = 0;
  std::string example;
  for (auto& [rf, idx] : st.op_by_rf) {
    auto it = cpu.by_rf.find(rf);
    if (it == cpu.by_rf.end()) continue;
    if (it->second->name() == st.ops[idx].name) {
      ++matched;
    } else {
      ++mismatched;
      if (example.empty())
        example = "rf_id " + std::to_string(rf) + " is '" + st.ops[idx].name + "' in the ET but '" + it->second->name() + "' in Kineto";
    }
  }
  if (matched == 0 || mismatched * 10 > matched + mismatched)
    throw make_error(st.kineto_path, "Record function id",
                     "does not match " + fs::path(st.et_path).filename().string() +
                         ": ET and Kineto are from different runs (" +
                         (example.empty() ? std::string("no common rf_id") : example) + ")");
}

// Indexes of the top-level ops (children of ProfilerStep or a thread root) that start inside the
// step window.
std::vector<int> top_level_ops(const CapturedStep& st, const std::unordered_map<std::int64_t, int>& by_id,
                               const CpuIndex& cpu, const KinetoEvents& ev) {
  std::vector<int> top_ops;
  for (size_t i = 0; i < st.ops.size(); ++i) {
    const EtOp& op = st.ops[i];
    auto pit = by_id.find(op.parent);
    if (pit == by_id.end() || op.parent == op.id) continue;
    const EtOp& par = st.ops[pit->second];
    bool top = is_thread_root(par.name) || par.name.rfind("ProfilerStep#", 0) == 0;
    if (!top || op.name.rfind("ProfilerStep#", 0) == 0 || is_thread_root(op.name)) continue;
    auto kit = cpu.by_rf.find(op.rf_id);
    if (kit == cpu.by_rf.end() || !ev.in_window(kit->second->ts)) continue;
    top_ops.push_back(static_cast<int>(i));
  }
  return top_ops;
}

// Gives every op below a host item that item's index in top_of (walking up the parent chain).
// Each op is walked once: a walk stops at an op already resolved (under an item or under none).
void propagate_host_items(const CapturedStep& st, const std::unordered_map<std::int64_t, int>& by_id, std::vector<int>& top_of) {
  std::vector<char> resolved(st.ops.size(), 0);
  for (size_t i = 0; i < st.ops.size(); ++i)
    if (top_of[i] >= 0) resolved[i] = 1;
  std::vector<int> chain;
  for (size_t i = 0; i < st.ops.size(); ++i) {
    if (resolved[i]) continue;
    std::int64_t cur = st.ops[i].id;
    chain.clear();
    int found = -1;
    for (size_t steps = 0; steps <= st.ops.size(); ++steps) {
      auto it = by_id.find(cur);
      if (it == by_id.end()) break;
      if (resolved[static_cast<size_t>(it->second)]) { found = top_of[it->second]; break; }
      chain.push_back(it->second);
      std::int64_t p = st.ops[it->second].parent;
      if (p == cur) break;
      cur = p;
    }
    for (int c : chain) {
      top_of[c] = found;
      resolved[static_cast<size_t>(c)] = 1;
    }
  }
}

// st.host: one host item per top-level op inside the step, in start order (timed by its cpu
// event). Returns op index -> host item index for every op at or below one (-1: none).
std::vector<int> build_host_items(CapturedStep& st, const CpuIndex& cpu, const KinetoEvents& ev) {
  std::unordered_map<std::int64_t, int> by_id;
  by_id.reserve(st.ops.size());
  for (size_t i = 0; i < st.ops.size(); ++i) by_id[st.ops[i].id] = static_cast<int>(i);
  std::vector<int> top_of(st.ops.size(), -1);
  std::vector<int> top_ops = top_level_ops(st, by_id, cpu, ev);
  st.host.reserve(top_ops.size());
  for (int i : top_ops) {
    HostItem h;
    const Ev* k = cpu.by_rf.at(st.ops[i].rf_id);
    h.name = st.ops[i].name;
    h.tid = k->tid;
    h.trace_ts = k->ts;
    h.trace_dur = k->dur;
    h.op = i;
    st.host.push_back(std::move(h));
  }
  std::sort(st.host.begin(), st.host.end(), [](const HostItem& a, const HostItem& b) {
    return a.trace_ts != b.trace_ts ? a.trace_ts < b.trace_ts : a.op < b.op;
  });
  for (size_t h = 0; h < st.host.size(); ++h) top_of[st.host[h].op] = static_cast<int>(h);
  ingest_probe("host items");
  propagate_host_items(st, by_id, top_of);
  return top_of;
}

// Time containment, for runtime calls no External id places: the last host item of the call's
// thread that contains it. Per thread, the items in time order (st.host is sorted by start) and
// the running maximum of their ends: a binary search and a short walk back, not a scan of every
// item per call (quadratic on a trace with many such calls).
class ContainingItem {
 public:
  explicit ContainingItem(const std::vector<HostItem>& host) : host_(host) {
    for (size_t h = 0; h < host.size(); ++h) {
      const HostItem& it = host[h];
      auto& m = max_end_of_tid_[it.tid];
      items_of_tid_[it.tid].push_back(static_cast<int>(h));
      m.push_back(std::max(m.empty() ? -std::numeric_limits<double>::infinity() : m.back(), it.trace_ts + it.trace_dur));
    }
  }
  int operator()(const Ev& r) const {
    auto found = items_of_tid_.find(r.tid);
    if (found == items_of_tid_.end()) return -1;
    const std::vector<int>& v = found->second;
    const std::vector<double>& max_end = max_end_of_tid_.at(r.tid);
    size_t p = static_cast<size_t>(std::upper_bound(v.begin(), v.end(), r.ts, [&](double ts, int h) { return ts < host_[h].trace_ts; }) - v.begin());
    while (p > 0) {
      --p;
      if (max_end[p] < r.ts) break;  // no item up to here reaches the call
      const HostItem& it = host_[v[p]];
      if (r.ts <= it.trace_ts + it.trace_dur) return v[p];
    }
    return -1;
  }

 private:
  const std::vector<HostItem>& host_;
  std::map<int, std::vector<int>> items_of_tid_;
  std::map<int, std::vector<double>> max_end_of_tid_;
};

// The ET op of a runtime call (via its External id and the cpu event's record function id), -1: none.
int op_of_call(const Ev& r, const CapturedStep& st, const CpuIndex& cpu) {
  auto cit = cpu.by_ext.find(arg_or(r.ext, -1));
  if (cit == cpu.by_ext.end()) return -1;
  auto oit = st.op_by_rf.find(rf_of(*cit->second));
  return oit != st.op_by_rf.end() ? oit->second : -1;
}

// The GPU activity g that runtime call r launched (correlation `corr`). GPU work starts after its
// launch (5 us or more in real captures); a start before it means a corrupted timestamp, which
// would silently skew the capture's duty cycle: an error.
DeviceActivity device_activity(const Ev& g, const Ev& r, std::int64_t corr, const CapturedStep& st, const CpuIndex& cpu) {
  if (g.ts < r.ts - 100e-6)
    throw make_error(st.kineto_path, "traceEvents[] ts",
                     "GPU event '" + g.name().substr(0, 80) + "' (correlation " + std::to_string(corr) +
                         ") starts " + format_time(r.ts - g.ts) + " before its launch '" + r.name() + "'");
  DeviceActivity d;
  d.name = g.name_;
  d.kind = g.cat() == "kernel" ? DevKind::Kernel : g.cat() == "gpu_memcpy" ? DevKind::Memcpy : DevKind::Memset;
  d.stream = static_cast<int>(arg_or(g.stream, 0));
  d.trace_ts = g.ts;
  d.trace_dur = g.dur;
  d.correlation = corr;
  d.bytes = static_cast<double>(std::max<std::int64_t>(0, arg_or(g.bytes, 0)));
  if (d.kind == DevKind::Memcpy) {
    if (g.name().find("HtoD") != std::string::npos) d.copy_kind = "HtoD";
    else if (g.name().find("DtoH") != std::string::npos) d.copy_kind = "DtoH";
    else if (g.name().find("DtoD") != std::string::npos) d.copy_kind = "DtoD";
    else if (g.name().find("PtoP") != std::string::npos) d.copy_kind = "PtoP";
    else d.copy_kind = "HtoH";
    d.copy_pageable = g.name().find("Pageable") != std::string::npos;
  }
  d.grid = g.grid;
  d.block = g.block;
  int op = op_of_call(r, st, cpu);
  if (op >= 0) d.op = op;
  return d;
}

// The kind of a synchronisation or event runtime call, with its stream and awaited record; false
// for the other calls (their host cost is part of the op's cost).
bool sync_call_kind(const Ev& r, HostCall& call) {
  const std::string& n = r.name();
  if (n == "cudaDeviceSynchronize" || n == "cuCtxSynchronize") {
    call.kind = CallKind::DeviceSync;
  } else if (n == "cudaStreamSynchronize" || n == "cuStreamSynchronize") {
    call.kind = CallKind::StreamSync;
    call.stream = static_cast<int>(arg_or(r.stream, -1));
  } else if (n == "cudaEventSynchronize" || n == "cuEventSynchronize") {
    call.kind = CallKind::EventSync;
    call.wait_on_record = arg_or(r.wait, -1);
  } else if (n == "cudaEventRecord" || n == "cuEventRecord" || n == "cudaEventRecordWithFlags") {
    call.kind = CallKind::EventRecord;
    call.stream = static_cast<int>(arg_or(r.stream, -1));
  } else if (n == "cudaStreamWaitEvent" || n == "cuStreamWaitEvent") {
    call.kind = CallKind::StreamWaitEvent;
    call.stream = static_cast<int>(arg_or(r.stream, -1));
    call.wait_on_record = arg_or(r.wait, -1);
  } else {
    return false;
  }
  return true;
}

// Adds the runtime calls that no host item owns as items of their own, in start order among the
// others (stable: ties keep the owned items first).
void merge_loose_items(CapturedStep& st, std::vector<std::pair<double, HostItem>>& loose) {
  if (loose.empty()) return;
  for (auto& [ts, h] : loose) st.host.push_back(std::move(h));
  std::vector<size_t> idx(st.host.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return st.host[a].trace_ts < st.host[b].trace_ts; });
  std::vector<HostItem> sorted;
  for (size_t i : idx) sorted.push_back(std::move(st.host[i]));
  st.host = std::move(sorted);
}

// The runtime calls inside the step, in time order, on their host items: launches (with the GPU
// activity they launched, into st.device) and synchronisations. The owning item comes from the
// External id -> cpu_op -> ET op -> top-level item, else from time containment, else the call is
// an item of its own.
// A trace whose kernels and launches do not meet would replay as a step without GPU work: most
// launches without their kernel (GPU activity not recorded, or events dropped), or kernels in the
// step with no launch that placed them (runtime events not recorded). One line instead.
// A twentieth of the step's GPU activities unclaimed by any launch (CUDA graph nodes under an id of
// their own, say) is a replay missing that work: also one line.
void check_gpu_activity(const CapturedStep& st, const KinetoEvents& ev, long launches, long unmatched, long claimed) {
  if (launches > 0 && 2 * unmatched > launches)
    throw make_error(st.kineto_path, "traceEvents",
                     std::to_string(unmatched) + " of " + std::to_string(launches) +
                         " kernel launches in the step have no kernel event with their correlation id (GPU activity not "
                         "recorded, or dropped by the profiler)");
  long kernels = 0;
  for (auto& g : ev.gpu) kernels += ev.in_window(g.ts);
  if (kernels > 0 && st.device.empty())
    throw make_error(st.kineto_path, "traceEvents",
                     std::to_string(kernels) + " GPU activities in the step but no runtime call (cudaLaunchKernel ...) "
                                               "launched any of them (CUDA runtime events not recorded)");
  if (20 * (kernels - claimed) > kernels)
    throw make_error(st.kineto_path, "traceEvents",
                     std::to_string(kernels - claimed) + " of " + std::to_string(kernels) +
                         " GPU activities in the step have no runtime call with their correlation id: they would not "
                         "replay (CUDA runtime events not recorded, or graph nodes under ids of their own)");
}

// A correlation id names one runtime call, and one GPU activity at one time (a graph launch's
// nodes share its id, each at its own time): the same launch twice is a trace whose events were
// repeated (merged or concatenated files), which would replay each kernel as a two-node graph.
void check_unique_correlations(const CapturedStep& st, const KinetoEvents& ev,
                               const std::vector<std::pair<std::int64_t, const Ev*>>& gpu_by_corr) {
  for (std::size_t i = 1; i < gpu_by_corr.size(); ++i) {
    const Ev& a = *gpu_by_corr[i - 1].second;
    const Ev& b = *gpu_by_corr[i].second;
    if (gpu_by_corr[i].first == gpu_by_corr[i - 1].first && a.ts == b.ts && a.name_.str() == b.name_.str())
      throw make_error(st.kineto_path, "traceEvents",
                       "GPU event '" + b.name().substr(0, 80) + "' appears twice with correlation " +
                           std::to_string(gpu_by_corr[i].first) + " at the same time (events repeated in the trace)");
  }
  std::vector<std::pair<std::int64_t, const Ev*>> rt;
  for (const Ev& r : ev.rt)
    if (std::int64_t c = arg_or(r.corr, -1); c >= 0) rt.emplace_back(c, &r);
  std::sort(rt.begin(), rt.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < rt.size(); ++i)
    if (rt[i].first == rt[i - 1].first)
      throw make_error(st.kineto_path, "traceEvents",
                       "runtime calls '" + rt[i - 1].second->name().substr(0, 60) + "' and '" + rt[i].second->name().substr(0, 60) +
                           "' share correlation " + std::to_string(rt[i].first) + " (events repeated in the trace)");
}

void attach_runtime_calls(CapturedStep& st, const KinetoEvents& ev, const CpuIndex& cpu, const std::vector<int>& top_of) {
  // GPU activities by correlation id, then start: a CUDA graph launch's kernels all carry its id,
  // each a node of that launch (one flat sorted array: no allocation per id on a 1M-kernel trace)
  std::vector<std::pair<std::int64_t, const Ev*>> gpu_by_corr;
  gpu_by_corr.reserve(ev.gpu.size());
  for (auto& g : ev.gpu)
    if (std::int64_t c = arg_or(g.corr, -1); c >= 0) gpu_by_corr.emplace_back(c, &g);
  std::sort(gpu_by_corr.begin(), gpu_by_corr.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->ts < b.second->ts;
  });
  check_unique_correlations(st, ev, gpu_by_corr);
  auto launched_by = [&](std::int64_t c) {
    return std::equal_range(gpu_by_corr.begin(), gpu_by_corr.end(), std::pair<std::int64_t, const Ev*>(c, nullptr),
                            [](const auto& a, const auto& b) { return a.first < b.first; });
  };
  st.device.reserve(ev.gpu.size());
  // Sorted as pointers (the same comparisons, so the same order, without moving 3M events).
  std::vector<const Ev*> rt_order;
  rt_order.reserve(ev.rt.size());
  for (const Ev& r : ev.rt) rt_order.push_back(&r);
  std::sort(rt_order.begin(), rt_order.end(), [](const Ev* a, const Ev* b) { return a->ts < b->ts; });
  const ContainingItem containing_item(st.host);
  std::vector<std::pair<double, HostItem>> loose;
  ingest_probe("runtime call index");
  long launches = 0, unmatched = 0, claimed = 0;  // (claimed: GPU activities in the step a call launched)
  for (const Ev* rp : rt_order) {
    const Ev& r = *rp;
    if (!ev.in_window(r.ts)) continue;
    HostCall call;
    call.name = r.name_;
    call.trace_ts = r.ts;
    call.trace_dur = r.dur;
    call.correlation = arg_or(r.corr, -1);
    auto [g0, g1] = launched_by(call.correlation);
    const std::string& rn = r.name_.str();
    bool graph = rn.find("GraphLaunch") != std::string::npos || g1 - g0 > 1;
    bool launch = graph || rn.find("LaunchKernel") != std::string::npos;
    launches += launch;
    if (g0 == g1) {
      unmatched += launch;
      if (!sync_call_kind(r, call)) continue;
    }
    int op = op_of_call(r, st, cpu);
    int item = op >= 0 ? top_of[op] : -1;
    if (item < 0) item = containing_item(r);
    HostItem own;  // a call outside every item: an item of its own
    if (item >= 0) {
      const HostItem& h = st.host[item];
      call.frac = h.trace_dur > 0 ? std::clamp((r.ts - h.trace_ts) / h.trace_dur, 0.0, 1.0) : 0.0;
    } else {
      own.name = r.name_;
      own.tid = r.tid;
      own.trace_ts = r.ts;
      own.trace_dur = r.dur;
    }
    std::vector<HostCall>& calls = item >= 0 ? st.host[item].calls : own.calls;
    if (g0 == g1) calls.push_back(std::move(call));
    for (auto g = g0; g != g1; ++g) {  // a graph launch: one launch call per node, in start order
      calls.push_back(call);
      calls.back().kind = CallKind::Launch;
      calls.back().device = static_cast<int>(st.device.size());
      st.device.push_back(device_activity(*g->second, r, call.correlation, st, cpu));
      if (graph) st.device.back().graph_node = static_cast<int>(g - g0);
      claimed += ev.in_window(g->second->ts);
    }
    if (item < 0) loose.emplace_back(r.ts, std::move(own));
  }
  check_gpu_activity(st, ev, launches, unmatched, claimed);
  merge_loose_items(st, loose);
  for (auto& h : st.host)
    std::stable_sort(h.calls.begin(), h.calls.end(), [](const HostCall& a, const HostCall& b) { return a.trace_ts < b.trace_ts; });
}

// gloo's c10d ops run on the host and nest by record-function parents that only the ET keeps:
// grouped by time nesting instead, a multi-rank step came out 37 % shorter (multirank_gloo4).
// So a Kineto-only multi-rank bundle with a gloo collective is an error.
void check_no_kineto_only_gloo(const CapturedStep& st) {
  for (auto& c : st.collectives)
    if (st.ops[c.op].name.rfind("c10d::", 0) == 0)
      throw make_error(st.kineto_path, st.ops[c.op].name,
                       "a gloo collective: a multi-rank replay of gloo traces needs the Execution Traces "
                       "(et.<rank>.json); Kineto-only multi-rank replay supports NCCL (record_param_comms)");
}

// measured.json next to the traces (ground truth only), checked; absent: st.has_measured false.
void read_measured(const std::string& dir, CapturedStep& st) {
  st.measured_path = (fs::path(dir) / "measured.json").string();
  if (std::error_code ec; fs::exists(st.measured_path, ec)) {
    st.measured = read_json_file(st.measured_path);
    check_measured(st.measured, st.measured_path);
    st.has_measured = true;
  } else {
    st.measured_path.clear();
  }
}

// host_dispatch.json next to the traces: the capture host's dispatch table, checked; absent: empty.
void read_host_table(const std::string& dir, CapturedStep& st) {
  std::string path = (fs::path(dir) / "host_dispatch.json").string();
  if (std::error_code ec; !fs::exists(path, ec)) return;
  st.host_dispatch = read_host_dispatch_file(path);
  st.host_dispatch_path = path;
}

// Kineto events to host items, runtime calls and device activities; the events and their
// indexes are freed before returning (the replay allocates its own next).
void host_and_device_from_kineto(CapturedStep& st, bool kineto_only, KinetoEvents& ev) {
  if (kineto_only) ops_from_kineto(st, ev.cpu);
  ingest_probe("ops built");
  CpuIndex cpu = index_cpu_events(ev.cpu);
  if (!kineto_only) check_et_matches_kineto(st, cpu);
  std::vector<int> top_of = build_host_items(st, cpu, ev);
  attach_runtime_calls(st, ev, cpu, top_of);
  for (auto* v : {&ev.cpu, &ev.rt, &ev.gpu}) v->clear();
  for (auto* m : {&cpu.by_ext, &cpu.by_rf}) std::unordered_map<std::int64_t, const Ev*>().swap(*m);
#ifdef __GLIBC__
  malloc_trim(0);  // hands the freed pages back: the replay's own allocations come next
#endif
  ingest_probe("runtime calls, events freed");
}

// A capture's kernels took time: a trace whose kernels mostly last 0 us (a converter that dropped
// the durations) would replay its measured mode as an idle GPU. One zero among many is CUPTI
// rounding; half of them is not a capture.
void check_kernel_durations(const CapturedStep& st) {
  std::size_t kernels = 0, zero = 0;
  for (const auto& d : st.device)
    if (d.kind == DevKind::Kernel) ++kernels, zero += !(d.trace_dur > 0);
  if (kernels >= 2 && 2 * zero >= kernels)
    throw make_error(st.kineto_path, "traceEvents[] dur",
                     std::to_string(zero) + " of the step's " + std::to_string(kernels) +
                         " kernels last 0 us: the trace has lost its kernel durations");
}

}  // namespace

CapturedStep load_bundle(const std::string& dir, int rank) {
  CapturedStep st;
  locate_bundle_files(dir, rank, st);
  const bool kineto_only = st.et_path.empty();
  std::string parsing = kineto_only ? st.kineto_path : st.et_path;  // for type errors deep inside
  try {
    if (!kineto_only) read_execution_trace(st);
    parsing = st.kineto_path;
    {
      KinetoEvents ev;
      read_kineto(st, kineto_only, rank, ev);
      host_and_device_from_kineto(st, kineto_only, ev);
    }
    find_collectives(st, parsing);
    check_kernel_durations(st);
    if (kineto_only && rank >= 0) check_no_kineto_only_gloo(st);
    st.peak_memory_bytes = peak_memory_from_lifetimes(st);
    ingest_probe("collectives, peak memory");
    read_measured(dir, st);
    read_host_table(dir, st);
    if (st.host.empty())
      throw make_error(kineto_only ? st.kineto_path : st.et_path, kineto_only ? "traceEvents" : "nodes",
                       "no host operations found inside the profiled step");
  } catch (const nlohmann::json::exception& e) {
    // A field of the wrong type somewhere the reader did not check one by one.
    std::string what = e.what();
    auto b = what.find("] ");
    throw make_error(parsing, "", "malformed trace: " + (b == std::string::npos ? what : what.substr(b + 2)));
  }
  return st;
}

}  // namespace orrery
