#include "fastrerank/batching.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastrerank {
namespace {

std::vector<BatchSpan> greedy(std::span<const int32_t> lengths, int64_t budget) {
    std::vector<BatchSpan> out;
    const auto n = static_cast<int64_t>(lengths.size());
    for (int64_t i = 0; i < n;) {
        const int64_t length = lengths[i];
        // Zero-length rows (no special tokens, empty query and document) are last; they
        // cost nothing, so they share one batch.
        const int64_t fit = length == 0 ? n - i : std::max<int64_t>(1, budget / length);
        const int64_t count = std::min(fit, n - i);
        out.push_back(BatchSpan{count, length, i});
        i += count;
    }
    return out;
}

std::vector<BatchSpan> least_cost(std::span<const int32_t> lengths, int64_t budget, int64_t overhead) {
    const auto n = static_cast<int64_t>(lengths.size());
    std::vector<int64_t> cost(static_cast<size_t>(n) + 1, std::numeric_limits<int64_t>::max());
    std::vector<int64_t> from(static_cast<size_t>(n) + 1, 0);
    cost[0] = 0;
    for (int64_t i = 1; i <= n; ++i) {
        // The batch [j, i) is padded to lengths[j]. Going down in j both rows and the padded
        // length grow, so once a batch of two or more rows breaks the budget, all larger do.
        const int64_t lowest = std::max<int64_t>(0, i - kMaxBatchRows);
        for (int64_t j = i - 1; j >= lowest; --j) {
            const int64_t rows = i - j;
            const int64_t padded = rows * lengths[j];
            if (rows > 1 && padded > budget) break;
            const int64_t c = cost[j] + overhead + padded;
            if (c <= cost[i]) {
                cost[i] = c;
                from[i] = j;
            }
        }
    }
    std::vector<BatchSpan> out;
    for (int64_t i = n; i > 0; i = from[i]) {
        const int64_t j = from[i];
        out.push_back(BatchSpan{i - j, lengths[j], j});
    }
    std::reverse(out.begin(), out.end());
    return out;
}

}  // namespace

std::vector<BatchSpan> cut_batches(std::span<const int32_t> lengths, int64_t budget, int64_t overhead) {
    if (budget < 1) {
        throw std::invalid_argument("max_batch_tokens must be at least 1, got " + std::to_string(budget));
    }
    if (overhead > kMaxBatchOverhead) {  // keeps the summed costs far from int64 overflow
        throw std::invalid_argument("batch_overhead must be at most " + std::to_string(kMaxBatchOverhead) +
                                    ", got " + std::to_string(overhead));
    }
    for (size_t i = 1; i < lengths.size(); ++i) {
        if (lengths[i] > lengths[i - 1] || lengths[i] < 0) {
            throw std::invalid_argument("row lengths must be non-negative and sorted longest first (row " +
                                        std::to_string(i) + ")");
        }
    }
    if (!lengths.empty() && lengths[0] < 0) {
        throw std::invalid_argument("row lengths must be non-negative");
    }
    return overhead < 0 ? greedy(lengths, budget) : least_cost(lengths, budget, overhead);
}

}  // namespace fastrerank
