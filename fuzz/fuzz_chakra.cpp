// Fuzz target: a Chakra execution trace (protobuf, length-delimited) -> read_chakra.
#include "fuzz/fuzz_support.h"
#include "workloads/chakra.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_file("trace.0.et", data, size, [](const std::string& path) { orrery::read_chakra(path); });
  return 0;
}
