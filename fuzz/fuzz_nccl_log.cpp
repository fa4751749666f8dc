// Fuzz target: an nccl-tests output log -> parse_nccl_tests_text.
#include "fuzz/fuzz_support.h"
#include "validation/nccl_tests_log.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_text(data, size, [](const std::string& text) { orrery::parse_nccl_tests_text(text, "fuzz.log"); });
  return 0;
}
