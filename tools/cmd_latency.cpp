// `orrery latency`: on-device latency of one request (or one batch) with its kernel breakdown;
// the same as `orrery serve --single`.
#include <string>
#include <vector>

#include "tools/command.h"

namespace orrery::cli {
int serve_main(const std::vector<std::string>& args);

namespace {
Register reg("latency", "latency of one LLM request or batch on one device (= serve --single), with its breakdown",
             [](const std::vector<std::string>& args) {
               std::vector<std::string> a = args;
               a.push_back("--single");
               return serve_main(a);
             });
}  // namespace
}  // namespace orrery::cli
