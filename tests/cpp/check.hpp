// A minimal test harness: CHECK records a failure and goes on; main returns non-zero if any did.
#pragma once

#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace check {

inline int& failures() {
    static int n = 0;
    return n;
}

inline std::vector<std::pair<const char*, std::function<void()>>>& registry() {
    static std::vector<std::pair<const char*, std::function<void()>>> r;
    return r;
}

struct Register {
    Register(const char* name, std::function<void()> fn) { registry().emplace_back(name, std::move(fn)); }
};

inline int run_all() {
    for (auto& [name, fn] : registry()) {
        const int before = failures();
        try {
            fn();
        } catch (const std::exception& e) {
            std::printf("  unexpected exception: %s\n", e.what());
            ++failures();
        }
        std::printf("%s %s\n", failures() == before ? "ok  " : "FAIL", name);
    }
    std::printf("%zu tests, %d failed checks\n", registry().size(), failures());
    return failures() == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define TEST(name)                                                        \
    static void name();                                                   \
    static check::Register CHECK_CAT(reg_, name)(#name, name);            \
    static void name()

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);    \
            ++check::failures();                                                      \
        }                                                                             \
    } while (0)

// Checks that `expr` throws std::invalid_argument whose message contains `needle`.
#define CHECK_THROWS(expr, needle)                                                          \
    do {                                                                                    \
        bool thrown_ = false;                                                               \
        try {                                                                               \
            (void)(expr);                                                                   \
        } catch (const std::invalid_argument& e) {                                          \
            thrown_ = true;                                                                 \
            if (std::string(e.what()).find(needle) == std::string::npos) {                  \
                std::printf("  %s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__,       \
                            e.what(), needle);                                              \
                ++check::failures();                                                        \
            }                                                                               \
        }                                                                                   \
        if (!thrown_) {                                                                     \
            std::printf("  %s:%d: %s did not throw\n", __FILE__, __LINE__, #expr);          \
            ++check::failures();                                                            \
        }                                                                                   \
    } while (0)

#define TEST_MAIN() \
    int main() { return check::run_all(); }
