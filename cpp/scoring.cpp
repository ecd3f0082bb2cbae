#include "fastrerank/scoring.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace fastrerank {
namespace {

// Computed in double and rounded once, so the result is the correctly rounded float of the
// exact value; the float32 reference (torch) agrees to an ulp or two.
float sigmoid(double x) {
    if (x >= 0) return static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    const double e = std::exp(x);
    return static_cast<float>(e / (1.0 + e));
}

float normalise(const float* row, int64_t cols, Normalize how) {
    switch (how) {
        case Normalize::Sigmoid:
            return sigmoid(row[cols - 1]);
        case Normalize::Softmax:  // softmax([l0, l1])[1] == sigmoid(l1 - l0)
            return sigmoid(static_cast<double>(row[1]) - static_cast<double>(row[0]));
        case Normalize::None:
        case Normalize::Auto:
            break;
    }
    return row[cols - 1];
}

// Descending score, NaN after every number, then ascending index.
bool ranks_before(float a, int64_t ia, float b, int64_t ib) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na != nb) return nb;
    if (!na && a != b) return a > b;
    return ia < ib;
}

}  // namespace

Normalize parse_normalize(std::string_view name) {
    if (name == "auto") return Normalize::Auto;
    if (name == "sigmoid") return Normalize::Sigmoid;
    if (name == "softmax") return Normalize::Softmax;
    if (name == "none") return Normalize::None;
    throw std::invalid_argument("normalize must be one of 'auto', 'sigmoid', 'softmax', 'none'; got '" +
                                std::string(name) + "'");
}

std::vector<float> scatter_max(std::span<const LogitsBatch> batches, int64_t n_docs,
                               Normalize normalize) {
    if (n_docs < 0) {
        throw std::invalid_argument("n_docs must not be negative, got " + std::to_string(n_docs));
    }
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> scores(static_cast<size_t>(n_docs), nan);
    std::vector<uint8_t> seen(static_cast<size_t>(n_docs), 0);
    for (size_t b = 0; b < batches.size(); ++b) {
        const LogitsBatch& batch = batches[b];
        if (batch.cols != 1 && batch.cols != 2) {
            throw std::invalid_argument("batch " + std::to_string(b) + ": logits have " +
                                        std::to_string(batch.cols) +
                                        " columns; a reranker gives 1 (score) or 2 (negative, "
                                        "positive)");
        }
        if (batch.rows < 0 || (batch.rows > 0 && (!batch.logits || !batch.row_docs))) {
            throw std::invalid_argument("batch " + std::to_string(b) + ": no logits or row map");
        }
        Normalize how = normalize;
        if (how == Normalize::Auto) how = batch.cols == 1 ? Normalize::Sigmoid : Normalize::Softmax;
        if (how == Normalize::Softmax && batch.cols != 2) {
            throw std::invalid_argument(
                "normalize='softmax' needs two logits per row (negative, positive); the model "
                "gives one: use 'sigmoid' or 'none'");
        }
        for (int64_t i = 0; i < batch.rows; ++i) {
            const int32_t d = batch.row_docs[i];
            if (d < 0 || d >= n_docs) {
                throw std::invalid_argument("batch " + std::to_string(b) + ", row " +
                                            std::to_string(i) + ": document index " +
                                            std::to_string(d) + " is outside [0, " +
                                            std::to_string(n_docs) + ")");
            }
            const float s = normalise(batch.logits + i * batch.cols, batch.cols, how);
            seen[d] = 1;
            if (std::isnan(scores[d]) || s > scores[d]) scores[d] = s;
        }
    }
    const auto missing = std::find(seen.begin(), seen.end(), 0);
    if (missing != seen.end()) {
        throw std::invalid_argument("document " + std::to_string(missing - seen.begin()) +
                                    " has no logits: every document needs at least one row");
    }
    return scores;
}

Ranking top_n(std::span<const float> scores, int64_t n) {
    const auto size = static_cast<int64_t>(scores.size());
    const int64_t k = (n < 0 || n > size) ? size : n;
    std::vector<int64_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
        return ranks_before(scores[a], a, scores[b], b);
    });
    Ranking out;
    out.index.assign(order.begin(), order.begin() + k);
    out.score.resize(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) out.score[i] = scores[out.index[i]];
    return out;
}

}  // namespace fastrerank
