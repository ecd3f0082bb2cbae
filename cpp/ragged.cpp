#include "fastrerank/ragged.hpp"

#include <limits>
#include <stdexcept>
#include <string>

namespace fastrerank {

void validate_offsets(std::span<const int64_t> offsets, int64_t values, const char* what) {
    if (offsets.empty()) {
        throw std::invalid_argument(std::string(what) +
                                    ": offsets need n + 1 entries, starting with 0; got none");
    }
    if (offsets[0] < 0) {
        throw std::invalid_argument(std::string(what) + ": offsets[0] is negative (" +
                                    std::to_string(offsets[0]) + ")");
    }
    for (size_t i = 1; i < offsets.size(); ++i) {
        if (offsets[i] < offsets[i - 1]) {
            throw std::invalid_argument(std::string(what) + ": offsets are out of order at " +
                                        std::to_string(i) + " (" +
                                        std::to_string(offsets[i - 1]) + " then " +
                                        std::to_string(offsets[i]) + ")");
        }
    }
    if (values >= 0 && offsets.back() > values) {
        throw std::invalid_argument(std::string(what) + ": offsets end at " +
                                    std::to_string(offsets.back()) + ", past the " +
                                    std::to_string(values) + " token ids given");
    }
    if (offsets.size() - 1 > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        throw std::invalid_argument(std::string(what) + ": more than 2^31 - 1 entries");
    }
}

void Ragged::validate(const char* what) const {
    validate_offsets(offsets, static_cast<int64_t>(values.size()), what);
}

}  // namespace fastrerank
