// Fuzz target: a system description (system.json): the fabric loader (topology + collective
// tuner) and the training loader (GPU preset, closed-form parameters) both read it.
#include "fuzz/fuzz_support.h"
#include "topology/topology.h"
#include "workloads/train.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_file("system.json", data, size, [](const std::string& path) { orrery::topo::load_system(path); });
  orrery_fuzz::on_file("system.json", data, size, [](const std::string& path) { orrery::load_system(path, 0); });
  return 0;
}
