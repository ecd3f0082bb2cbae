// An exact fast path for BERT WordPiece tokenizers on ASCII text.
//
// It reproduces what HF `tokenizers` gives, without special tokens, for a tokenizer.json made
// of: added tokens matched on the raw text (not normalised, no lstrip/rstrip/single_word),
// BertNormalizer, BertPreTokenizer and a WordPiece model. Text is cut at ASCII whitespace
// (\t \n \r and space), a hard boundary in that pipeline. A chunk of pure ASCII is tokenized
// here; a chunk with any other byte is left to the caller, who tokenizes it with `tokenizers`
// and splices its tokens back in place (splice_fallbacks). Consecutive such chunks are handed
// over as one span.
//
// The ASCII rules, copied from `tokenizers`:
//   1. added tokens: leftmost-longest match on the raw bytes; the text between matches goes on;
//   2. BertNormalizer: with clean_text, control characters (0x00-0x08, 0x0B, 0x0C, 0x0E-0x1F,
//      0x7F) are deleted, so 0x0B/0x0C join their neighbours, and \t \n \r become spaces;
//      lowercase maps A-Z to a-z (strip_accents and handle_chinese_chars change no ASCII);
//   3. BertPreTokenizer: split on whitespace (\t \n 0x0B 0x0C \r space: without clean_text,
//      0x0B and 0x0C are whitespace there), and every ASCII punctuation character is a word;
//   4. WordPiece: a word of more than max_input_chars_per_word characters is the unknown
//      token; else greedy longest-match-first, pieces after the first carrying the
//      continuing-subword prefix; if some piece has no match the whole word is the unknown
//      token.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastrerank/lookup.hpp"
#include "fastrerank/ragged.hpp"

namespace fastrerank {

struct WordPieceOptions {
    bool clean_text = true;  // BertNormalizer.clean_text
    bool lowercase = true;   // BertNormalizer.lowercase
    std::string continuing_subword_prefix = "##";
    int64_t max_input_chars_per_word = 100;
};

struct TokenEntry {
    std::string_view text;
    int32_t id = 0;
};

// Text the caller tokenizes with `tokenizers`: one or more whitespace-separated chunks of one
// input text that hold non-ASCII bytes.
struct FallbackSpan {
    int64_t text = 0;        // which input text
    int64_t byte_begin = 0;  // [byte_begin, byte_end) of its UTF-8
    int64_t byte_end = 0;
    int64_t char_begin = 0;  // code points before byte_begin (0 unless spans were asked for)
    int64_t token_pos = 0;   // where its tokens go in Encoded::ids
};

// Token ids of a batch of texts, ragged: text i is ids[offsets[i] .. offsets[i+1]).
struct Encoded {
    std::vector<int32_t> ids;
    std::vector<int64_t> offsets;  // texts + 1 entries
    // When asked for: [start, end) of every token in code points of its text, 2 per token.
    std::vector<int64_t> spans;
    bool with_spans = false;
    // Spans still to tokenize, in text order then position; empty after splice_fallbacks.
    std::vector<FallbackSpan> fallbacks;
};

class WordPieceTokenizer {
public:
    // vocab: the WordPiece model's vocabulary (distinct strings, non-negative ids); unk_token
    // must be in it. added: the added tokens (distinct, non-empty, without \t \n \r or
    // space); those with non-ASCII bytes only occur in fallback spans, so they are ignored.
    // Throws std::invalid_argument on anything else.
    WordPieceTokenizer(std::span<const TokenEntry> vocab, std::string_view unk_token,
                       std::span<const TokenEntry> added, WordPieceOptions options);

    // Tokenizes `texts` (UTF-8) on up to `threads` threads (fewer for small batches). Non-ASCII
    // chunks are listed in Encoded::fallbacks, their tokens still missing from Encoded::ids.
    Encoded encode(std::span<const std::string_view> texts, bool with_spans = false,
                   int threads = 1) const;

    const WordPieceOptions& options() const { return options_; }
    int32_t unk_id() const { return unk_id_; }
    size_t vocab_size() const { return vocab_size_; }

private:
    template <bool kSpans>
    friend class WordPieceWorker;

    WordPieceOptions options_;
    ByteTrie vocab_;        // every piece: longest-prefix walks
    ShortKeyMap pieces_;    // pieces of up to 11 bytes: is the rest of the word one piece?
    ByteTrie added_;
    int32_t unk_id_ = 0;
    int32_t continuation_root_ = ByteTrie::kNone;  // the node of the prefix in vocab_
    size_t vocab_size_ = 0;
    uint8_t byte_class_[256] = {};       // what each byte does in an ASCII chunk
    char normalized_[256] = {};          // each byte after lowercasing
    int32_t single_char_id_[256] = {};  // the token of a one-character (punctuation) word
};

// Puts the tokens of every fallback span in place: fallback_ids[f] (ragged) are the tokens of
// enc.fallbacks[f] and, when enc.with_spans, fallback_spans holds 2 entries per fallback token,
// [start, end) in code points of the span's own text. Clears enc.fallbacks. Throws
// std::invalid_argument when the sizes do not match.
void splice_fallbacks(Encoded& enc, const Ragged& fallback_ids,
                      std::span<const int64_t> fallback_spans);

}  // namespace fastrerank
