#include "fastrerank/wordpiece.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace fastrerank {
namespace {

// What a byte does in an ASCII chunk.
enum ByteClass : uint8_t {
    kWord,      // part of a word (after normalisation)
    kPunct,     // a word on its own
    kSpace,     // ends a word: 0x0B, 0x0C without clean_text
    kBoundary,  // \t \n \r space: ends the chunk
    kDrop,      // deleted by clean_text
    kHigh,      // not ASCII: the chunk goes to the fallback
};
constexpr uint8_t kAddedStart = 0x80;  // flag: an added token may start with this byte

bool is_ascii_punctuation(int c) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

bool is_chunk_boundary(int c) { return c == '\t' || c == '\n' || c == '\r' || c == ' '; }

// Batches below this many bytes per thread are not worth a thread (~0.1 ms of work).
constexpr size_t kMinBytesPerThread = 32 * 1024;

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::span<const TokenEntry> vocab, std::string_view unk_token,
                                       std::span<const TokenEntry> added, WordPieceOptions options)
    : options_(std::move(options)), vocab_size_(vocab.size()) {
    if (options_.max_input_chars_per_word < 0) {
        throw std::invalid_argument("max_input_chars_per_word must be >= 0, got " +
                                    std::to_string(options_.max_input_chars_per_word));
    }
    std::vector<ByteTrie::Entry> entries;
    entries.reserve(vocab.size());
    for (const TokenEntry& t : vocab) {
        if (t.id < 0) throw std::invalid_argument("vocabulary id of '" + std::string(t.text) + "' is negative");
        entries.push_back({t.text, t.id});
    }
    vocab_ = ByteTrie(entries);
    // Every piece as a word start (tag false), and the pieces that carry the prefix, without it,
    // as continuations (tag true); with an empty prefix every piece is both.
    const std::string_view prefix = options_.continuing_subword_prefix;
    std::vector<ShortKeyMap::Entry> short_pieces;
    short_pieces.reserve(2 * vocab.size());
    for (const TokenEntry& t : vocab) {
        short_pieces.push_back({t.text, false, t.id});
        if (t.text.size() > prefix.size() && t.text.starts_with(prefix)) {
            short_pieces.push_back({t.text.substr(prefix.size()), true, t.id});
        }
    }
    pieces_ = ShortKeyMap(short_pieces);
    unk_id_ = vocab_.find(unk_token);
    if (unk_id_ == ByteTrie::kNone) {
        throw std::invalid_argument("the unknown token '" + std::string(unk_token) + "' is not in the vocabulary");
    }
    continuation_root_ = vocab_.walk(ByteTrie::root(), options_.continuing_subword_prefix);

    entries.clear();
    for (const TokenEntry& t : added) {
        if (t.text.empty()) throw std::invalid_argument("an added token is empty");
        if (t.id < 0) throw std::invalid_argument("added token '" + std::string(t.text) + "' has a negative id");
        bool ascii = true;
        for (const char ch : t.text) {
            const auto c = static_cast<unsigned char>(ch);
            if (is_chunk_boundary(c)) {
                throw std::invalid_argument("added token '" + std::string(t.text) +
                                            "' holds whitespace, which the fast path splits on");
            }
            ascii = ascii && c < 0x80;
        }
        if (!ascii) continue;  // it can only match inside a fallback span
        entries.push_back({t.text, t.id});
    }
    added_ = ByteTrie(entries);

    for (int c = 0; c < 256; ++c) {
        uint8_t cls = kWord;
        if (c >= 0x80) {
            cls = kHigh;
        } else if (is_chunk_boundary(c)) {
            cls = kBoundary;
        } else if (c == 0x0B || c == 0x0C) {
            cls = options_.clean_text ? kDrop : kSpace;
        } else if (c < 0x20 || c == 0x7F) {
            cls = options_.clean_text ? kDrop : kWord;
        } else if (is_ascii_punctuation(c)) {
            cls = kPunct;
        }
        byte_class_[c] = cls;
        const char normal = options_.lowercase && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a')
                                                                        : static_cast<char>(c);
        normalized_[c] = normal;
        const int32_t id = vocab_.find(std::string_view(&normal, 1));
        single_char_id_[c] = options_.max_input_chars_per_word >= 1 && id != ByteTrie::kNone ? id : unk_id_;
    }
    for (const auto& e : entries) byte_class_[static_cast<unsigned char>(e.key[0])] |= kAddedStart;
}

// Tokenizes texts into one Encoded. A word is read in place from the text (lowercased on the
// fly) unless clean_text deleted a character inside it; only such words are copied, into
// buffers reused from word to word: no allocation per token.
template <bool kSpans>
class WordPieceWorker {
public:
    WordPieceWorker(const WordPieceTokenizer& tok, Encoded& out)
        : t_(tok), out_(out), max_chars_(static_cast<size_t>(tok.options_.max_input_chars_per_word)) {}

    void encode_text(int64_t index, std::string_view text) {
        const auto* p = reinterpret_cast<const unsigned char*>(text.data());
        const size_t n = text.size();
        text_size_ = n;
        delta_ = 0;
        size_t i = 0;
        for (;;) {
            while (i < n && t_.byte_class_[p[i]] == kBoundary) ++i;
            if (i == n) return;
            const size_t mark = out_.ids.size();
            const size_t end = ascii_chunk(p, n, i);
            if (end != kNotAscii) {
                i = end;
                continue;
            }
            // A non-ASCII chunk: undo what it emitted and hand it (with any non-ASCII chunks
            // right before it) to the fallback.
            out_.ids.resize(mark);
            if constexpr (kSpans) out_.spans.resize(2 * mark);
            size_t j = i;
            int64_t continuation = 0;
            for (; j < n && t_.byte_class_[p[j]] != kBoundary; ++j) {
                if constexpr (kSpans) continuation += (p[j] & 0xC0) == 0x80;
            }
            auto& fb = out_.fallbacks;
            const auto token_pos = static_cast<int64_t>(mark);
            if (!fb.empty() && fb.back().text == index && fb.back().token_pos == token_pos) {
                fb.back().byte_end = static_cast<int64_t>(j);
            } else {
                const auto begin = static_cast<int64_t>(i);
                fb.push_back({index, begin, static_cast<int64_t>(j), kSpans ? begin - delta_ : 0, token_pos});
            }
            delta_ += continuation;
            i = j;
        }
    }

private:
    static constexpr size_t kNotAscii = static_cast<size_t>(-1);

    // Tokenizes the chunk starting at i; returns where it ends, or kNotAscii.
    [[gnu::always_inline]] size_t ascii_chunk(const unsigned char* p, size_t n, size_t i) {
        len_ = 0;
        dirty_ = false;
        const uint8_t* byte_class = t_.byte_class_;
        for (; i < n; ++i) {
            const unsigned char c = p[i];
            uint8_t cls = byte_class[c];
            if (cls == kWord) {  // the common case: a run of word bytes
                if (len_ == 0) start_ = i;
                size_t j = i + 1;
                while (j < n && byte_class[p[j]] == kWord) ++j;
                len_ += j - i;
                i = j - 1;
                continue;
            }
            if (cls & kAddedStart) {
                const size_t m = added_match(p, n, i);
                if (m > 0) {
                    flush_word(p, i);
                    emit(added_id_, i, i + m);
                    i += m - 1;
                    continue;
                }
                cls &= static_cast<uint8_t>(~kAddedStart);
            }
            switch (cls) {
                case kWord:
                    if (len_++ == 0) start_ = i;
                    break;
                case kPunct:
                    flush_word(p, i);
                    emit(t_.single_char_id_[c], i, i + 1);
                    break;
                case kSpace:
                    flush_word(p, i);
                    break;
                case kDrop:
                    dirty_ = dirty_ || len_ > 0;
                    break;
                case kBoundary:
                    flush_word(p, i);
                    return i;
                default:  // kHigh
                    return kNotAscii;
            }
        }
        flush_word(p, n);
        return n;
    }

    bool dropped(unsigned char c) const { return (t_.byte_class_[c] & ~kAddedStart) == kDrop; }

    // The length of the longest added token at p[i], 0 for none (its id in added_id_).
    size_t added_match(const unsigned char* p, size_t n, size_t i) {
        size_t best = 0;
        int32_t node = ByteTrie::root();
        for (size_t k = i; k < n; ++k) {
            node = t_.added_.next(node, p[k]);
            if (node == ByteTrie::kNone) break;
            if (const int32_t v = t_.added_.value(node); v != ByteTrie::kNone) {
                best = k - i + 1;
                added_id_ = v;
            }
        }
        return best;
    }

    // The word of len_ characters in p[start_, end): only word bytes and, when dirty_, bytes
    // clean_text deletes. Inline, the common case: a word that is one piece, read in place.
    [[gnu::always_inline]] void flush_word(const unsigned char* p, size_t end) {
        if (len_ == 0) return;
        if (!dirty_ && len_ <= ShortKeyMap::kMaxKey && start_ + 12 <= text_size_) {
            const auto key = ShortKeyMap::Key::pack_ascii_word(p + start_, len_, t_.options_.lowercase);
            if (const int32_t id = t_.pieces_.find(key); id != ShortKeyMap::kNone) {
                emit(id, start_, start_ + len_);
                len_ = 0;
                return;
            }
        }
        split_word(p, end);
    }

    // Any other word: pieces, unknown, too long, or with deleted characters.
    [[gnu::noinline]] void split_word(const unsigned char* p, size_t end) {
        const size_t len = len_;
        len_ = 0;
        if (!dirty_) {
            const size_t s = start_;
            const bool whole_tried = len <= ShortKeyMap::kMaxKey && s + 12 <= text_size_;
            const char* normal = t_.normalized_;
            wordpiece(
                len, s, s + len, [&](size_t k) { return normal[p[s + k]]; }, [&](size_t k) { return s + k; },
                whole_tried);
            return;
        }
        dirty_ = false;
        size_t last = end - 1;  // the word's last kept character: trailing deleted ones do not count
        while (dropped(p[last])) --last;
        if (len > max_chars_) {
            emit(t_.unk_id_, start_, last + 1);
            return;
        }
        if (word_.size() < len) {
            word_.resize(std::max(len, 2 * word_.size()));
            if constexpr (kSpans) pos_.resize(word_.size());
        }
        size_t k = 0;
        for (size_t j = start_; j <= last; ++j) {
            if (dropped(p[j])) continue;
            word_[k] = t_.normalized_[p[j]];
            if constexpr (kSpans) pos_[k] = j;
            ++k;
        }
        wordpiece(
            len, start_, last + 1, [&](size_t i) { return word_[i]; },
            [&](size_t i) {
                if constexpr (kSpans) return pos_[i];
                return i;
            },
            false);
    }

    // WordPiece on a normalised word of `len` characters (char_at(k)) at byte positions pos_at(k),
    // spanning [first, end) of the text; whole_tried: the word is known not to be one piece.
    template <class CharAt, class PosAt>
    void wordpiece(size_t len, size_t first, size_t end, CharAt char_at, PosAt pos_at, bool whole_tried) {
        if (len > max_chars_) {
            emit(t_.unk_id_, first, end);
            return;
        }
        const size_t mark = out_.ids.size();
        size_t start = 0;
        while (start < len) {
            if (len - start <= ShortKeyMap::kMaxKey && (start > 0 || !whole_tried)) {
                // the rest of the word is one piece: that is the longest match
                unsigned char rest[ShortKeyMap::kMaxKey];
                for (size_t k = start; k < len; ++k) rest[k - start] = static_cast<unsigned char>(char_at(k));
                const auto key = ShortKeyMap::Key::pack(rest, len - start, start > 0);
                if (const int32_t id = t_.pieces_.find(key); id != ShortKeyMap::kNone) {
                    emit(id, pos_at(start), pos_at(len - 1) + 1);
                    return;
                }
            }
            int32_t node = start == 0 ? ByteTrie::root() : t_.continuation_root_;
            size_t stop = 0;
            int32_t id = ByteTrie::kNone;
            for (size_t k = start; k < len && node != ByteTrie::kNone; ++k) {
                node = t_.vocab_.next(node, static_cast<unsigned char>(char_at(k)));
                if (node != ByteTrie::kNone) {
                    if (const int32_t v = t_.vocab_.value(node); v != ByteTrie::kNone) {
                        stop = k + 1;
                        id = v;
                    }
                }
            }
            if (id == ByteTrie::kNone) {  // some piece has no match: the whole word is unknown
                out_.ids.resize(mark);
                if constexpr (kSpans) out_.spans.resize(2 * mark);
                emit(t_.unk_id_, first, end);
                return;
            }
            emit(id, pos_at(start), pos_at(stop - 1) + 1);
            start = stop;
        }
    }

    // byte positions [begin, end) become code point positions with the chunk's delta.
    void emit(int32_t id, size_t begin, size_t end) {
        out_.ids.push_back(id);
        if constexpr (kSpans) {
            out_.spans.push_back(static_cast<int64_t>(begin) - delta_);
            out_.spans.push_back(static_cast<int64_t>(end) - delta_);
        }
    }

    const WordPieceTokenizer& t_;
    Encoded& out_;
    const size_t max_chars_;
    size_t len_ = 0;       // characters of the current word
    size_t start_ = 0;     // byte position of its first character
    bool dirty_ = false;   // clean_text deleted a character inside it
    int64_t delta_ = 0;    // bytes minus code points before the current chunk
    size_t text_size_ = 0;
    int32_t added_id_ = 0;
    std::vector<char> word_;   // a dirty word, normalised and without the deleted characters
    std::vector<size_t> pos_;  // byte position of each of its characters (spans only)
};

namespace {

template <bool kSpans>
void encode_range(const WordPieceTokenizer& tok, std::span<const std::string_view> texts,
                  int64_t first_index, size_t bytes, Encoded& out) {
    out.with_spans = kSpans;
    out.offsets.reserve(texts.size() + 1);
    out.offsets.push_back(0);
    const size_t expected = bytes / 3 + 16;  // English text runs at 3.5-4.5 bytes a token
    out.ids.reserve(expected);
    if constexpr (kSpans) out.spans.reserve(2 * expected);
    WordPieceWorker<kSpans> worker(tok, out);
    for (size_t i = 0; i < texts.size(); ++i) {
        worker.encode_text(first_index + static_cast<int64_t>(i), texts[i]);
        out.offsets.push_back(static_cast<int64_t>(out.ids.size()));
    }
}

void encode_part(const WordPieceTokenizer& tok, std::span<const std::string_view> texts,
                 int64_t first_index, size_t bytes, bool with_spans, Encoded& out) {
    if (with_spans) {
        encode_range<true>(tok, texts, first_index, bytes, out);
    } else {
        encode_range<false>(tok, texts, first_index, bytes, out);
    }
}

}  // namespace

Encoded WordPieceTokenizer::encode(std::span<const std::string_view> texts, bool with_spans,
                                   int threads) const {
    size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    const size_t useful = std::min(texts.size(), bytes / kMinBytesPerThread + 1);
    const size_t n_parts = std::max<size_t>(1, std::min(static_cast<size_t>(std::max(threads, 1)), useful));
    Encoded out;
    if (n_parts == 1) {
        encode_part(*this, texts, 0, bytes, with_spans, out);
        return out;
    }

    // Contiguous ranges of about equal bytes, one per thread, then concatenated.
    std::vector<size_t> cuts{0};
    size_t acc = 0;
    for (size_t i = 0; i < texts.size() && cuts.size() < n_parts; ++i) {
        acc += texts[i].size();
        if (acc * n_parts >= bytes * cuts.size()) cuts.push_back(i + 1);
    }
    if (cuts.back() != texts.size()) cuts.push_back(texts.size());
    const size_t parts = cuts.size() - 1;
    std::vector<Encoded> part(parts);
    std::vector<std::exception_ptr> errors(parts);
    auto run = [&](size_t k) {
        try {
            const auto sub = texts.subspan(cuts[k], cuts[k + 1] - cuts[k]);
            size_t sub_bytes = 0;
            for (const auto& t : sub) sub_bytes += t.size();
            encode_part(*this, sub, static_cast<int64_t>(cuts[k]), sub_bytes, with_spans, part[k]);
        } catch (...) {
            errors[k] = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(parts - 1);
    try {
        for (size_t k = 1; k < parts; ++k) pool.emplace_back(run, k);
    } catch (...) {  // could not start a thread: the ones running must still be joined
        for (auto& t : pool) t.join();
        throw;
    }
    run(0);
    for (auto& t : pool) t.join();
    for (const auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }

    size_t total = 0, n_fallbacks = 0;
    for (const Encoded& e : part) {
        total += e.ids.size();
        n_fallbacks += e.fallbacks.size();
    }
    out.with_spans = with_spans;
    out.ids.reserve(total);
    if (with_spans) out.spans.reserve(2 * total);
    out.offsets.reserve(texts.size() + 1);
    out.offsets.push_back(0);
    out.fallbacks.reserve(n_fallbacks);
    for (const Encoded& e : part) {
        const auto base = static_cast<int64_t>(out.ids.size());
        out.ids.insert(out.ids.end(), e.ids.begin(), e.ids.end());
        out.spans.insert(out.spans.end(), e.spans.begin(), e.spans.end());
        for (size_t i = 1; i < e.offsets.size(); ++i) out.offsets.push_back(base + e.offsets[i]);
        for (FallbackSpan f : e.fallbacks) {
            f.token_pos += base;
            out.fallbacks.push_back(f);
        }
    }
    return out;
}

void splice_fallbacks(Encoded& enc, const Ragged& fallback_ids, std::span<const int64_t> fallback_spans) {
    fallback_ids.validate("fallback ids");
    const auto n_fb = static_cast<int64_t>(enc.fallbacks.size());
    if (fallback_ids.size() != n_fb) {
        throw std::invalid_argument("got tokens for " + std::to_string(fallback_ids.size()) +
                                    " fallback spans, expected " + std::to_string(n_fb));
    }
    const int64_t fb_tokens = n_fb == 0 ? 0 : fallback_ids.offsets[n_fb] - fallback_ids.offsets[0];
    if (enc.with_spans && static_cast<int64_t>(fallback_spans.size()) != 2 * fb_tokens) {
        throw std::invalid_argument("got " + std::to_string(fallback_spans.size()) +
                                    " fallback span entries, expected 2 per fallback token (" +
                                    std::to_string(2 * fb_tokens) + ")");
    }
    if (n_fb == 0) return;

    std::vector<int32_t> ids;
    std::vector<int64_t> spans;
    ids.reserve(enc.ids.size() + static_cast<size_t>(fb_tokens));
    if (enc.with_spans) spans.reserve(2 * ids.capacity());
    const int64_t n_texts = static_cast<int64_t>(enc.offsets.size()) - 1;
    const int64_t span_base = fallback_ids.offsets[0];
    auto copy_own = [&](int64_t from, int64_t to) {
        ids.insert(ids.end(), enc.ids.begin() + from, enc.ids.begin() + to);
        if (enc.with_spans) spans.insert(spans.end(), enc.spans.begin() + 2 * from, enc.spans.begin() + 2 * to);
    };
    int64_t f = 0;
    for (int64_t t = 0; t < n_texts; ++t) {
        int64_t cursor = enc.offsets[t];
        const int64_t text_end = enc.offsets[t + 1];
        enc.offsets[t] = static_cast<int64_t>(ids.size());
        for (; f < n_fb && enc.fallbacks[f].text == t; ++f) {
            const FallbackSpan& fb = enc.fallbacks[f];
            if (fb.token_pos < cursor || fb.token_pos > text_end) {
                throw std::invalid_argument("fallback spans are out of order");
            }
            copy_own(cursor, fb.token_pos);
            cursor = fb.token_pos;
            const int64_t b = fallback_ids.offsets[f], e = fallback_ids.offsets[f + 1];
            ids.insert(ids.end(), fallback_ids.values.begin() + b, fallback_ids.values.begin() + e);
            if (enc.with_spans) {
                for (int64_t k = 2 * (b - span_base); k < 2 * (e - span_base); ++k) {
                    spans.push_back(fallback_spans[k] + fb.char_begin);
                }
            }
        }
        copy_own(cursor, text_end);
    }
    if (f != n_fb) throw std::invalid_argument("fallback spans are out of order");
    enc.offsets[n_texts] = static_cast<int64_t>(ids.size());
    enc.ids = std::move(ids);
    enc.spans = std::move(spans);
    enc.fallbacks.clear();
}

}  // namespace fastrerank
