// Pair packing: query + documents -> length-sorted, token-budget batches of model inputs.
//
// Packing is split in two: plan_pack() decides every row and batch (cheap, no token copies),
// fill_batch() writes one batch's padded arrays. Callers materialise one batch at a time, so
// a thousand 4,096-token documents never hold all their padded inputs in memory at once.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fastrerank/batching.hpp"

namespace fastrerank {

// How one (query, document) pair becomes one model row:
//   prefix  query  middle  document  suffix
// e.g. BERT  [CLS] q [SEP] d [SEP]      (prefix=[CLS], middle=[SEP], suffix=[SEP], doc type 1)
//      XLM-R <s> q </s></s> d </s>     (prefix=<s>, middle=</s></s>, suffix=</s>, all type 0)
struct PairTemplate {
    std::vector<int64_t> prefix, prefix_types;
    int64_t query_type = 0;
    std::vector<int64_t> middle, middle_types;
    int64_t doc_type = 0;
    std::vector<int64_t> suffix, suffix_types;

    int64_t special_tokens() const {
        return static_cast<int64_t>(prefix.size() + middle.size() + suffix.size());
    }
    // Throws std::invalid_argument when a type list does not match its ids.
    void validate() const;
};

struct PackOptions {
    int64_t max_length = 512;           // model window, special tokens included
    int64_t max_tokens_per_doc = 4096;  // document tokens kept before windowing
    int64_t max_batch_tokens = 4096;    // rows x padded length per batch
    int64_t pad_id = 0;
    int64_t batch_overhead = -1;        // see cut_batches: < 0 greedy, >= 0 least cost
};

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

// One model row: tokens [start, start + part) of document `doc`, after query `query`.
struct Row {
    int32_t doc = 0;
    int32_t query = 0;
    int64_t start = 0;
    int32_t part = 0;
    int32_t length = 0;  // special tokens + kept query tokens + part
};

struct PackPlan {
    std::vector<Row> rows;                 // in batch order: longest first
    std::vector<int32_t> row_docs;         // rows[i].doc, as one array for scoring
    std::vector<BatchSpan> batches;
    std::vector<int32_t> windows_per_doc;  // how many rows each document became
    std::vector<int32_t> query_tokens;     // tokens each query kept after truncation
    int64_t real_tokens = 0;               // tokens that are not padding
    int64_t padded_tokens = 0;             // sum over batches of rows x length
};

// The longest query prefix a window keeps: a query may use at most half (rounded down) of
// the tokens the template leaves in the window, so every window keeps at least as many
// document tokens as query tokens. Throws when the window leaves fewer than 2 tokens.
int64_t query_token_limit(const PairTemplate& tpl, int64_t max_length);

// Plans every row and batch. doc_query[d] names the query of document d; an empty doc_query
// means every document belongs to query 0. Rules:
//   1. a document keeps its first max_tokens_per_doc tokens;
//   2. a query keeps its first query_token_limit() tokens;
//   3. the document is cut into consecutive, non-overlapping windows of
//      (max_length - special tokens - kept query tokens) tokens, the query repeated in each;
//      a document with no tokens is one window with an empty document part;
//   4. rows are sorted longest first (ties: document order, then window order) and cut
//      into batches whose rows x longest row stays within max_batch_tokens (a row longer
//      than the budget is a batch on its own), greedily or at least cost (cut_batches);
//   5. each batch is padded to its own longest row.
// Throws std::invalid_argument on inconsistent arguments; never reads out of bounds.
PackPlan plan_pack(const Ragged& queries, const Ragged& docs, std::span<const int32_t> doc_query,
                   const PairTemplate& tpl, const PackOptions& opt);

// Where fill_batch writes one batch: rows x length elements each; token_type_ids may be
// null when the model has none.
struct BatchOut {
    int64_t* input_ids = nullptr;
    int64_t* attention_mask = nullptr;
    int64_t* token_type_ids = nullptr;
};

// Writes batch b of a plan made from the same queries, docs, template and options.
// Padding: pad_id, attention 0, type 0.
void fill_batch(const PackPlan& plan, int64_t b, const Ragged& queries, const Ragged& docs,
                const PairTemplate& tpl, const PackOptions& opt, const BatchOut& out);

// Every batch materialised back to back (tests and small inputs).
struct Packed {
    PackPlan plan;
    std::vector<int64_t> input_ids, attention_mask, token_type_ids;
};
Packed pack(const Ragged& queries, const Ragged& docs, std::span<const int32_t> doc_query,
            const PairTemplate& tpl, const PackOptions& opt);

}  // namespace fastrerank
