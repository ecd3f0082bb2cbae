// Cutting length-sorted rows into batches under a token budget.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fastrerank {

// Rows [row_begin, row_begin + rows), all padded to `length` (the first row's: rows are sorted).
struct BatchSpan {
    int64_t rows = 0;
    int64_t length = 0;
    int64_t row_begin = 0;
};

// The most rows the minimum-cost cut considers for one batch (bounds its work at n x this).
inline constexpr int64_t kMaxBatchRows = 4096;

// The largest per-batch overhead cut_batches takes: with it the summed costs of any cut of
// fewer than 2^31 rows stay below 2^63.
inline constexpr int64_t kMaxBatchOverhead = int64_t{1} << 31;

// Cuts rows whose lengths are sorted longest first into consecutive batches whose
// rows x longest row stays within `budget` (a longer row is a batch alone).
//   overhead < 0: greedy, as many rows as fit in each batch (fewest batches; for GPUs);
//   overhead >= 0: the cut of least total cost, sum over batches of (overhead + rows x
//     longest), i.e. padding only where it saves more than a batch costs (for CPUs, where
//     a padded token costs as much as a real one). Ties go to the larger batch; a batch
//     never holds more than kMaxBatchRows rows. Throws std::invalid_argument on a budget
//     below 1, an overhead above kMaxBatchOverhead, or lengths not sorted longest first.
std::vector<BatchSpan> cut_batches(std::span<const int32_t> lengths, int64_t budget, int64_t overhead);

}  // namespace fastrerank
