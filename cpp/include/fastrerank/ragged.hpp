// Ragged arrays: many variable-length token sequences in one flat buffer.
#pragma once

#include <cstdint>
#include <span>

namespace fastrerank {

// A ragged array of token ids: element i is values[offsets[i] .. offsets[i+1]).
struct Ragged {
    std::span<const int32_t> values;
    std::span<const int64_t> offsets;  // n + 1 entries, non-decreasing, within values

    int64_t size() const {
        return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1;
    }
    int64_t length(int64_t i) const { return offsets[i + 1] - offsets[i]; }
    const int32_t* begin(int64_t i) const { return values.data() + offsets[i]; }
    // Throws std::invalid_argument naming `what` when the offsets do not describe `values`.
    void validate(const char* what) const;
};

// Throws std::invalid_argument naming `what` unless `offsets` has n + 1 non-decreasing,
// non-negative entries (n < 2^31) ending at or before `values` (values < 0: not checked).
void validate_offsets(std::span<const int64_t> offsets, int64_t values, const char* what);

}  // namespace fastrerank
