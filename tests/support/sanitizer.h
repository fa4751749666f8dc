#pragma once
// Whether the test binary is built with AddressSanitizer (.ci/run's build-asan stage). Every
// instruction costs several times more there, so a test whose cost grows with the amount of work
// (a 1000-point sweep, 20,000 random cases) runs a smaller instance of the same check there; the
// Release stage runs the full size.

namespace orrery_test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace orrery_test
