// Python face of cpp/wordpiece: the exact WordPiece fast path. Strings are read in place (their
// UTF-8 buffer; CPython keeps ASCII strings in that form already), tokenized with the GIL
// released, and the ids come back as numpy arrays that own the core's vectors.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "fastrerank/wordpiece.hpp"

namespace fastrerank::bindings {
namespace {

// The UTF-8 bytes of a Python str, without a copy: valid while the str lives. `what` names
// the argument in the error (called only then).
template <class What>
std::string_view utf8_view(nb::handle s, What what) {
    if (!PyUnicode_Check(s.ptr())) {
        throw nb::type_error((what() + " must be a str, got " + type_name(s.type()).c_str()).c_str());
    }
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(s.ptr(), &size);
    if (data == nullptr) {  // a lone surrogate: not text `tokenizers` could read either
        nb::python_error error;
        throw nb::value_error((what() + " cannot be encoded as UTF-8: " + nb::str(error.value()).c_str()).c_str());
    }
    return {data, static_cast<size_t>(size)};
}

// dict[str, int] -> entries viewing the dict's strings (the dict must outlive their use).
std::vector<TokenEntry> entries(const nb::dict& d, const char* what) {
    std::vector<TokenEntry> out;
    out.reserve(nb::len(d));
    for (auto [key, value] : d) {
        const int64_t id = nb::cast<int64_t>(value);
        if (id < 0 || id > INT32_MAX) {
            throw std::invalid_argument(std::string(what) + " id " + std::to_string(id) + " is out of range");
        }
        out.push_back({utf8_view(key, [&] { return std::string(what); }), static_cast<int32_t>(id)});
    }
    return out;
}

// One encode() call whose non-ASCII spans still need `tokenizers`: fallback_texts holds them,
// finish() splices their tokens in and hands the arrays over.
struct WordPieceBatch {
    Encoded enc;
    nb::list fallback_texts;
    int64_t fallback_tokens = 0;
    bool finished = false;
};

using Finished = std::tuple<Out1D<int32_t>, Out1D<int64_t>, std::optional<Out2D<int64_t>>>;

WordPieceBatch* encode(const WordPieceTokenizer& self, const nb::list& texts, bool offsets, int threads) {
    const size_t n = nb::len(texts);
    std::vector<nb::object> alive;  // another thread may change the list while the GIL is released
    std::vector<std::string_view> views;
    alive.reserve(n);
    views.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        nb::handle item = PyList_GetItem(texts.ptr(), static_cast<Py_ssize_t>(i));  // borrowed
        views.push_back(utf8_view(item, [i] { return "texts[" + std::to_string(i) + "]"; }));
        alive.push_back(nb::borrow(item));
    }
    auto batch = std::make_unique<WordPieceBatch>();
    {
        nb::gil_scoped_release release;
        batch->enc = self.encode(views, offsets, threads);
    }
    for (const FallbackSpan& f : batch->enc.fallbacks) {
        const char* begin = views[f.text].data() + f.byte_begin;
        PyObject* s = PyUnicode_DecodeUTF8(begin, f.byte_end - f.byte_begin, "strict");
        if (s == nullptr) throw nb::python_error();
        batch->fallback_texts.append(nb::steal(s));
    }
    return batch.release();
}

Finished finish(WordPieceBatch& b, const std::vector<std::vector<int32_t>>& fallback_ids,
                const std::optional<std::vector<std::vector<std::pair<int64_t, int64_t>>>>& fallback_offsets) {
    if (b.finished) throw std::invalid_argument("finish() was already called on this batch");
    if (b.enc.with_spans != fallback_offsets.has_value()) {
        throw std::invalid_argument(b.enc.with_spans
                                        ? "this batch was encoded with offsets: pass fallback_offsets"
                                        : "this batch was encoded without offsets: pass no fallback_offsets");
    }
    std::vector<int32_t> flat;
    std::vector<int64_t> starts{0};
    std::vector<int64_t> spans;
    starts.reserve(fallback_ids.size() + 1);
    for (const auto& ids : fallback_ids) {
        flat.insert(flat.end(), ids.begin(), ids.end());
        starts.push_back(static_cast<int64_t>(flat.size()));
    }
    if (fallback_offsets) {
        for (const auto& text : *fallback_offsets) {
            for (const auto& [s, e] : text) {
                spans.push_back(s);
                spans.push_back(e);
            }
        }
    }
    b.finished = true;  // before the GIL goes: a second finish() on this batch must not start
    {
        nb::gil_scoped_release release;
        splice_fallbacks(b.enc, Ragged{flat, starts}, spans);
    }
    b.fallback_tokens = static_cast<int64_t>(flat.size());
    std::optional<Out2D<int64_t>> out_spans;
    if (b.enc.with_spans) out_spans = to_numpy(std::move(b.enc.spans), 2);
    return {to_numpy(std::move(b.enc.ids)), to_numpy(std::move(b.enc.offsets)), std::move(out_spans)};
}

}  // namespace

void register_tokenizer(nb::module_& m) {
    nb::class_<WordPieceTokenizer>(
        m, "WordPieceTokenizer",
        "The exact WordPiece fast path: BertNormalizer + BertPreTokenizer + WordPiece, with added\n"
        "tokens matched on the raw text, on ASCII chunks (cut at \\t \\n \\r and space). Chunks\n"
        "with other characters are left for HF `tokenizers` (see WordPieceBatch).")
        .def(
            "__init__",
            [](WordPieceTokenizer* t, const nb::dict& vocab, const std::string& unk_token,
               const nb::dict& added, bool clean_text, bool lowercase,
               const std::string& continuing_subword_prefix, int64_t max_input_chars_per_word) {
                const auto v = entries(vocab, "vocab");
                const auto a = entries(added, "added token");
                WordPieceOptions opt{clean_text, lowercase, continuing_subword_prefix, max_input_chars_per_word};
                // The GIL stays held: the entries view the dicts' key strings (once per model).
                new (t) WordPieceTokenizer(v, unk_token, a, std::move(opt));
            },
            nb::arg("vocab"), nb::arg("unk_token"), nb::arg("added_tokens"), nb::kw_only(),
            nb::arg("clean_text"), nb::arg("lowercase"), nb::arg("continuing_subword_prefix"),
            nb::arg("max_input_chars_per_word"),
            "vocab: the WordPiece model's {token: id}; added_tokens: {content: id} of the added\n"
            "tokens (non-empty, without whitespace). Raises ValueError on a bad vocabulary.")
        .def("encode", &encode, nb::arg("texts"), nb::kw_only(), nb::arg("offsets") = false,
             nb::arg("threads") = 1, nb::rv_policy::take_ownership,
             "Tokenizes a list of str on up to `threads` threads (fewer for small batches), with\n"
             "the GIL released. Returns a WordPieceBatch: tokenize its fallback_texts with\n"
             "`tokenizers` (add_special_tokens=False) and pass their ids to finish().")
        .def_prop_ro("unk_id", &WordPieceTokenizer::unk_id)
        .def_prop_ro("vocab_size", &WordPieceTokenizer::vocab_size);

    nb::class_<WordPieceBatch>(m, "WordPieceBatch",
                               "Tokens of one encode() call, waiting for its non-ASCII spans.")
        .def_prop_ro("fallback_texts", [](const WordPieceBatch& b) { return b.fallback_texts; },
                     "The non-ASCII spans (list of str), in order: each is whole chunks of one\n"
                     "text, cut at ASCII whitespace.")
        .def_prop_ro("fallback_tokens", [](const WordPieceBatch& b) { return b.fallback_tokens; },
                     "Tokens the fallback spans gave (known after finish()).")
        .def("finish", &finish, nb::arg("fallback_ids"), nb::arg("fallback_offsets") = nb::none(),
             "Splices the fallback spans' tokens in: fallback_ids[i] are the ids of\n"
             "fallback_texts[i] and, for a batch encoded with offsets, fallback_offsets[i] their\n"
             "(start, end) character offsets. Returns (ids int32, offsets int64 [n + 1],\n"
             "char offsets int64 [tokens, 2] or None): text i is ids[offsets[i]:offsets[i+1]].\n"
             "Once per batch.");
}

}  // namespace fastrerank::bindings
