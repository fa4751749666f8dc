// `orrery describe`: every component's parameters with unit, default and description.
#include <cstdio>

#include "sim/params.h"
#include "tools/command.h"

namespace orrery::cli {
namespace {
Register reg("describe", "list every component's parameters (unit, default, description)",
             [](const std::vector<std::string>& args) {
               Args a(args, {}, {});
               std::string only = a.positional().empty() ? "" : a.positional()[0];
               bool any = false;
               for (const ParamSet* s : all_param_sets()) {
                 if (!only.empty() && s->component() != only) continue;
                 std::printf("%s\n", s->describe().c_str());
                 any = true;
               }
               if (!any) {
                 std::fprintf(stderr, "orrery describe: unknown component '%s'\n", only.c_str());
                 return 1;
               }
               return 0;
             });
}  // namespace
}  // namespace orrery::cli
