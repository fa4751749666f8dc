#pragma once
// Transparent huge pages for the CLI's heap (issue 10: a 1M-kernel replay allocates about 1.8 GB
// in small blocks; with 4 KiB pages about a quarter of its CPU time went to page faults and TLB
// misses). glibc backs its heap with huge pages when the tunable glibc.malloc.hugetlb=1 is set,
// and reads tunables only at process start, so main() re-executes the binary once with it set.
namespace orrery {

// Re-executes /proc/self/exe with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 when: Linux with glibc,
// the kernel's transparent huge pages are not "never", GLIBC_TUNABLES is not already set, and
// ORRERY_NO_HUGE_PAGES is not set. Returns (the process runs on as started) otherwise or when the
// exec fails. Call first thing in main(), before any thread starts.
void reexec_with_huge_pages(char** argv);

}  // namespace orrery
