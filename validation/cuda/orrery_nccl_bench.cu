// orrery_nccl_bench: NCCL collectives over all visible GPUs of one node (one process, one thread,
// ncclCommInitAll), printed as an nccl-tests table so `orrery validate --nccl-tests` reads it back.
//
// usage: orrery_nccl_bench [--op all_reduce|all_gather|reduce_scatter|alltoall|broadcast|reduce|sendrecv]
//                          [-b 8] [-e 8G] [-f 2] [-w 5] [-n 20] [-d float|half|bfloat16] [-g NGPUS]
//                          [--json FILE]
// Sizes follow nccl-tests: all_gather's size is the total output, reduce_scatter's the total input,
// the others' the per-rank buffer. Times: host wall clock around `-n` back-to-back group launches,
// after `-w` warm-ups, divided by n (as nccl-tests). Data are not checked: #wrong prints N/A.
#include <nccl.h>

#include <cstdint>
#include <cstring>

#include "common.h"

namespace {

using om::J;

void check_nccl(ncclResult_t r, const char* what, const char* file, int line) {
  if (r != ncclSuccess) {
    std::fprintf(stderr, "%s:%d: %s: %s\n", file, line, what, ncclGetErrorString(r));
    std::exit(1);
  }
}
#define CKN(x) check_nccl((x), #x, __FILE__, __LINE__)

size_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string u = end ? std::string(end) : "";
  if (u == "K" || u == "k") v *= 1024.0;
  else if (u == "M" || u == "m") v *= 1024.0 * 1024;
  else if (u == "G" || u == "g") v *= 1024.0 * 1024 * 1024;
  else if (!u.empty()) {
    std::fprintf(stderr, "orrery_nccl_bench: bad size '%s' (8, 8K, 8M, 8G)\n", s.c_str());
    std::exit(2);
  }
  return static_cast<size_t>(v);
}

struct Opts {
  std::string op = "all_reduce";
  size_t minb = 8, maxb = size_t(1) << 30;
  double factor = 2;
  int warmup = 5, iters = 20, ngpus = 0;
  std::string dtype = "float";
  std::string json;
};

double busbw_factor(const std::string& op, int n) {
  if (op == "all_reduce") return 2.0 * (n - 1) / n;
  if (op == "all_gather" || op == "reduce_scatter" || op == "alltoall") return double(n - 1) / n;
  return 1.0;
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "orrery_nccl_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--op" || a == "-c") o.op = next();
    else if (a == "-b" || a == "--minbytes") o.minb = parse_size(next());
    else if (a == "-e" || a == "--maxbytes") o.maxb = parse_size(next());
    else if (a == "-f" || a == "--stepfactor") o.factor = std::atof(next().c_str());
    else if (a == "-w" || a == "--warmup_iters") o.warmup = std::atoi(next().c_str());
    else if (a == "-n" || a == "--iters") o.iters = std::max(1, std::atoi(next().c_str()));
    else if (a == "-d" || a == "--datatype") o.dtype = next();
    else if (a == "-g" || a == "--ngpus") o.ngpus = std::atoi(next().c_str());
    else if (a == "--json") o.json = next();
    else {
      std::fprintf(stderr, "usage: orrery_nccl_bench [--op OP] [-b 8] [-e 1G] [-f 2] [-w 5] [-n 20] [-d float] [-g N] [--json FILE]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  static const char* ops[] = {"all_reduce", "all_gather", "reduce_scatter", "alltoall", "broadcast", "reduce", "sendrecv"};
  bool known = false;
  for (auto* k : ops) known |= o.op == k;
  if (!known) {
    std::fprintf(stderr, "orrery_nccl_bench: unknown --op %s\n", o.op.c_str());
    return 2;
  }
  if (o.factor <= 1) {
    std::fprintf(stderr, "orrery_nccl_bench: -f must be > 1\n");
    return 2;
  }
  ncclDataType_t nt;
  size_t ts;
  if (o.dtype == "float") nt = ncclFloat32, ts = 4;
  else if (o.dtype == "half") nt = ncclFloat16, ts = 2;
  else if (o.dtype == "bfloat16") nt = ncclBfloat16, ts = 2;
  else {
    std::fprintf(stderr, "orrery_nccl_bench: -d float|half|bfloat16\n");
    return 2;
  }
  int visible = 0;
  CK(cudaGetDeviceCount(&visible));
  int n = o.ngpus > 0 ? std::min(o.ngpus, visible) : visible;
  if (n < 1) {
    std::fprintf(stderr, "orrery_nccl_bench: no GPU\n");
    return 1;
  }
  if (o.op == "sendrecv" && n < 2) {
    std::fprintf(stderr, "orrery_nccl_bench: sendrecv needs two GPUs\n");
    return 1;
  }
  bool per_rank_split = o.op == "all_gather" || o.op == "reduce_scatter" || o.op == "alltoall";
  size_t align = per_rank_split ? ts * n : ts;
  std::vector<size_t> sizes;
  for (double s = double(o.minb); s <= double(o.maxb) * (1 + 1e-12); s *= o.factor) {
    size_t v = std::max(align, static_cast<size_t>(s) / align * align);
    if (sizes.empty() || sizes.back() != v) sizes.push_back(v);
  }
  size_t maxb = sizes.back();

  std::vector<int> devs(n);
  for (int r = 0; r < n; ++r) devs[r] = r;
  std::vector<ncclComm_t> comms(n);
  CKN(ncclCommInitAll(comms.data(), n, devs.data()));
  std::vector<cudaStream_t> streams(n);
  std::vector<void*> sendb(n), recvb(n);
  for (int r = 0; r < n; ++r) {
    CK(cudaSetDevice(r));
    CK(cudaStreamCreateWithFlags(&streams[r], cudaStreamNonBlocking));
    CK(cudaMalloc(&sendb[r], maxb));
    CK(cudaMalloc(&recvb[r], maxb));
    CK(cudaMemset(sendb[r], 0, maxb));
    CK(cudaMemset(recvb[r], 0, maxb));
  }
  int nccl_version = 0;
  ncclGetVersion(&nccl_version);

  auto run_once = [&](size_t bytes, bool in_place) {
    CKN(ncclGroupStart());
    for (int r = 0; r < n; ++r) {
      char* sb = static_cast<char*>(in_place ? recvb[r] : sendb[r]);
      char* rb = static_cast<char*>(recvb[r]);
      if (o.op == "all_reduce") {
        CKN(ncclAllReduce(sb, rb, bytes / ts, nt, ncclSum, comms[r], streams[r]));
      } else if (o.op == "all_gather") {
        size_t per = bytes / n;
        CKN(ncclAllGather(in_place ? rb + r * per : sb, rb, per / ts, nt, comms[r], streams[r]));
      } else if (o.op == "reduce_scatter") {
        size_t per = bytes / n;
        CKN(ncclReduceScatter(sb, in_place ? rb + r * per : rb, per / ts, nt, ncclSum, comms[r], streams[r]));
      } else if (o.op == "broadcast") {
        CKN(ncclBroadcast(sb, rb, bytes / ts, nt, 0, comms[r], streams[r]));
      } else if (o.op == "reduce") {
        CKN(ncclReduce(sb, rb, bytes / ts, nt, ncclSum, 0, comms[r], streams[r]));
      } else if (o.op == "alltoall") {
        size_t per = bytes / n;
        for (int p = 0; p < n; ++p) {
          CKN(ncclSend(static_cast<char*>(sendb[r]) + p * per, per / ts, nt, p, comms[r], streams[r]));
          CKN(ncclRecv(rb + p * per, per / ts, nt, p, comms[r], streams[r]));
        }
      } else if (o.op == "sendrecv") {
        CKN(ncclSend(static_cast<char*>(sendb[r]), bytes / ts, nt, (r + 1) % n, comms[r], streams[r]));
        CKN(ncclRecv(rb, bytes / ts, nt, (r - 1 + n) % n, comms[r], streams[r]));
      }
    }
    CKN(ncclGroupEnd());
  };
  auto sync_all = [&]() {
    for (int r = 0; r < n; ++r) {
      CK(cudaSetDevice(r));
      CK(cudaStreamSynchronize(streams[r]));
    }
  };
  auto time_us = [&](size_t bytes, bool in_place) {
    for (int w = 0; w < o.warmup; ++w) run_once(bytes, in_place);
    sync_all();
    double t0 = om::now_us();
    for (int it = 0; it < o.iters; ++it) run_once(bytes, in_place);
    sync_all();
    return (om::now_us() - t0) / o.iters;
  };

  // nccl-tests header.
  std::printf("# nThread 1 nGpus %d minBytes %zu maxBytes %zu step: %g(factor) warmup iters: %d iters: %d agg iters: 1 validation: 0 graph: 0\n",
              n, o.minb, o.maxb, o.factor, o.warmup, o.iters);
  std::printf("#\n# Collective test starting: %s_perf\n", o.op.c_str());
  std::printf("# orrery_nccl_bench (validation/cuda) nccl-library=%d\n", nccl_version);
  std::printf("# Using devices\n");
  std::string host = om::hostname();
  J devices = J::array();
  for (int r = 0; r < n; ++r) {
    cudaDeviceProp p{};
    CK(cudaGetDeviceProperties(&p, r));
    std::printf("#  Rank %2d Group  0 Pid %6d on %10s device %2d [0x%02x] %s\n", r, static_cast<int>(getpid()), host.c_str(), r,
                p.pciBusID, p.name);
    devices.push(std::string(p.name));
  }
  std::printf("#\n");
  std::printf("#                                                              out-of-place                       in-place          \n");
  std::printf("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n");
  std::printf("#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)       \n");
  const char* redop = (o.op == "all_reduce" || o.op == "reduce_scatter" || o.op == "reduce") ? "sum" : "none";
  int root = (o.op == "broadcast" || o.op == "reduce") ? 0 : -1;
  bool has_in_place = o.op != "alltoall" && o.op != "sendrecv";
  double fac = busbw_factor(o.op, n);
  double bus_sum = 0;
  int bus_n = 0;
  J rows = J::array();
  auto tstr = [](double t) {
    char b[32];
    if (t < 10000) std::snprintf(b, sizeof b, "%7.2f", t);
    else if (t < 100000) std::snprintf(b, sizeof b, "%7.1f", t);
    else std::snprintf(b, sizeof b, "%7.0f", t);
    return std::string(b);
  };
  for (size_t bytes : sizes) {
    size_t count = bytes / ts / (per_rank_split ? n : 1);
    double t_out = time_us(bytes, false);
    double alg = bytes / t_out / 1e3, bus = alg * fac;
    std::printf("%12zu  %12zu  %8s  %6s  %6d  %7s  %6.2f  %6.2f  %6s", bytes, count, o.dtype.c_str(), redop, root,
                tstr(t_out).c_str(), alg, bus, "N/A");
    bus_sum += bus;
    ++bus_n;
    J row = J::object();
    row["bytes"] = static_cast<unsigned long long>(bytes);
    row["count"] = static_cast<unsigned long long>(count);
    row["time_us"] = t_out;
    row["algbw_gbps"] = alg;
    row["busbw_gbps"] = bus;
    if (has_in_place) {
      double t_in = time_us(bytes, true);
      double alg_in = bytes / t_in / 1e3, bus_in = alg_in * fac;
      std::printf("  %7s  %6.2f  %6.2f  %6s\n", tstr(t_in).c_str(), alg_in, bus_in, "N/A");
      bus_sum += bus_in;
      ++bus_n;
      row["time_us_in_place"] = t_in;
      row["busbw_gbps_in_place"] = bus_in;
    } else {
      std::printf("  %7s  %6s  %6s  %6s\n", "N/A", "N/A", "N/A", "N/A");
    }
    std::fflush(stdout);
    rows.push(row);
  }
  std::printf("# Out of bounds values : 0 OK\n");
  std::printf("# Avg bus bandwidth    : %g \n#\n", bus_n ? bus_sum / bus_n : 0.0);

  if (!o.json.empty()) {
    J root_j = J::object();
    root_j["format"] = "orrery-nccl/1";
    J env = om::environment(0, argc, argv);
    env["nccl"] = std::to_string(nccl_version / 10000) + "." + std::to_string((nccl_version / 100) % 100) + "." +
                  std::to_string(nccl_version % 100);
    env["gpus"] = n;
    env["devices"] = devices;
    root_j["env"] = env;
    root_j["collective"] = o.op;
    root_j["dtype"] = o.dtype;
    root_j["method"] = "host wall clock around -n back-to-back ncclGroupStart/End launches on every GPU after -w warm-ups, / n";
    root_j["rows"] = rows;
    om::write_file(o.json, root_j.dump(1) + "\n");
  }
  for (int r = 0; r < n; ++r) {
    CK(cudaSetDevice(r));
    CK(cudaFree(sendb[r]));
    CK(cudaFree(recvb[r]));
    CK(cudaStreamDestroy(streams[r]));
    ncclCommDestroy(comms[r]);
  }
  return 0;
}
