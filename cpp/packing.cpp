#include "fastrerank/packing.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastrerank {
namespace {

void check_types(const std::vector<int64_t>& ids, const std::vector<int64_t>& types,
                 const char* part) {
    if (ids.size() != types.size()) {
        throw std::invalid_argument(std::string("pair template: ") + part + " has " +
                                    std::to_string(ids.size()) + " token ids but " +
                                    std::to_string(types.size()) + " type ids");
    }
}

int64_t* put(int64_t* dst, const std::vector<int64_t>& src) {
    return std::copy(src.begin(), src.end(), dst);
}

int64_t* put_ids(int64_t* dst, const int32_t* src, int64_t n) {
    return std::copy(src, src + n, dst);
}

void check_limits(std::span<const DocLimits> limits, int64_t nq) {
    if (limits.size() != 1 && static_cast<int64_t>(limits.size()) != nq) {
        throw std::invalid_argument("document limits: got " + std::to_string(limits.size()) +
                                    " for " + std::to_string(nq) +
                                    " queries; give one per query, or one for all");
    }
    for (const DocLimits& l : limits) {
        if (l.max_tokens < 1) {
            throw std::invalid_argument("max_tokens_per_doc must be at least 1, got " +
                                        std::to_string(l.max_tokens));
        }
        if (l.max_windows < 1) {
            throw std::invalid_argument("max_windows_per_doc must be at least 1, got " +
                                        std::to_string(l.max_windows));
        }
    }
}

}  // namespace

void PairTemplate::validate() const {
    check_types(prefix, prefix_types, "prefix");
    check_types(middle, middle_types, "middle");
    check_types(suffix, suffix_types, "suffix");
}

int64_t query_token_limit(const PairTemplate& tpl, int64_t max_length) {
    const int64_t content = max_length - tpl.special_tokens();
    if (content < 2) {
        throw std::invalid_argument(
            "max_length " + std::to_string(max_length) + " leaves " + std::to_string(content) +
            " tokens beside the template's " + std::to_string(tpl.special_tokens()) +
            " special tokens; at least 2 are needed (one query, one document token)");
    }
    return content / 2;
}

DocumentsPlan plan_documents(std::span<const int64_t> query_offsets,
                             std::span<const int64_t> doc_offsets,
                             std::span<const int32_t> doc_query, const PairTemplate& tpl,
                             int64_t max_length, std::span<const DocLimits> limits) {
    tpl.validate();
    validate_offsets(query_offsets, -1, "queries");
    validate_offsets(doc_offsets, -1, "documents");
    if (max_length > std::numeric_limits<int32_t>::max()) {
        throw std::invalid_argument("max_length " + std::to_string(max_length) +
                                    " is larger than 2^31 - 1");
    }
    const int64_t q_limit = query_token_limit(tpl, max_length);
    const auto nq = static_cast<int64_t>(query_offsets.size()) - 1;
    const auto nd = static_cast<int64_t>(doc_offsets.size()) - 1;
    check_limits(limits, nq);
    if (!doc_query.empty() && static_cast<int64_t>(doc_query.size()) != nd) {
        throw std::invalid_argument("doc_query has " + std::to_string(doc_query.size()) +
                                    " entries for " + std::to_string(nd) + " documents");
    }
    if (nd > 0 && nq == 0) {
        throw std::invalid_argument("documents were given without a query");
    }
    for (size_t d = 0; d < doc_query.size(); ++d) {
        if (doc_query[d] < 0 || doc_query[d] >= nq) {
            throw std::invalid_argument("doc_query[" + std::to_string(d) + "] = " +
                                        std::to_string(doc_query[d]) + " is not a query index (" +
                                        std::to_string(nq) + " queries)");
        }
    }

    DocumentsPlan plan;
    plan.query_tokens.resize(static_cast<size_t>(nq));
    for (int64_t q = 0; q < nq; ++q) {
        const int64_t length = query_offsets[q + 1] - query_offsets[q];
        plan.query_tokens[q] = static_cast<int32_t>(std::min(length, q_limit));
    }
    const int64_t special = tpl.special_tokens();
    const int64_t content = max_length - special;
    plan.docs.resize(static_cast<size_t>(nd));
    for (int64_t d = 0; d < nd; ++d) {
        const int32_t q = doc_query.empty() ? 0 : doc_query[d];
        const DocLimits& limit = limits[limits.size() == 1 ? 0 : q];
        const int64_t qt = plan.query_tokens[q];
        const int64_t length = doc_offsets[d + 1] - doc_offsets[d];
        DocPlan& p = plan.docs[d];
        p.window = content - qt;  // >= 1 by query_token_limit
        p.kept = std::min(length, limit.max_tokens);
        int64_t windows = p.kept == 0 ? 1 : (p.kept + p.window - 1) / p.window;
        if (windows > limit.max_windows) {
            windows = limit.max_windows;
            p.kept = windows * p.window;  // fewer than before: no overflow
        }
        if (windows > std::numeric_limits<int32_t>::max()) {
            throw std::invalid_argument("document " + std::to_string(d) +
                                        " needs more than 2^31 - 1 windows");
        }
        p.first = limit.keep_end ? length - p.kept : 0;
        p.windows = static_cast<int32_t>(windows);
        p.first_row_length = static_cast<int32_t>(special + qt + std::min(p.kept, p.window));
        p.tokens = windows * (special + qt) + p.kept;
    }
    return plan;
}

PackPlan plan_pack(const Ragged& queries, const Ragged& docs, std::span<const int32_t> doc_query,
                   const PairTemplate& tpl, const PackOptions& opt,
                   std::span<const DocLimits> limits) {
    queries.validate("queries");
    docs.validate("documents");
    if (opt.max_batch_tokens < 1) {
        throw std::invalid_argument("max_batch_tokens must be at least 1, got " +
                                    std::to_string(opt.max_batch_tokens));
    }
    const DocumentsPlan documents =
        plan_documents(queries.offsets, docs.offsets, doc_query, tpl, opt.max_length, limits);

    PackPlan plan;
    plan.query_tokens = documents.query_tokens;
    const int64_t special = tpl.special_tokens();
    plan.windows_per_doc.resize(documents.docs.size());
    size_t n_rows = 0;
    for (const DocPlan& p : documents.docs) n_rows += static_cast<size_t>(p.windows);
    std::vector<Row> rows;
    rows.reserve(n_rows);
    for (size_t d = 0; d < documents.docs.size(); ++d) {
        const DocPlan& p = documents.docs[d];
        const int32_t q = doc_query.empty() ? 0 : doc_query[d];
        plan.windows_per_doc[d] = p.windows;
        for (int64_t w = 0; w < p.windows; ++w) {
            Row r;
            r.doc = static_cast<int32_t>(d);
            r.query = q;
            r.start = p.first + w * p.window;
            r.part = static_cast<int32_t>(std::min(p.window, p.kept - w * p.window));
            r.length = static_cast<int32_t>(special + plan.query_tokens[q] + r.part);
            rows.push_back(r);
        }
    }

    // Counting sort, longest first; stable, so ties keep document then window order.
    // Buckets span only the lengths present, so a huge max_length costs nothing.
    int64_t max_len = 0;
    for (const Row& r : rows) max_len = std::max<int64_t>(max_len, r.length);
    std::vector<int64_t> starts(static_cast<size_t>(max_len) + 2, 0);
    for (const Row& r : rows) ++starts[static_cast<size_t>(max_len - r.length) + 1];
    for (size_t i = 1; i < starts.size(); ++i) starts[i] += starts[i - 1];
    plan.rows.resize(rows.size());
    for (const Row& r : rows) plan.rows[starts[static_cast<size_t>(max_len - r.length)]++] = r;

    std::vector<int32_t> lengths(plan.rows.size());
    for (size_t i = 0; i < plan.rows.size(); ++i) lengths[i] = plan.rows[i].length;
    plan.batches = cut_batches(lengths, opt.max_batch_tokens, opt.batch_overhead);
    for (const BatchSpan& b : plan.batches) plan.padded_tokens += b.rows * b.length;
    plan.row_docs.reserve(plan.rows.size());
    for (const Row& r : plan.rows) {
        plan.real_tokens += r.length;
        plan.row_docs.push_back(r.doc);
    }
    return plan;
}

void fill_batch(const PackPlan& plan, int64_t b, const Ragged& queries, const Ragged& docs,
                const PairTemplate& tpl, const PackOptions& opt, const BatchOut& out) {
    if (b < 0 || b >= static_cast<int64_t>(plan.batches.size())) {
        throw std::invalid_argument("batch " + std::to_string(b) + " is not in the plan (" +
                                    std::to_string(plan.batches.size()) + " batches)");
    }
    const BatchSpan& batch = plan.batches[b];
    const int64_t L = batch.length;
    for (int64_t i = 0; i < batch.rows; ++i) {
        const Row& r = plan.rows[batch.row_begin + i];
        const int64_t qt = plan.query_tokens[r.query];
        int64_t* ids = out.input_ids + i * L;
        int64_t* p = ids;
        p = put(p, tpl.prefix);
        p = put_ids(p, queries.begin(r.query), qt);
        p = put(p, tpl.middle);
        p = put_ids(p, docs.begin(r.doc) + r.start, r.part);
        p = put(p, tpl.suffix);
        std::fill(p, ids + L, opt.pad_id);

        int64_t* mask = out.attention_mask + i * L;
        std::fill(mask, mask + r.length, 1);
        std::fill(mask + r.length, mask + L, 0);

        if (out.token_type_ids != nullptr) {
            int64_t* t = out.token_type_ids + i * L;
            t = put(t, tpl.prefix_types);
            t = std::fill_n(t, qt, tpl.query_type);
            t = put(t, tpl.middle_types);
            t = std::fill_n(t, r.part, tpl.doc_type);
            t = put(t, tpl.suffix_types);
            std::fill(t, out.token_type_ids + (i + 1) * L, 0);
        }
    }
}

}  // namespace fastrerank
