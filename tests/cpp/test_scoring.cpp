#include <cmath>
#include <limits>
#include <vector>

#include "check.hpp"
#include "fastrerank/scoring.hpp"

using namespace fastrerank;

namespace {
bool near(float a, double b) { return std::fabs(a - b) < 1e-6; }
}  // namespace

TEST(sigmoid_one_logit_max_over_windows) {
    std::vector<float> logits = {0.0f, 2.0f, -1.0f};
    std::vector<int32_t> docs = {1, 0, 1};
    LogitsBatch b{logits.data(), 3, 1, docs.data()};
    auto s = scatter_max(std::span(&b, 1), 2, Normalize::Auto);
    CHECK(near(s[0], 1.0 / (1.0 + std::exp(-2.0))));
    CHECK(near(s[1], 0.5));
    auto raw = scatter_max(std::span(&b, 1), 2, Normalize::None);
    CHECK(raw[0] == 2.0f && raw[1] == 0.0f);
}

TEST(softmax_positive_class_of_two_logits) {
    std::vector<float> logits = {1.0f, 3.0f, 0.5f, -0.5f};
    std::vector<int32_t> docs = {0, 1};
    LogitsBatch b{logits.data(), 2, 2, docs.data()};
    auto s = scatter_max(std::span(&b, 1), 2, Normalize::Auto);
    CHECK(near(s[0], std::exp(3.0) / (std::exp(1.0) + std::exp(3.0))));
    CHECK(near(s[1], std::exp(-0.5) / (std::exp(0.5) + std::exp(-0.5))));
    CHECK_THROWS(scatter_max(std::span(&b, 1), 2, parse_normalize("nope")), "normalize");
    LogitsBatch one{logits.data(), 2, 1, docs.data()};
    CHECK_THROWS(scatter_max(std::span(&one, 1), 2, Normalize::Softmax), "two logits");
}

TEST(extreme_logits_saturate_without_nan) {
    std::vector<float> logits = {1e30f, -1e30f};
    std::vector<int32_t> docs = {0, 1};
    LogitsBatch b{logits.data(), 2, 1, docs.data()};
    auto s = scatter_max(std::span(&b, 1), 2, Normalize::Sigmoid);
    CHECK(s[0] == 1.0f && s[1] == 0.0f);
}

TEST(top_n_descending_ties_by_index_nan_last) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> scores = {0.5f, nan, 0.9f, 0.5f, 0.1f};
    auto r = top_n(scores, -1);
    CHECK((r.index == std::vector<int64_t>{2, 0, 3, 4, 1}));
    auto r2 = top_n(scores, 2);
    CHECK((r2.index == std::vector<int64_t>{2, 0}));
    CHECK(r2.score[0] == 0.9f);
    CHECK(top_n(scores, 99).index.size() == 5);
    CHECK(top_n(std::vector<float>{}, 3).index.empty());
}

TEST(bad_shapes_and_indices_throw) {
    std::vector<float> logits = {1, 2, 3};
    std::vector<int32_t> docs = {0, 5, 1};
    LogitsBatch b{logits.data(), 3, 1, docs.data()};
    CHECK_THROWS(scatter_max(std::span(&b, 1), 2, Normalize::Auto), "outside [0, 2)");
    LogitsBatch three{logits.data(), 1, 3, docs.data()};
    CHECK_THROWS(scatter_max(std::span(&three, 1), 1, Normalize::Auto), "3 columns");
    std::vector<int32_t> only0 = {0, 0, 0};
    LogitsBatch missing{logits.data(), 3, 1, only0.data()};
    CHECK_THROWS(scatter_max(std::span(&missing, 1), 2, Normalize::Auto), "document 1 has no logits");
    CHECK_THROWS(scatter_max(std::span(&missing, 1), -1, Normalize::Auto), "negative");
}

TEST_MAIN()
