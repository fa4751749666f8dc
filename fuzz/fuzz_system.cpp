// Fuzz target: a system description (system.json): the fabric loader (topology + collective
// tuner) and the training loader (GPU preset, closed-form parameters) both read it.
#include "fuzz/fuzz_support.h"
#include "topology/topology.h"
#include "workloads/train.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Written once, read by both loaders (the second write of the same bytes was a fifth of the time).
  const std::string path = orrery_fuzz::write_file("system.json", data, size);
  orrery_fuzz::on_path(path, [](const std::string& p) { orrery::topo::load_system(p); });
  orrery_fuzz::on_path(path, [](const std::string& p) { orrery::load_system_spec(p, 0); });
  return 0;
}

// Topologies capped at 1024 GPUs and 65536 cables here: the 17,920-chip torus a mutation of the
// tpu-v5p-pod seed asks for took 1.3 s under ASan, a thousand times a typical input, and dominated
// the campaign. Every builder and check still runs on every input; only the bound is lower. The
// real limits (262144 GPUs, 2^23 cables) are tested in tests/topology_test.cpp.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  orrery::topo::size_limits() = {1024, 65536};
  return 0;
}
