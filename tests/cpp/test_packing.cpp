#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "check.hpp"
#include "fastrerank/packing.hpp"

using namespace fastrerank;
using Ids = std::vector<int32_t>;
using Offs = std::vector<int64_t>;
using I64 = std::vector<int64_t>;

namespace {

std::array<DocLimits, 1> lim(int64_t max_tokens, int64_t max_windows = kNoLimit, bool keep_end = false) {
    return {DocLimits{max_tokens, max_windows, keep_end}};
}

// Every batch of a plan, materialised back to back.
struct AllBatches {
    PackPlan plan;
    std::vector<int64_t> input_ids, attention_mask, token_type_ids;
};

AllBatches pack_all(const Ragged& queries, const Ragged& docs, std::span<const int32_t> doc_query,
                    const PairTemplate& tpl, const PackOptions& opt, DocLimits limits) {
    AllBatches out;
    const DocLimits one[1] = {limits};
    out.plan = plan_pack(queries, docs, doc_query, tpl, opt, one);
    const auto total = static_cast<size_t>(out.plan.padded_tokens);
    out.input_ids.resize(total);
    out.attention_mask.resize(total);
    out.token_type_ids.resize(total);
    int64_t offset = 0;
    for (size_t b = 0; b < out.plan.batches.size(); ++b) {
        const BatchOut to{out.input_ids.data() + offset, out.attention_mask.data() + offset,
                          out.token_type_ids.data() + offset};
        fill_batch(out.plan, static_cast<int64_t>(b), queries, docs, tpl, opt, to);
        offset += out.plan.batches[b].rows * out.plan.batches[b].length;
    }
    return out;
}

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

I64 row(const AllBatches& p, int64_t b, int64_t r, const std::vector<int64_t>& buf) {
    int64_t offset = 0;
    for (int64_t i = 0; i < b; ++i) offset += p.plan.batches[i].rows * p.plan.batches[i].length;
    const int64_t L = p.plan.batches[b].length;
    return I64(buf.begin() + offset + r * L, buf.begin() + offset + (r + 1) * L);
}

}  // namespace

TEST(bert_rows_sorted_and_batched_by_budget) {
    auto f = one_query({5, 6}, {{7, 8, 9}, {}, {10}});
    AllBatches p = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{8, 12, 0}, DocLimits{4096});
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
    AllBatches p = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{8, 1000, 0}, DocLimits{4096});
    CHECK((p.plan.windows_per_doc == std::vector<int32_t>{3}));
    CHECK(p.plan.batches.size() == 1);
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 5, 6, 102, 11, 12, 13, 102}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{101, 5, 6, 102, 14, 15, 16, 102}));
    CHECK((row(p, 0, 2, p.input_ids) == I64{101, 5, 6, 102, 17, 102, 0, 0}));
}

TEST(max_tokens_per_doc_cuts_before_windowing) {
    auto f = one_query({5, 6}, {{11, 12, 13, 14, 15, 16, 17}});
    AllBatches p = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{8, 1000, 0}, DocLimits{4});
    CHECK((p.plan.windows_per_doc == std::vector<int32_t>{2}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{101, 5, 6, 102, 14, 102, 0, 0}));
}

TEST(long_query_keeps_half_the_window) {
    auto f = one_query({1, 2, 3, 4, 5, 6, 7, 8, 9}, {{20, 21, 22, 23}});
    AllBatches p = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{10, 1000, 0}, DocLimits{4096});
    // content 7 -> the query keeps 3, windows of 4
    CHECK(query_token_limit(bert(), 10) == 3);
    CHECK((p.plan.query_tokens == std::vector<int32_t>{3}));
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 1, 2, 3, 102, 20, 21, 22, 23, 102}));
}

TEST(xlmr_template_and_pad_id) {
    auto f = one_query({5}, {{7, 8}, {9}});
    AllBatches p = pack_all(f.queries(), f.docs(), {}, xlmr(), PackOptions{16, 1000, 1}, DocLimits{4096});
    CHECK((row(p, 0, 0, p.input_ids) == I64{0, 5, 2, 2, 7, 8, 2}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{0, 5, 2, 2, 9, 2, 1}));
    CHECK((row(p, 0, 1, p.token_type_ids) == I64{0, 0, 0, 0, 0, 0, 0}));
}

TEST(row_longer_than_budget_is_a_batch_alone) {
    auto f = one_query({5}, {{1, 2, 3}, {4, 5, 6}, {7}});
    AllBatches p = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{64, 3, 0}, DocLimits{4096});
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
    AllBatches p = pack_all(f.queries(), f.docs(), doc_query, bert(), PackOptions{10, 1000, 0}, DocLimits{4096});
    CHECK((p.plan.query_tokens == std::vector<int32_t>{3, 1}));
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 1, 2, 3, 102, 20, 21, 102}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{101, 50, 102, 22, 102, 0, 0, 0}));
}

TEST(zero_length_rows_share_one_batch) {
    auto f = one_query({}, {{}, {}, {4}});
    PairTemplate none{{}, {}, 0, {}, {}, 1, {}, {}};
    AllBatches p = pack_all(f.queries(), f.docs(), {}, none, PackOptions{4, 1, 0}, DocLimits{4096});
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
    AllBatches p = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{8, 100, 0}, DocLimits{4096});
    CHECK(p.plan.batches.empty());
    CHECK(p.plan.rows.empty());
}

TEST(bad_arguments_throw_with_a_message) {
    auto f = one_query({5}, {{1, 2}, {3}});
    const PackOptions ok{8, 100, 0};
    const DocLimits all[1] = {DocLimits{4096}};
    Offs backwards = {0, 2, 1};
    CHECK_THROWS(plan_pack(f.queries(), Ragged{f.d, backwards}, {}, bert(), ok, all), "out of order");
    Offs past = {0, 2, 9};
    CHECK_THROWS(plan_pack(f.queries(), Ragged{f.d, past}, {}, bert(), ok, all), "past the");
    Offs negative = {-1, 2, 3};
    CHECK_THROWS(plan_pack(f.queries(), Ragged{f.d, negative}, {}, bert(), ok, all), "negative");
    Offs none = {};
    CHECK_THROWS(plan_pack(Ragged{f.q, none}, f.docs(), {}, bert(), ok, all), "got none");
    Offs zero_queries = {0};
    CHECK_THROWS(plan_pack(Ragged{f.q, zero_queries}, f.docs(), {}, bert(), ok, all), "without a query");
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bert(), PackOptions{4, 100, 0}, lim(4096)),
                 "max_length 4");
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bert(), PackOptions{8, 100, 0}, lim(0)),
                 "max_tokens_per_doc");
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bert(), PackOptions{8, -5, 0}, lim(10)),
                 "max_batch_tokens");
    std::vector<int32_t> wrong_query = {0, 3};
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), wrong_query, bert(), ok, all), "doc_query[1]");
    std::vector<int32_t> short_map = {0};
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), short_map, bert(), ok, all), "doc_query has 1");
    PairTemplate bad = bert();
    bad.suffix_types.clear();
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), {}, bad, ok, all), "suffix");
    auto plan = plan_pack(f.queries(), f.docs(), {}, bert(), ok, all);
    int64_t buf[64];
    CHECK_THROWS(fill_batch(plan, 5, f.queries(), f.docs(), bert(), ok, BatchOut{buf, buf, nullptr}),
                 "not in the plan");
}

TEST(window_cap_keeps_the_first_windows) {
    auto f = one_query({5, 6}, {{11, 12, 13, 14, 15, 16, 17}, {20}});
    // window 3: the long document would be 3 windows; capped at 2 it keeps 6 tokens
    AllBatches p = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{8, 1000, 0},
                            DocLimits{4096, 2, false});
    CHECK((p.plan.windows_per_doc == std::vector<int32_t>{2, 1}));
    CHECK((row(p, 0, 0, p.input_ids) == I64{101, 5, 6, 102, 11, 12, 13, 102}));
    CHECK((row(p, 0, 1, p.input_ids) == I64{101, 5, 6, 102, 14, 15, 16, 102}));
}

TEST(keep_end_keeps_the_last_tokens) {
    auto f = one_query({5, 6}, {{11, 12, 13, 14, 15, 16, 17}, {20}});
    AllBatches one = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{8, 1000, 0},
                              DocLimits{4096, 1, true});
    CHECK((one.plan.windows_per_doc == std::vector<int32_t>{1, 1}));
    CHECK((row(one, 0, 0, one.input_ids) == I64{101, 5, 6, 102, 15, 16, 17, 102}));
    CHECK((row(one, 0, 1, one.input_ids) == I64{101, 5, 6, 102, 20, 102, 0, 0}));
    // max_tokens from the end, then windows from where the kept part starts
    AllBatches four = pack_all(f.queries(), f.docs(), {}, bert(), PackOptions{8, 1000, 0},
                               DocLimits{4, kNoLimit, true});
    CHECK((four.plan.windows_per_doc == std::vector<int32_t>{2, 1}));
    CHECK((row(four, 0, 0, four.input_ids) == I64{101, 5, 6, 102, 14, 15, 16, 102}));
    CHECK((row(four, 0, 1, four.input_ids) == I64{101, 5, 6, 102, 17, 102, 0, 0}));
}

TEST(limits_per_query) {
    Fixture f;
    f.q = {1, 2};
    f.qo = {0, 1, 2};
    f.d = {20, 21, 22, 23, 24, 25, 26, 27, 28, 29};
    f.dofs = {0, 5, 10};
    std::vector<int32_t> doc_query = {0, 1};
    const DocLimits limits[2] = {DocLimits{2, kNoLimit, false}, DocLimits{2, kNoLimit, true}};
    auto plan = plan_pack(f.queries(), f.docs(), doc_query, bert(), PackOptions{7, 1000, 0}, limits);
    CHECK((plan.windows_per_doc == std::vector<int32_t>{1, 1}));
    CHECK(plan.rows[0].doc == 0 && plan.rows[0].start == 0 && plan.rows[0].part == 2);
    CHECK(plan.rows[1].doc == 1 && plan.rows[1].start == 3 && plan.rows[1].part == 2);
    CHECK_THROWS(plan_pack(f.queries(), f.docs(), doc_query, bert(), PackOptions{7, 1000, 0},
                           std::span<const DocLimits>(limits, 0)),
                 "one per query");
}

TEST(plan_documents_counts_rows_and_tokens) {
    Offs qo = {0, 2};
    Offs dofs = {0, 7, 7, 8};  // 7 tokens, none, 1
    const auto limits = lim(4096);
    auto plan = plan_documents(qo, dofs, {}, bert(), 8, limits);
    CHECK((plan.query_tokens == std::vector<int32_t>{2}));
    CHECK(plan.docs.size() == 3);
    // window 3: 3 rows of 5 special+query tokens each, plus the 7 document tokens
    CHECK(plan.docs[0].windows == 3 && plan.docs[0].first_row_length == 8 && plan.docs[0].tokens == 22);
    CHECK(plan.docs[1].windows == 1 && plan.docs[1].first_row_length == 5 && plan.docs[1].tokens == 5);
    CHECK(plan.docs[2].windows == 1 && plan.docs[2].first_row_length == 6 && plan.docs[2].tokens == 6);
    // a cap past any document's windows changes nothing; one that binds drops what is past it
    CHECK(plan_documents(qo, dofs, {}, bert(), 8, lim(4096, kNoLimit - 1)).docs[0].tokens == 22);
    auto capped = plan_documents(qo, dofs, {}, bert(), 8, lim(kNoLimit, 2, true));
    CHECK(capped.docs[0].windows == 2 && capped.docs[0].first == 1 && capped.docs[0].kept == 6);
    CHECK_THROWS(plan_documents(qo, dofs, {}, bert(), 8, lim(4096, 0)), "max_windows_per_doc");
    Offs backwards = {0, 7, 3};
    CHECK_THROWS(plan_documents(qo, backwards, {}, bert(), 8, limits), "out of order");
}

TEST_MAIN()
