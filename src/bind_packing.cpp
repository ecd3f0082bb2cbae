// Python face of cpp/packing: PairTemplate, plan_documents(), and pack() with the PackPlan
// whose batches are materialised one at a time.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "bindings.hpp"
#include "fastrerank/packing.hpp"

namespace fastrerank::bindings {
namespace {

using PerQuery = std::variant<int64_t, In1D<int64_t>>;
using PerQueryFlag = std::variant<bool, In1D<bool>>;

template <class T, class A>
T at(const std::variant<T, A>& v, size_t i) {
    if (const T* scalar = std::get_if<T>(&v)) return *scalar;
    const A& array = std::get<A>(v);
    return array.data()[array.shape(0) == 1 ? 0 : i];
}

template <class T, class A>
size_t entries(const std::variant<T, A>& v) {
    return std::holds_alternative<T>(v) ? 1 : std::get<A>(v).shape(0);
}

// The document limits of every query (one entry when all share them). An array must have one
// entry per query (or one for all).
std::vector<DocLimits> limits_of(const PerQuery& max_tokens, const PerQuery& max_windows,
                                 const PerQueryFlag& keep_end, size_t n_queries) {
    size_t n = 1;
    for (size_t e : {entries(max_tokens), entries(max_windows), entries(keep_end)}) {
        if (e != 1 && e != n_queries) {
            throw std::invalid_argument("a per-query document limit has " + std::to_string(e) +
                                        " entries for " + std::to_string(n_queries) +
                                        " queries; give one per query, or one for all");
        }
        n = std::max(n, e);
    }
    std::vector<DocLimits> limits(n);
    for (size_t i = 0; i < n; ++i) {
        limits[i] = DocLimits{at(max_tokens, i), at(max_windows, i), at(keep_end, i)};
    }
    return limits;
}

// A plan plus the arrays it reads: holding the ndarrays keeps their memory alive for as long
// as batches can still be filled from it.
class PackedInputs {
public:
    PackedInputs(In1D<int32_t> query_ids, In1D<int64_t> query_offsets, In1D<int32_t> doc_ids,
                 In1D<int64_t> doc_offsets, In1D<int32_t> doc_query, PairTemplate tpl,
                 PackOptions opt, std::vector<DocLimits> limits, bool token_type_ids)
        : query_ids_(std::move(query_ids)),
          query_offsets_(std::move(query_offsets)),
          doc_ids_(std::move(doc_ids)),
          doc_offsets_(std::move(doc_offsets)),
          doc_query_(std::move(doc_query)),
          tpl_(std::move(tpl)),
          opt_(opt),
          limits_(std::move(limits)),
          token_type_ids_(token_type_ids) {}

    void plan() {
        plan_ = plan_pack(queries(), docs(), view(doc_query_), tpl_, opt_, limits_);
    }

    const PackPlan& get() const { return plan_; }
    bool has_token_type_ids() const { return token_type_ids_; }

    void fill(int64_t b, const BatchOut& out) const {
        fill_batch(plan_, b, queries(), docs(), tpl_, opt_, out);
    }

private:
    Ragged queries() const { return Ragged{view(query_ids_), view(query_offsets_)}; }
    Ragged docs() const { return Ragged{view(doc_ids_), view(doc_offsets_)}; }

    In1D<int32_t> query_ids_;
    In1D<int64_t> query_offsets_;
    In1D<int32_t> doc_ids_;
    In1D<int64_t> doc_offsets_;
    In1D<int32_t> doc_query_;
    PairTemplate tpl_;
    PackOptions opt_;
    std::vector<DocLimits> limits_;
    bool token_type_ids_;
    PackPlan plan_;
};

// A view of `n` elements at `data`, memory that lives inside `self` (a PackPlan), keeping
// `self` alive.
template <class T>
using ReadOnly1D = nb::ndarray<nb::numpy, const T, nb::ndim<1>>;

template <class T>
ReadOnly1D<T> member_view(nb::handle self, const T* data, size_t n) {
    return ReadOnly1D<T>(data, {n}, self);
}

using BatchTuple = std::tuple<Out2D<int64_t>, Out2D<int64_t>, std::optional<Out2D<int64_t>>,
                              ReadOnly1D<int32_t>>;

// The three token arrays share one uninitialised allocation (fill_batch writes every
// element); the row map is a view of the plan, so dropping a batch's inputs frees them even
// while its row map is kept for scoring.
BatchTuple batch(nb::handle self_handle, int64_t b) {
    const auto& self = nb::cast<const PackedInputs&>(self_handle);
    const auto& plan = self.get();
    const auto n_batches = static_cast<int64_t>(plan.batches.size());
    if (b < 0) b += n_batches;
    if (b < 0 || b >= n_batches) {
        throw nb::index_error(
            ("batch index out of range (" + std::to_string(n_batches) + " batches)").c_str());
    }
    const BatchSpan span = plan.batches[b];
    const auto n = static_cast<size_t>(span.rows * span.length);
    const size_t arrays = self.has_token_type_ids() ? 3 : 2;
    auto* buf = new int64_t[arrays * n];
    nb::capsule owner(buf, [](void* p) noexcept { delete[] static_cast<int64_t*>(p); });
    {
        nb::gil_scoped_release release;
        self.fill(b, BatchOut{buf, buf + n, arrays == 3 ? buf + 2 * n : nullptr});
    }
    const size_t shape[2] = {static_cast<size_t>(span.rows), static_cast<size_t>(span.length)};
    std::optional<Out2D<int64_t>> types;
    if (arrays == 3) types = Out2D<int64_t>(buf + 2 * n, 2, shape, owner);
    return {Out2D<int64_t>(buf, 2, shape, owner), Out2D<int64_t>(buf + n, 2, shape, owner),
            std::move(types),
            member_view(self_handle, plan.row_docs.data() + span.row_begin,
                        static_cast<size_t>(span.rows))};
}

template <class T>
ReadOnly1D<T> member_view(nb::handle self, const std::vector<T>& v) {
    return member_view(self, v.data(), v.size());
}

}  // namespace

void register_packing(nb::module_& m) {
    nb::class_<PairTemplate>(m, "PairTemplate",
                             "How a (query, document) pair becomes one model row:\n"
                             "prefix + query + middle + document + suffix, with a token type id\n"
                             "for every special token and one for each of the two texts.\n\n"
                             "BERT: prefix=[CLS], middle=[SEP], suffix=[SEP], doc_type=1.\n"
                             "XLM-R: prefix=<s>, middle=</s></s>, suffix=</s>, all types 0.")
        .def(
            "__init__",
            [](PairTemplate* t, std::vector<int64_t> prefix, std::vector<int64_t> prefix_types,
               int64_t query_type, std::vector<int64_t> middle, std::vector<int64_t> middle_types,
               int64_t doc_type, std::vector<int64_t> suffix, std::vector<int64_t> suffix_types) {
                new (t) PairTemplate{std::move(prefix), std::move(prefix_types), query_type,
                                     std::move(middle), std::move(middle_types), doc_type,
                                     std::move(suffix), std::move(suffix_types)};
                t->validate();
            },
            nb::kw_only(), nb::arg("prefix"), nb::arg("prefix_types"), nb::arg("query_type"),
            nb::arg("middle"), nb::arg("middle_types"), nb::arg("doc_type"), nb::arg("suffix"),
            nb::arg("suffix_types"))
        .def_ro("prefix", &PairTemplate::prefix)
        .def_ro("prefix_types", &PairTemplate::prefix_types)
        .def_ro("query_type", &PairTemplate::query_type)
        .def_ro("middle", &PairTemplate::middle)
        .def_ro("middle_types", &PairTemplate::middle_types)
        .def_ro("doc_type", &PairTemplate::doc_type)
        .def_ro("suffix", &PairTemplate::suffix)
        .def_ro("suffix_types", &PairTemplate::suffix_types)
        .def_prop_ro("special_tokens", &PairTemplate::special_tokens,
                     "Number of special tokens the template adds to every row.")
        .def("__repr__", [](const PairTemplate& t) {
            auto list = [](const std::vector<int64_t>& v) {
                std::string s = "[";
                for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
                return s + "]";
            };
            return "PairTemplate(prefix=" + list(t.prefix) + ", middle=" + list(t.middle) +
                   ", suffix=" + list(t.suffix) + ", query_type=" + std::to_string(t.query_type) +
                   ", doc_type=" + std::to_string(t.doc_type) + ")";
        });

    m.def("query_token_limit", &query_token_limit, nb::arg("template"), nb::arg("max_length"),
          "The most query tokens a row keeps: half (rounded down) of what the window leaves\n"
          "beside the template's special tokens. Longer queries are cut to this.");

    m.attr("NO_LIMIT") = kNoLimit;
    m.attr("MAX_BATCH_OVERHEAD") = kMaxBatchOverhead;

    nb::class_<PackedInputs>(m, "PackPlan",
                             "The packing plan of one call: rows sorted longest first and cut\n"
                             "into token-budget batches. batch(i) materialises batch i.")
        .def("__len__", [](const PackedInputs& p) { return p.get().batches.size(); })
        .def("batch", &batch, nb::arg("index"),
             "Batch `index` as (input_ids, attention_mask, token_type_ids or None, row_docs):\n"
             "int64 [rows, length] arrays padded to the batch's longest row, and for each row\n"
             "the index of its document. Fresh arrays, filled with the GIL released.")
        .def_prop_ro("batch_shapes",
                     [](const PackedInputs& p) {
                         std::vector<std::pair<int64_t, int64_t>> shapes;
                         for (const auto& b : p.get().batches) shapes.emplace_back(b.rows, b.length);
                         return shapes;
                     },
                     "(rows, length) of every batch, in order.")
        .def_prop_ro("windows_per_doc",
                     [](nb::handle self) {
                         return member_view(self, nb::cast<PackedInputs&>(self).get().windows_per_doc);
                     },
                     "int32 [n_docs]: how many rows (windows) each document became.")
        .def_prop_ro("query_tokens",
                     [](nb::handle self) {
                         return member_view(self, nb::cast<PackedInputs&>(self).get().query_tokens);
                     },
                     "int32 [n_queries]: how many tokens each query kept.")
        .def_prop_ro("row_docs",
                     [](nb::handle self) {
                         return member_view(self, nb::cast<PackedInputs&>(self).get().row_docs);
                     },
                     "int32 [n_rows]: the document of every row, in batch order.")
        .def_prop_ro("n_rows", [](const PackedInputs& p) { return p.get().rows.size(); },
                     "Total rows (windows) over all batches.")
        .def_prop_ro("real_tokens", [](const PackedInputs& p) { return p.get().real_tokens; },
                     "Tokens that are not padding.")
        .def_prop_ro("padded_tokens", [](const PackedInputs& p) { return p.get().padded_tokens; },
                     "Sum over batches of rows x length: what the model computes.");

    m.def(
        "pack",
        [](In1D<int32_t> query_ids, In1D<int32_t> doc_ids, In1D<int64_t> doc_offsets,
           const PairTemplate& tpl, int64_t max_length, const PerQuery& max_tokens_per_doc,
           int64_t max_batch_tokens, int64_t pad_id, bool token_type_ids,
           std::optional<In1D<int64_t>> query_offsets, std::optional<In1D<int32_t>> doc_query,
           int64_t batch_overhead, const PerQuery& max_windows_per_doc,
           const PerQueryFlag& keep_end) {
            if (!query_offsets) {
                auto* single = new std::vector<int64_t>{0, static_cast<int64_t>(query_ids.shape(0))};
                nb::capsule owner(single, [](void* p) noexcept {
                    delete static_cast<std::vector<int64_t>*>(p);
                });
                query_offsets = In1D<int64_t>(single->data(), {single->size()}, owner);
            }
            const size_t n_queries = query_offsets->shape(0) == 0 ? 0 : query_offsets->shape(0) - 1;
            auto limits = limits_of(max_tokens_per_doc, max_windows_per_doc, keep_end, n_queries);
            In1D<int32_t> no_query_map(nullptr, {0}, nb::handle());
            auto inputs = std::make_unique<PackedInputs>(
                std::move(query_ids), std::move(*query_offsets), std::move(doc_ids),
                std::move(doc_offsets), doc_query ? std::move(*doc_query) : no_query_map, tpl,
                PackOptions{max_length, max_batch_tokens, pad_id, batch_overhead},
                std::move(limits), token_type_ids);
            {
                nb::gil_scoped_release release;
                inputs->plan();
            }
            return inputs.release();
        },
        nb::arg("query_ids"), nb::arg("doc_ids"), nb::arg("doc_offsets"), nb::arg("template"),
        nb::kw_only(), nb::arg("max_length"), nb::arg("max_tokens_per_doc"),
        nb::arg("max_batch_tokens"), nb::arg("pad_id"), nb::arg("token_type_ids") = true,
        nb::arg("query_offsets") = nb::none(), nb::arg("doc_query") = nb::none(),
        nb::arg("batch_overhead") = -1, nb::arg("max_windows_per_doc") = kNoLimit,
        nb::arg("keep_end") = false, nb::rv_policy::take_ownership,
        "Plans the rows and batches for queries and their documents (token ids without special\n"
        "tokens, ragged: ids flat, offsets n + 1 entries; one query without query_offsets).\n"
        "doc_query gives each document's query index (None: all query 0).\n\n"
        "Rules (plan_documents): a query keeps at most query_token_limit(template, max_length)\n"
        "tokens; a document keeps its first max_tokens_per_doc tokens (its last with keep_end),\n"
        "cut into consecutive non-overlapping windows that fill the rest of the window, the query\n"
        "repeated in each (an empty document is one window), at most max_windows_per_doc of\n"
        "them. max_tokens_per_doc, max_windows_per_doc and keep_end are one value, or an array\n"
        "with one per query. Rows are sorted longest first and cut into batches of at most\n"
        "max_batch_tokens padded tokens (a longer row is a batch alone) as cut_batches() does\n"
        "with batch_overhead; each batch is padded to its own longest row. Raises ValueError on\n"
        "inconsistent arguments.");

    m.def(
        "plan_documents",
        [](In1D<int64_t> query_offsets, In1D<int64_t> doc_offsets, const PairTemplate& tpl,
           int64_t max_length, const PerQuery& max_tokens_per_doc, const PerQuery& max_windows_per_doc,
           const PerQueryFlag& keep_end, std::optional<In1D<int32_t>> doc_query) {
            const size_t n_queries = query_offsets.shape(0) == 0 ? 0 : query_offsets.shape(0) - 1;
            const auto limits = limits_of(max_tokens_per_doc, max_windows_per_doc, keep_end, n_queries);
            DocumentsPlan plan;
            {
                nb::gil_scoped_release release;
                plan = plan_documents(view(query_offsets), view(doc_offsets),
                                      doc_query ? view(*doc_query) : std::span<const int32_t>(),
                                      tpl, max_length, limits);
            }
            const size_t n = plan.docs.size();
            std::vector<int64_t> first(n), kept(n), tokens(n);
            std::vector<int32_t> windows(n), first_row_length(n);
            for (size_t d = 0; d < n; ++d) {
                const DocPlan& p = plan.docs[d];
                first[d] = p.first;
                kept[d] = p.kept;
                windows[d] = p.windows;
                first_row_length[d] = p.first_row_length;
                tokens[d] = p.tokens;
            }
            return std::make_tuple(to_numpy(std::move(plan.query_tokens)), to_numpy(std::move(first)),
                                   to_numpy(std::move(kept)), to_numpy(std::move(windows)),
                                   to_numpy(std::move(first_row_length)), to_numpy(std::move(tokens)));
        },
        nb::arg("query_offsets"), nb::arg("doc_offsets"), nb::arg("template"), nb::kw_only(),
        nb::arg("max_length"), nb::arg("max_tokens_per_doc"),
        nb::arg("max_windows_per_doc") = kNoLimit, nb::arg("keep_end") = false,
        nb::arg("doc_query") = nb::none(),
        "What every document becomes under pack()'s rules, from the lengths alone (no rows are\n"
        "built): (query_tokens int32 [n_queries], first int64, kept int64, windows int32,\n"
        "first_row_length int32, tokens int64), the last five [n_docs]: the first document token\n"
        "kept, how many are kept, the rows (windows), the longest row's length, and all rows'\n"
        "tokens with special and query tokens. Same arguments and errors as pack().");

    m.def(
        "cut_batches",
        [](In1D<int32_t> lengths, int64_t max_batch_tokens, int64_t batch_overhead) {
            std::vector<BatchSpan> spans;
            {
                nb::gil_scoped_release release;
                spans = cut_batches(view(lengths), max_batch_tokens, batch_overhead);
            }
            std::vector<std::tuple<int64_t, int64_t, int64_t>> out;
            for (const auto& b : spans) out.emplace_back(b.rows, b.length, b.row_begin);
            return out;
        },
        nb::arg("lengths"), nb::arg("max_batch_tokens"), nb::arg("batch_overhead"),
        "Batches of rows whose lengths are sorted longest first, as (rows, length, row_begin),\n"
        "each within max_batch_tokens padded tokens (a longer row alone). batch_overhead < 0:\n"
        "greedy, as many rows as fit (fewest batches, for GPUs). batch_overhead >= 0: the cut of\n"
        "least sum over batches of (batch_overhead + rows x longest row): padding only where it\n"
        "saves more than a batch costs (for CPUs); ties go to the larger batch; at most 4096 rows\n"
        "a batch.");
}

}  // namespace fastrerank::bindings
