#include <cstdint>
#include <vector>

#include "check.hpp"
#include "fastrerank/packing.hpp"

using namespace fastrerank;
using Ids = std::vector<int32_t>;
using Offs = std::vector<int64_t>;
using I64 = std::vector<int64_t>;

namespace {

PairTemplate bert() { return PairTemplate{{101}, {0}, 0, {102}, {0}, 1, {102}, {1}}; }
PairTemplate xlmr() { return PairTemplate{{0}, {0}, 0, {2, 2}, {0, 0}, 0, {2}, {0}}; }

struct Fixture {
    Ids q, d;
    Offs qo, dofs;
    Ragged queries() const { return {q, qo}; }
    Ragged docs() const { return {d, dofs}; }
};

Fixture one_query(Ids q, std::vector<Ids> docs) {
    Fixture f;
    f.q = std::move(q);
    f.qo = {0, static_cast<int64_t>(f.q.size())};
    f.dofs = {0};
    for (auto& doc : docs) {
        f.d.insert(f.d.end(), doc.begin(), doc.end());
        f.dofs.push_back(static_cast<int64_t>(f.d.size()));
    }
    return f;
}

I64 row(const Packed& p, int64_t b, int64_t r, const std::vector<int64_t>& buf) {
    int64_t offset = 0;
    for (int64_t i = 0; i < b; ++i) offset += p.plan.batches[i].rows * p.plan.batches[i].length;
    const int64_t L = p.plan.batches[b].length;
    return I64(buf.begin() + offset + r * L, buf.begin() + offset + (r + 1) * L);
}

}  // namespace

TEST(bert_rows_sorted_and_batched_by_budget) {
    auto f = one_query({5, 6}, {{7, 8, 9}, {}, {10}});
    PackOptions opt{8, 4096, 12, 0};
    Packed p = pack(f.queries(), f.docs(), {}, bert(), opt);
    // window = 8 - 3 special - 2 query = 3; lengths: doc0 8, doc1 5, doc2 6
    CHECK(p.plan.batches.size() == 2);
    CHECK(p.plan.batches[0].rows == 1 && p.plan.batches[0].length == 8);
    CHECK(p.plan.batches[1].rows == 2 && p.plan.batches[1].length == 6);
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 5, 6, 102, 7, 8, 9, 102}));
    CHECK((row(p, 0, 0, p.token_type_ids) == I64{0, 0, 0, 0, 1, 1, 1, 1}));
    CHECK((row(p, 1, 0, p.input_ids) == I64{101, 5, 6, 102, 10, 102}));
    CHECK((row(p, 1, 1, p.input_ids) == I64{101, 5, 6, 102, 102, 0}));
    CHECK((row(p, 1, 1, p.attention_mask) == I64{1, 1, 1, 1, 1, 0}));
    CHECK((row(p, 1, 1, p.token_type_ids) == I64{0, 0, 0, 0, 1, 0}));
    CHECK((p.plan.row_docs == std::vector<int32_t>{0, 2, 1}));
    CHECK((p.plan.windows_per_doc == std::vector<int32_t>{1, 1, 1}));
    CHECK(p.plan.real_tokens == 19);
    CHECK(p.plan.padded_tokens == 20);
}

TEST(long_document_becomes_windows_with_the_query_repeated) {
    auto f = one_query({5, 6}, {{11, 12, 13, 14, 15, 16, 17}});
    Packed p = pack(f.queries(), f.docs(), {}, bert(), PackOptions{8, 4096, 1000, 0});
    CHECK((p.plan.windows_per_doc == std::vector<int32_t>{3}));
    CHECK(p.plan.batches.size() == 1);
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 5, 6, 102, 11, 12, 13, 102}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{101, 5, 6, 102, 14, 15, 16, 102}));
    CHECK((row(p, 0, 2, p.input_ids) == I64{101, 5, 6, 102, 17, 102, 0, 0}));
}

TEST(max_tokens_per_doc_cuts_before_windowing) {
    auto f = one_query({5, 6}, {{11, 12, 13, 14, 15, 16, 17}});
    Packed p = pack(f.queries(), f.docs(), {}, bert(), PackOptions{8, 4, 1000, 0});
    CHECK((p.plan.windows_per_doc == std::vector<int32_t>{2}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{101, 5, 6, 102, 14, 102, 0, 0}));
}

TEST(long_query_keeps_half_the_window) {
    auto f = one_query({1, 2, 3, 4, 5, 6, 7, 8, 9}, {{20, 21, 22, 23}});
    Packed p = pack(f.queries(), f.docs(), {}, bert(), PackOptions{10, 4096, 1000, 0});
    // content 7 -> the query keeps 3, windows of 4
    CHECK(query_token_limit(bert(), 10) == 3);
    CHECK((p.plan.query_tokens == std::vector<int32_t>{3}));
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 1, 2, 3, 102, 20, 21, 22, 23, 102}));
}

TEST(xlmr_template_and_pad_id) {
    auto f = one_query({5}, {{7, 8}, {9}});
    Packed p = pack(f.queries(), f.docs(), {}, xlmr(), PackOptions{16, 4096, 1000, 1});
    CHECK((row(p, 0, 0, p.input_ids) == I64{0, 5, 2, 2, 7, 8, 2}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{0, 5, 2, 2, 9, 2, 1}));
    CHECK((row(p, 0, 1, p.token_type_ids) == I64{0, 0, 0, 0, 0, 0, 0}));
}

TEST(row_longer_than_budget_is_a_batch_alone) {
    auto f = one_query({5}, {{1, 2, 3}, {4, 5, 6}, {7}});
    Packed p = pack(f.queries(), f.docs(), {}, bert(), PackOptions{64, 4096, 3, 0});
    CHECK(p.plan.batches.size() == 3);
    for (const auto& b : p.plan.batches) CHECK(b.rows == 1);
}

TEST(several_queries_each_truncated_on_its_own) {
    Fixture f;
    f.q = {1, 2, 3, 4, 5, 6, 7, 8, 9, 50};
    f.qo = {0, 9, 10};
    f.d = {20, 21, 22};
    f.dofs = {0, 2, 3};
    std::vector<int32_t> doc_query = {0, 1};
    Packed p = pack(f.queries(), f.docs(), doc_query, bert(), PackOptions{10, 4096, 1000, 0});
    CHECK((p.plan.query_tokens == std::vector<int32_t>{3, 1}));
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 1, 2, 3, 102, 20, 21, 102}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{101, 50, 102, 22, 102, 0, 0, 0}));
}

TEST(zero_length_rows_share_one_batch) {
    auto f = one_query({}, {{}, {}, {4}});
    PairTemplate none{{}, {}, 0, {}, {}, 1, {}, {}};
    Packed p = pack(f.queries(), f.docs(), {}, none, PackOptions{4, 4096, 1, 0});
    CHECK(p.plan.batches.size() == 2);
    CHECK(p.plan.batches[1].rows == 2 && p.plan.batches[1].length == 0);
}

TEST(least_cost_cut_pads_only_where_it_pays) {
    std::vector<int32_t> lengths = {100, 100, 60, 59, 10};
    auto greedy = cut_batches(lengths, 1000, -1);
    CHECK(greedy.size() == 1 && greedy[0].rows == 5);
    auto exact = cut_batches(lengths, 1000, 0);  // batches cost nothing: never pad
    CHECK(exact.size() == 4);
    CHECK(exact[0].rows == 2 && exact[1].length == 60 && exact[2].length == 59);
    auto some = cut_batches(lengths, 1000, 5);  // padding 59 -> 60 costs 1 < 5: merge
    CHECK(some.size() == 3 && some[1].rows == 2 && some[1].length == 60);
    auto tight = cut_batches(lengths, 150, 1000000);  // the budget still binds
    for (const auto& b : tight) CHECK(b.rows == 1 || b.rows * b.length <= 150);
    CHECK_THROWS(cut_batches(std::vector<int32_t>{1, 2}, 10, 0), "sorted longest first");
    CHECK_THROWS(cut_batches(lengths, 0, 0), "max_batch_tokens");
}

TEST(empty_inputs) {
    auto f = one_query({5}, {});
    Packed p = pack(f.queries(), f.docs(), {}, bert(), PackOptions{8, 4096, 100, 0});
    CHECK(p.plan.batches.empty());
    CHECK(p.plan.rows.empty());
}

TEST(bad_arguments_throw_with_a_message) {
    auto f = one_query({5}, {{1, 2}, {3}});
    const PackOptions ok{8, 4096, 100, 0};
    Offs backwards = {0, 2, 1};
    CHECK_THROWS(plan_pack(f.queries(), Ragged{f.d, backwards}, {}, bert(), ok), "out of order");
    Offs past = {0, 2, 9};
    CHECK_THROWS(plan_pack(f.queries(), Ragged{f.d, past}, {}, bert(), ok), "past the");
    Offs negative = {-1, 2, 3};
    CHECK_THROWS(plan_pack(f.queries(), Ragged{f.d, negative}, {}, bert(), ok), "negative");
    Offs none = {};
    CHECK_THROWS(plan_pack(Ragged{f.q, none}, f.docs(), {}, bert(), ok), "got none");
    Offs zero_queries = {0};
    CHECK_THROWS(plan_pack(Ragged{f.q, zero_queries}, f.docs(), {}, bert(), ok), "without a query");
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bert(), PackOptions{4, 4096, 100, 0}),
                 "max_length 4");
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bert(), PackOptions{8, 0, 100, 0}),
                 "max_tokens_per_doc");
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bert(), PackOptions{8, 10, -5, 0}),
                 "max_batch_tokens");
    std::vector<int32_t> wrong_query = {0, 3};
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), wrong_query, bert(), ok), "doc_query[1]");
    std::vector<int32_t> short_map = {0};
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), short_map, bert(), ok), "doc_query has 1");
    PairTemplate bad = bert();
    bad.suffix_types.clear();
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bad, ok), "suffix");
    auto plan = plan_pack(f.queries(), f.docs(), {}, bert(), ok);
    int64_t buf[64];
    CHECK_THROWS(fill_batch(plan, 5, f.queries(), f.docs(), bert(), ok, BatchOut{buf, buf, nullptr}),
                 "not in the plan");
}

TEST_MAIN()
