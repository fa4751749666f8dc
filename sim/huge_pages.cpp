// Re-execution with glibc's huge-page heap (sim/huge_pages.h).
#include "sim/huge_pages.h"

#include <cstdlib>
#include <fstream>
#include <string>

#if defined(__linux__) && defined(__GLIBC__)
#include <unistd.h>
#endif

namespace orrery {

void reexec_with_huge_pages(char** argv) {
#if defined(__linux__) && defined(__GLIBC__)
  if (std::getenv("ORRERY_NO_HUGE_PAGES") || std::getenv("GLIBC_TUNABLES")) return;
  std::string mode;
  std::getline(std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled"), mode);
  if (mode.empty() || mode.find("[never]") != std::string::npos) return;
  if (setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("GLIBC_TUNABLES");  // exec failed: run on as started
#else
  (void)argv;
#endif
}

}  // namespace orrery
