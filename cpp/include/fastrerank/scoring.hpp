// Scoring: model logits per row -> one normalised score per document -> top-n ranking.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace fastrerank {

enum class Normalize {
    Auto,     // Sigmoid for one logit per row, Softmax for two
    Sigmoid,  // sigmoid of the (last) logit
    Softmax,  // probability of the positive class (column 1) over two logits
    None,     // the raw (last) logit, unbounded
};

// Parses "auto" | "sigmoid" | "softmax" | "none"; throws std::invalid_argument otherwise.
Normalize parse_normalize(std::string_view name);

// One batch of model output: rows x cols float32 logits (cols 1 or 2), and for each row the
// document it belongs to.
struct LogitsBatch {
    const float* logits = nullptr;
    int64_t rows = 0;
    int64_t cols = 1;
    const int32_t* row_docs = nullptr;
};

// Per-document score: the normalised logit, max over the document's rows (windows).
// Every document in [0, n_docs) must have at least one row. NaN rows are ignored unless
// every row of a document is NaN. Throws std::invalid_argument on bad shapes or indices.
std::vector<float> scatter_max(std::span<const LogitsBatch> batches, int64_t n_docs,
                               Normalize normalize);

struct Ranking {
    std::vector<int64_t> index;
    std::vector<float> score;
};

// The top_n documents by score, highest first, ties broken by the lower index, NaN last.
// top_n < 0 means all; top_n beyond the list means all.
Ranking top_n(std::span<const float> scores, int64_t top_n);

}  // namespace fastrerank
