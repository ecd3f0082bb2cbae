// Pair packing: queries + documents -> length-sorted, token-budget batches of model inputs.
//
// Packing is split in three: plan_documents() decides how many rows each document becomes
// and how long they are (cheap: it reads lengths only), plan_pack() orders those rows and
// cuts them into batches (no token copies), and fill_batch() writes one batch's padded
// arrays. Callers materialise one batch at a time, so a thousand 4,096-token documents never
// hold all their padded inputs in memory at once.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "fastrerank/batching.hpp"
#include "fastrerank/ragged.hpp"

namespace fastrerank {

// "No limit" for DocLimits::max_tokens and max_windows.
inline constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

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

// How much of a document its rows keep: Cohere's max_tokens_per_doc (and v1's
// max_chunks_per_doc), TEI's truncate and truncation_direction.
struct DocLimits {
    int64_t max_tokens = 4096;       // document tokens kept before windowing, >= 1
    int64_t max_windows = kNoLimit;  // rows (windows) kept, >= 1
    bool keep_end = false;           // keep the document's last tokens instead of its first
};

struct PackOptions {
    int64_t max_length = 512;        // model window, special tokens included
    int64_t max_batch_tokens = 1024;  // rows x padded length per batch
    int64_t pad_id = 0;
    int64_t batch_overhead = -1;     // see cut_batches: < 0 greedy, >= 0 least cost
};

// What one document becomes, before any row is built.
struct DocPlan {
    int64_t first = 0;             // its first kept token
    int64_t kept = 0;              // tokens kept, in windows of `window` from `first`
    int64_t window = 0;            // document tokens per row
    int32_t windows = 0;           // rows
    int32_t first_row_length = 0;  // its longest row: special + query tokens + first window
    int64_t tokens = 0;            // all its rows' tokens, special and query tokens included
};

struct DocumentsPlan {
    std::vector<int32_t> query_tokens;  // tokens each query keeps
    std::vector<DocPlan> docs;
};

// The longest query prefix a window keeps: a query may use at most half (rounded down) of
// the tokens the template leaves in the window, so every window keeps at least as many
// document tokens as query tokens. Throws when the window leaves fewer than 2 tokens.
int64_t query_token_limit(const PairTemplate& tpl, int64_t max_length);

// Plans every document from the lengths alone. doc_query[d] names the query of document d (an
// empty doc_query: every document belongs to query 0); limits has one entry per query, or
// one for all. Rules:
//   1. a query keeps its first query_token_limit() tokens;
//   2. a document keeps its first limits.max_tokens tokens (its last, with keep_end);
//   3. what it keeps is cut into consecutive, non-overlapping windows of
//      (max_length - special tokens - kept query tokens) tokens, the query repeated in each;
//      a document with no tokens is one window with an empty document part;
//   4. past limits.max_windows windows, the rest is dropped: the document keeps
//      max_windows x window tokens, from its start (from its end with keep_end).
// Throws std::invalid_argument on inconsistent arguments; never reads out of bounds.
DocumentsPlan plan_documents(std::span<const int64_t> query_offsets,
                             std::span<const int64_t> doc_offsets,
                             std::span<const int32_t> doc_query, const PairTemplate& tpl,
                             int64_t max_length, std::span<const DocLimits> limits);

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

// Plans every row and batch: the rows of plan_documents(), then
//   5. rows are sorted longest first (ties: document order, then window order) and cut
//      into batches whose rows x longest row stays within max_batch_tokens (a row longer
//      than the budget is a batch on its own), greedily or at least cost (cut_batches);
//   6. each batch is padded to its own longest row (fill_batch).
// Throws std::invalid_argument on inconsistent arguments; never reads out of bounds.
PackPlan plan_pack(const Ragged& queries, const Ragged& docs, std::span<const int32_t> doc_query,
                   const PairTemplate& tpl, const PackOptions& opt,
                   std::span<const DocLimits> limits);

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

}  // namespace fastrerank
