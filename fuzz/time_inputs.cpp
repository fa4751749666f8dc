// Times a fuzz harness per input (not built by CMake; docs/robustness.md "Fuzz harness speed"):
// calls LLVMFuzzerTestOneInput REPS times (env, default 1) on each file given and prints the mean
// CPU time per call and the slowest files. CPU time, not wall time: the shared machine's load
// stretches wall time. Link it in place of libFuzzer's main, from a fuzz build directory B:
//   clang++ -O2 -fsanitize=address,undefined -fsanitize=fuzzer-no-link -Wl,--undefined=sc_main \
//     B/fuzz/CMakeFiles/fuzz_T.dir/fuzz_T.cpp.o fuzz/time_inputs.cpp -o time_T \
//     B/fuzz/liborrery_cli_for_fuzz.a B/liborrery_lib.a -lsystemc -lboost_graph -lboost_regex -lz -lprotobuf
//   ASAN_OPTIONS=detect_leaks=0 REPS=2 ./time_T B/corpus/T/*
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int*, char***);

namespace {
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  const int reps = std::getenv("REPS") ? std::max(1, std::atoi(std::getenv("REPS"))) : 1;
  std::vector<std::pair<double, std::string>> times;  // CPU seconds per call, file
  double total = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string d = ss.str();
    const double a = cpu_now();
    for (int r = 0; r < reps; ++r) LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(d.data()), d.size());
    const double s = (cpu_now() - a) / reps;
    total += s;
    times.emplace_back(s, argv[i]);
  }
  std::sort(times.rbegin(), times.rend());
  std::printf("%d inputs, mean %.3f ms\n", argc - 1, argc > 1 ? 1e3 * total / (argc - 1) : 0.0);
  for (std::size_t i = 0; i < 8 && i < times.size(); ++i) std::printf("  %.1f ms %s\n", 1e3 * times[i].first, times[i].second.c_str());
  return 0;
}
