// Shared helpers of the orrery CUDA microbenchmarks: error checks, a small JSON writer, statistics,
// and the environment record (device, driver, runtime, clocks, library versions).
#pragma once
#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#ifdef ORRERY_HAVE_NVML
#include <nvml.h>
#endif

namespace om {

inline void check_cuda(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s:%d: %s: %s\n", file, line, what, cudaGetErrorString(e));
    std::exit(1);
  }
}
#define CK(x) ::om::check_cuda((x), #x, __FILE__, __LINE__)

// ---- a minimal JSON value (objects keep insertion order) -----------------------------------------
class J {
 public:
  enum Kind { Null, Num, Int, Str, Bool, Arr, Obj };
  J() : k_(Null) {}
  J(double v) : k_(Num), d_(v) {}
  J(int v) : k_(Int), i_(v) {}
  J(long v) : k_(Int), i_(v) {}
  J(long long v) : k_(Int), i_(v) {}
  J(unsigned long v) : k_(Int), i_(static_cast<long long>(v)) {}
  J(unsigned long long v) : k_(Int), i_(static_cast<long long>(v)) {}
  J(bool v) : k_(Bool), b_(v) {}
  J(const char* s) : k_(Str), s_(s) {}
  J(const std::string& s) : k_(Str), s_(s) {}
  static J array() { J j; j.k_ = Arr; return j; }
  static J object() { J j; j.k_ = Obj; return j; }
  J& operator[](const std::string& key) {
    if (k_ == Null) k_ = Obj;
    for (auto& kv : o_)
      if (kv.first == key) return kv.second;
    o_.emplace_back(key, J());
    return o_.back().second;
  }
  void push(const J& v) {
    if (k_ == Null) k_ = Arr;
    a_.push_back(v);
  }
  size_t size() const { return k_ == Arr ? a_.size() : o_.size(); }
  std::string dump(int indent = 1, int level = 0) const {
    std::ostringstream os;
    write(os, indent, level);
    return os.str();
  }

 private:
  static void esc(std::ostream& os, const std::string& s) {
    os << '"';
    for (unsigned char c : s) {
      if (c == '"') os << "\\\"";
      else if (c == '\\') os << "\\\\";
      else if (c == '\n') os << "\\n";
      else if (c == '\t') os << "\\t";
      else if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); os << b; }
      else os << c;
    }
    os << '"';
  }
  void write(std::ostream& os, int ind, int lvl) const {
    std::string pad(static_cast<size_t>(ind * (lvl + 1)), ' '), pad0(static_cast<size_t>(ind * lvl), ' ');
    switch (k_) {
      case Null: os << "null"; break;
      case Bool: os << (b_ ? "true" : "false"); break;
      case Int: os << i_; break;
      case Num: {
        if (!std::isfinite(d_)) { os << "null"; break; }
        char b[40];
        std::snprintf(b, sizeof b, "%.9g", d_);
        os << b;
        break;
      }
      case Str: esc(os, s_); break;
      case Arr:
        if (a_.empty()) { os << "[]"; break; }
        os << "[\n";
        for (size_t i = 0; i < a_.size(); ++i) {
          os << pad;
          a_[i].write(os, ind, lvl + 1);
          os << (i + 1 < a_.size() ? ",\n" : "\n");
        }
        os << pad0 << "]";
        break;
      case Obj:
        if (o_.empty()) { os << "{}"; break; }
        os << "{\n";
        for (size_t i = 0; i < o_.size(); ++i) {
          os << pad;
          esc(os, o_[i].first);
          os << ": ";
          o_[i].second.write(os, ind, lvl + 1);
          os << (i + 1 < o_.size() ? ",\n" : "\n");
        }
        os << pad0 << "}";
        break;
    }
  }
  Kind k_;
  double d_ = 0;
  long long i_ = 0;
  bool b_ = false;
  std::string s_;
  std::vector<J> a_;
  std::vector<std::pair<std::string, J>> o_;
};

// ---- statistics -------------------------------------------------------------------------------------
struct Stats {
  double median = 0, min = 0, max = 0;
  int n = 0;
};
inline Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = static_cast<int>(v.size());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  return s;
}

inline double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::string version_string(int v) {  // 13000 -> "13.0"
  char b[32];
  std::snprintf(b, sizeof b, "%d.%d", v / 1000, (v % 1000) / 10);
  return b;
}

inline std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char b[64];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

inline std::string hostname() {
  char b[256] = {0};
  gethostname(b, sizeof b - 1);
  return b;
}

// Device, driver, runtime and clocks of `dev`. Library versions are added by the caller.
inline J environment(int dev, int argc, char** argv) {
  J env = J::object();
  cudaDeviceProp p{};
  CK(cudaGetDeviceProperties(&p, dev));
  env["device"] = p.name;
  env["device_index"] = dev;
  char bus[32] = {0};
  if (cudaDeviceGetPCIBusId(bus, sizeof bus, dev) == cudaSuccess) env["pci_bus_id"] = bus;
  env["cc"] = std::to_string(p.major) + "." + std::to_string(p.minor);
  env["sm_count"] = p.multiProcessorCount;
  env["hbm_bytes"] = static_cast<unsigned long long>(p.totalGlobalMem);
  env["l2_bytes"] = p.l2CacheSize;
  int v = 0;
  CK(cudaDriverGetVersion(&v));
  env["cuda_driver_api"] = version_string(v);
  CK(cudaRuntimeGetVersion(&v));
  env["cuda_runtime"] = version_string(v);
  J clocks = J::object();
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev) == cudaSuccess) clocks["max_sm"] = khz / 1000;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, dev) == cudaSuccess) clocks["max_mem"] = khz / 1000;
  int bw = 0;
  if (cudaDeviceGetAttribute(&bw, cudaDevAttrGlobalMemoryBusWidth, dev) == cudaSuccess) env["memory_bus_width_bits"] = bw;
#ifdef ORRERY_HAVE_NVML
  if (nvmlInit_v2() == NVML_SUCCESS) {
    char drv[96] = {0};
    if (nvmlSystemGetDriverVersion(drv, sizeof drv) == NVML_SUCCESS) env["driver_version"] = drv;
    nvmlDevice_t h;
    if (nvmlDeviceGetHandleByPciBusId_v2(bus, &h) == NVML_SUCCESS) {
      unsigned int c = 0;
      if (nvmlDeviceGetClockInfo(h, NVML_CLOCK_SM, &c) == NVML_SUCCESS) clocks["sm"] = static_cast<int>(c);
      if (nvmlDeviceGetClockInfo(h, NVML_CLOCK_MEM, &c) == NVML_SUCCESS) clocks["mem"] = static_cast<int>(c);
      if (nvmlDeviceGetMaxClockInfo(h, NVML_CLOCK_SM, &c) == NVML_SUCCESS) clocks["max_sm"] = static_cast<int>(c);
      if (nvmlDeviceGetMaxClockInfo(h, NVML_CLOCK_MEM, &c) == NVML_SUCCESS) clocks["max_mem"] = static_cast<int>(c);
      unsigned int mw = 0;
      if (nvmlDeviceGetPowerManagementLimit(h, &mw) == NVML_SUCCESS) env["power_limit_w"] = mw / 1000.0;
    }
    nvmlShutdown();
  }
#else
  env["driver_version"] = "unknown (built without NVML; see nvidia-smi)";
#endif
  env["clocks_mhz"] = clocks;
  env["hostname"] = hostname();
  env["timestamp_utc"] = utc_now();
  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  env["command"] = cmd;
  return env;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream o(path);
  if (!o) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
  o << text;
}

}  // namespace om
