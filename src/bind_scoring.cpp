// Python face of cpp/scoring: logits of every batch -> per-document scores -> top-n.
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "fastrerank/scoring.hpp"

namespace fastrerank::bindings {
namespace {

using Logits = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;

std::vector<LogitsBatch> as_batches(const std::vector<Logits>& logits,
                                    const std::vector<In1D<int32_t>>& row_docs) {
    if (logits.size() != row_docs.size()) {
        throw std::invalid_argument("got " + std::to_string(logits.size()) + " logits arrays for " +
                                    std::to_string(row_docs.size()) + " row maps");
    }
    std::vector<LogitsBatch> batches(logits.size());
    for (size_t b = 0; b < logits.size(); ++b) {
        const Logits& l = logits[b];
        if (l.ndim() != 1 && l.ndim() != 2) {
            throw std::invalid_argument("logits[" + std::to_string(b) + "] has " +
                                        std::to_string(l.ndim()) +
                                        " dimensions; expected [rows] or [rows, 1 | 2]");
        }
        const auto rows = static_cast<int64_t>(l.shape(0));
        if (rows != static_cast<int64_t>(row_docs[b].shape(0))) {
            throw std::invalid_argument("logits[" + std::to_string(b) + "] has " +
                                        std::to_string(rows) + " rows but its row map has " +
                                        std::to_string(row_docs[b].shape(0)));
        }
        const int64_t cols = l.ndim() == 2 ? static_cast<int64_t>(l.shape(1)) : 1;
        batches[b] = LogitsBatch{l.data(), rows, cols, row_docs[b].data()};
    }
    return batches;
}

}  // namespace

void register_scoring(nb::module_& m) {
    m.def(
        "scatter_max",
        [](const std::vector<Logits>& logits, const std::vector<In1D<int32_t>>& row_docs,
           int64_t n_docs, const std::string& normalize) {
            std::vector<float> scores;
            {
                nb::gil_scoped_release release;
                scores = scatter_max(as_batches(logits, row_docs), n_docs, parse_normalize(normalize));
            }
            return to_numpy(std::move(scores));
        },
        nb::arg("logits"), nb::arg("row_docs"), nb::arg("n_docs"), nb::arg("normalize") = "auto",
        "Per-document scores (float32 [n_docs]) from every batch's logits ([rows], [rows, 1]\n"
        "or [rows, 2]) and row -> document maps: each row normalised ('auto': sigmoid for one\n"
        "logit, softmax's positive class for two; 'sigmoid'; 'softmax'; 'none' for the raw\n"
        "logit, unbounded), then the max over a document's rows. Every document needs a row.");

    m.def(
        "top_n",
        [](In1D<float> scores, int64_t n) {
            Ranking r;
            {
                nb::gil_scoped_release release;
                r = top_n(view(scores), n);
            }
            return std::make_tuple(to_numpy(std::move(r.index)), to_numpy(std::move(r.score)));
        },
        nb::arg("scores"), nb::arg("top_n"),
        "(indices int64, scores float32) of the top_n highest scores, highest first, ties\n"
        "broken by the lower index, NaN last; top_n < 0 or beyond the list means all.");
}

}  // namespace fastrerank::bindings
