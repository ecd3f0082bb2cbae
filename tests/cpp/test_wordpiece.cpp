#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "fastrerank/lookup.hpp"
#include "fastrerank/wordpiece.hpp"

using namespace fastrerank;

namespace {

// A small BERT-like vocabulary; ids are the positions.
const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "able", "the",
    "a",     "b",     "c",     "##b",   "##c", "ab",    ",",      "!",    "#",    "##",
    "x",     "##x",   "xx",    "##xx",  "é",   "[",     "]",      "sep",  "abc",  "hello",
};
const std::vector<std::string> kAdded = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[SEP]X"};

int32_t id_of(const std::string& token) {
    for (size_t i = 0; i < kVocab.size(); ++i) {
        if (kVocab[i] == token) return static_cast<int32_t>(i);
    }
    for (size_t i = 0; i < kAdded.size(); ++i) {
        if (kAdded[i] == token) return static_cast<int32_t>(100 + i);
    }
    return -1;
}

WordPieceTokenizer make(WordPieceOptions opt = {}, std::vector<std::string> added = kAdded) {
    std::vector<TokenEntry> vocab, add;
    for (size_t i = 0; i < kVocab.size(); ++i) vocab.push_back({kVocab[i], static_cast<int32_t>(i)});
    for (const auto& a : added) add.push_back({a, id_of(a) >= 0 ? id_of(a) : 200});
    return WordPieceTokenizer(vocab, "[UNK]", add, opt);
}

std::vector<int32_t> ids(const WordPieceTokenizer& tok, std::string_view text) {
    std::string_view texts[] = {text};
    Encoded e = tok.encode(texts);
    CHECK(e.fallbacks.empty());
    return e.ids;
}

std::vector<int32_t> expect(std::initializer_list<const char*> tokens) {
    std::vector<int32_t> out;
    for (const char* t : tokens) out.push_back(id_of(t));
    return out;
}

}  // namespace

TEST(trie_finds_exactly_its_keys) {
    std::vector<ByteTrie::Entry> entries = {{"a", 1}, {"ab", 2}, {"abc", 3}, {"b", 4}, {"", 5}, {"\xff\x00z", 6}};
    entries.back().key = std::string_view("\xff\x00z", 3);
    ByteTrie t(entries);
    CHECK(t.find("a") == 1 && t.find("ab") == 2 && t.find("abc") == 3 && t.find("b") == 4);
    CHECK(t.find("") == 5);
    CHECK(t.find(std::string_view("\xff\x00z", 3)) == 6);
    CHECK(t.find("abcd") == ByteTrie::kNone && t.find("c") == ByteTrie::kNone);
    CHECK(t.find(std::string_view("\xff\x00", 2)) == ByteTrie::kNone);
    CHECK(t.walk(ByteTrie::root(), "ab") != ByteTrie::kNone);
    CHECK(ByteTrie().find("a") == ByteTrie::kNone);

    std::vector<ByteTrie::Entry> dup = {{"x", 1}, {"x", 2}};
    CHECK_THROWS(ByteTrie(dup), "duplicate");
    std::vector<ByteTrie::Entry> neg = {{"x", -1}};
    CHECK_THROWS(ByteTrie(neg), "negative");
}

TEST(trie_agrees_with_a_map_on_random_keys) {
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
        std::map<std::string, int32_t> want;
        const int alphabet = round % 2 ? 4 : 256;  // dense and sparse branching
        const int n = 1 + static_cast<int>(rng() % 3000);
        for (int i = 0; i < n; ++i) {
            std::string key(1 + rng() % 12, '\0');
            for (char& c : key) c = static_cast<char>(rng() % alphabet);
            want.emplace(key, static_cast<int32_t>(i));
        }
        std::vector<ByteTrie::Entry> entries;
        for (const auto& [k, v] : want) entries.push_back({k, v});
        ByteTrie t(entries);
        for (const auto& [k, v] : want) {
            CHECK(t.find(k) == v);
            std::string longer = k + static_cast<char>(rng() % alphabet);
            auto it = want.find(longer);
            CHECK(t.find(longer) == (it == want.end() ? ByteTrie::kNone : it->second));
        }
    }
}

TEST(short_key_map_agrees_with_a_map) {
    std::mt19937 rng(11);
    std::map<std::pair<std::string, bool>, int32_t> want;
    for (int i = 0; i < 5000; ++i) {
        std::string key(1 + rng() % 14, '\0');  // some longer than kMaxKey: left out
        for (char& c : key) c = static_cast<char>(rng() % 6 ? 'a' + rng() % 4 : rng() % 256);
        want.emplace(std::make_pair(key, rng() % 2 == 0), i);
    }
    std::vector<ShortKeyMap::Entry> entries;
    for (const auto& [k, v] : want) entries.push_back({k.first, k.second, v});
    ShortKeyMap m(entries);
    size_t kept = 0;
    for (const auto& [k, v] : want) {
        if (k.first.size() > ShortKeyMap::kMaxKey) {
            CHECK_THROWS(ShortKeyMap::Key::of(k.first, k.second), "at most");
            continue;
        }
        ++kept;
        CHECK(m.find(ShortKeyMap::Key::of(k.first, k.second)) == v);
        {
            const auto other = want.find({k.first, !k.second});
            CHECK(m.find(ShortKeyMap::Key::of(k.first, !k.second)) == (other == want.end() ? ShortKeyMap::kNone : other->second));
        }
    }
    CHECK(m.size() == kept);
    CHECK(ShortKeyMap().find(ShortKeyMap::Key::of("a", false)) == ShortKeyMap::kNone);
    // the in-place packing of an ASCII word (12 readable bytes) equals packing its lowercase bytes
    const std::string text = "HeLLo WorLD0123456789abcdefghijkl";
    for (size_t len = 1; len <= ShortKeyMap::kMaxKey; ++len) {
        std::string lower = text.substr(0, len);
        for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        const auto* p = reinterpret_cast<const unsigned char*>(text.data());
        const auto a = ShortKeyMap::Key::pack_ascii_word(p, len, true);
        const auto b = ShortKeyMap::Key::of(lower, false);
        CHECK(a.lo == b.lo && a.hi == b.hi);
        const auto c = ShortKeyMap::Key::pack_ascii_word(p, len, false);
        const auto d = ShortKeyMap::Key::of(text.substr(0, len), false);
        CHECK(c.lo == d.lo && c.hi == d.hi);
    }
}

TEST(words_punctuation_and_case) {
    auto tok = make();
    CHECK(ids(tok, "Hello, the  ABC!") == expect({"hello", ",", "the", "abc", "!"}));
    CHECK(ids(tok, "") == expect({}));
    CHECK(ids(tok, " \t\r\n ") == expect({}));
    CHECK(ids(tok, "a##b") == expect({"a", "#", "#", "b"}));
    WordPieceOptions cased;
    cased.lowercase = false;
    CHECK(ids(make(cased), "Hello hello") == expect({"[UNK]", "hello"}));
}

TEST(greedy_longest_match_first_and_unknown_words) {
    auto tok = make();
    CHECK(ids(tok, "unaffable") == expect({"un", "##aff", "##able"}));
    CHECK(ids(tok, "abcb") == expect({"abc", "##b"}));
    // "ab" + "##x" matches, then "y" has no piece: the whole word is unknown
    CHECK(ids(tok, "abxy b") == expect({"[UNK]", "b"}));
    CHECK(ids(tok, "xxx") == expect({"xx", "##x"}));
}

TEST(max_input_chars_per_word) {
    WordPieceOptions opt;
    opt.max_input_chars_per_word = 5;
    auto tok = make(opt);
    CHECK(ids(tok, "xxxxx") == expect({"xx", "##xx", "##x"}));
    CHECK(ids(tok, "xxxxxx") == expect({"[UNK]"}));
    CHECK(ids(tok, "xx\x01xxx") == expect({"xx", "##xx", "##x"}));  // counted after cleaning
    opt.max_input_chars_per_word = 0;
    CHECK(ids(make(opt), "a , b") == expect({"[UNK]", "[UNK]", "[UNK]"}));
    opt.max_input_chars_per_word = -1;
    CHECK_THROWS(make(opt), "max_input_chars_per_word");
}

TEST(words_read_in_place_equal_words_copied) {
    // A word with 12 readable bytes after its start is looked up as two machine words
    // (lowercased in place); a word near the end of the text, or with a deleted character,
    // byte by byte. Both must agree.
    for (bool lower : {true, false}) {
        WordPieceOptions opt;
        opt.lowercase = lower;
        auto tok = make(opt);
        for (std::string w : {"a", "A", "ab", "AB", "Ab", "the", "THE", "abc", "ABC", "hello", "HELLO", "HeLLo",
                              "unaffable", "UNAFFABLE", "unaffableab", "UNAFFABLEAB", "unaffablexx", "abcb", "xxxxxxxxxxxx",
                              "Z", "@", "zz", "9"}) {
            const auto alone = ids(tok, w);
            CHECK(ids(tok, w + "              ") == alone);
            CHECK(ids(tok, w + " " + w + "    the the the") ==
                  [&] {
                      auto v = alone;
                      v.insert(v.end(), alone.begin(), alone.end());
                      for (int i = 0; i < 3; ++i) v.push_back(id_of("the"));
                      return v;
                  }());
            if (w.size() > 1) CHECK(ids(tok, w.substr(0, 1) + "\x01" + w.substr(1) + "             ") == alone);
        }
    }
}

TEST(control_characters) {
    auto tok = make();
    // deleted, joining their neighbours (0x0B and 0x0C too); \t \n \r split
    CHECK(ids(tok, "ab\x01" "c") == expect({"abc"}));
    CHECK(ids(tok, "ab\x0b" "c a\x0c" "b") == expect({"abc", "ab"}));
    CHECK(ids(tok, std::string_view("a\x00\x7f" "b", 4)) == expect({"ab"}));
    CHECK(ids(tok, "a\tb\nc\rab") == expect({"a", "b", "c", "ab"}));
    CHECK(ids(tok, "\x01\x02") == expect({}));

    WordPieceOptions raw;
    raw.clean_text = false;
    auto kept = make(raw);
    CHECK(ids(kept, "ab\x0b" "c a\x0c" "b") == expect({"ab", "c", "a", "b"}));  // whitespace here
    CHECK(ids(kept, "ab\x01" "c the") == expect({"[UNK]", "the"}));            // kept in the word
}

TEST(added_tokens_match_raw_text_leftmost_longest) {
    auto tok = make();
    CHECK(ids(tok, "a[SEP]b") == expect({"a", "[SEP]", "b"}));
    CHECK(ids(tok, "[SEP]Xa") == expect({"[SEP]X", "a"}));
    CHECK(ids(tok, "[sep]") == expect({"[", "sep", "]"}));       // not normalised: case matters
    CHECK(ids(tok, "[SE\x01P]") == expect({"[", "sep", "]"}));   // matched before cleaning
    CHECK(ids(tok, "[CLS][SEP][[SEP]") == expect({"[CLS]", "[SEP]", "[", "[SEP]"}));
    CHECK(ids(tok, "[SEP") == expect({"[", "sep"}));
    // an added token may start with a byte clean_text deletes: elsewhere that byte is still deleted
    auto ctl = make({}, {"\x01z"});
    CHECK(ids(ctl, "ab\x01" "c ab\x01" "z \x01") == (std::vector<int32_t>{id_of("abc"), id_of("ab"), 200}));
    CHECK_THROWS(make({}, {"a b"}), "whitespace");
    CHECK_THROWS(make({}, {""}), "empty");
    CHECK_THROWS(make({}, {"[SEP]", "[SEP]"}), "duplicate");
}

TEST(non_ascii_chunks_fall_back_and_splice) {
    auto tok = make();
    std::string_view texts[] = {"a é b", "é\xc3\xa9 x\tab é", "c"};
    Encoded e = tok.encode(texts, /*with_spans=*/true);
    CHECK(e.fallbacks.size() == 3);
    CHECK(e.fallbacks[0].text == 0 && e.fallbacks[0].byte_begin == 2 && e.fallbacks[0].byte_end == 4);
    CHECK(e.fallbacks[0].token_pos == 1 && e.fallbacks[0].char_begin == 2);
    // consecutive non-ASCII chunks make one span; "x" and "ab" are ASCII
    CHECK(e.fallbacks[1].text == 1 && e.fallbacks[1].byte_begin == 0 && e.fallbacks[1].byte_end == 4);
    CHECK(e.fallbacks[2].text == 1 && e.fallbacks[2].byte_begin == 10 && e.fallbacks[2].char_begin == 8);
    CHECK(e.ids == expect({"a", "b", "x", "ab", "c"}));
    CHECK(e.offsets == (std::vector<int64_t>{0, 2, 4, 5}));
    // spans are code points: "ab" starts after "éé x\t", 5 characters in
    CHECK(e.spans == (std::vector<int64_t>{0, 1, 4, 5, 3, 4, 5, 7, 0, 1}));

    std::vector<int32_t> fb_ids = {24, 24, 24, 24};
    std::vector<int64_t> fb_off = {0, 1, 3, 4};
    std::vector<int64_t> fb_spans = {0, 1, 0, 1, 1, 2, 0, 1};
    splice_fallbacks(e, Ragged{fb_ids, fb_off}, fb_spans);
    CHECK(e.fallbacks.empty());
    const int32_t E = 24;
    CHECK(e.ids == (std::vector<int32_t>{id_of("a"), E, id_of("b"), E, E, id_of("x"), id_of("ab"), E, id_of("c")}));
    CHECK(e.offsets == (std::vector<int64_t>{0, 3, 8, 9}));
    CHECK(e.spans == (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 0, 1, 1, 2, 3, 4, 5, 7, 8, 9, 0, 1}));
}

TEST(splice_checks_its_arguments) {
    auto tok = make();
    std::string_view texts[] = {"é"};
    Encoded e = tok.encode(texts);
    std::vector<int32_t> none;
    std::vector<int64_t> zero = {0};
    CHECK_THROWS(splice_fallbacks(e, Ragged{none, zero}, {}), "expected 1");
    std::vector<int64_t> past = {0, 3};
    CHECK_THROWS(splice_fallbacks(e, Ragged{none, past}, {}), "past");
    Encoded s = tok.encode(texts, true);
    std::vector<int32_t> one = {24};
    std::vector<int64_t> off = {0, 1};
    CHECK_THROWS(splice_fallbacks(s, Ragged{one, off}, {}), "2 per fallback token");
}

TEST(threads_give_the_same_result) {
    auto tok = make();
    std::vector<std::string> storage;
    std::mt19937 rng(3);
    const char* pieces[] = {"the ", "unaffable ", "é ", "[SEP]", "x", ", ", "ABC\t", "\x01", "xxxxxxxx "};
    for (int i = 0; i < 3000; ++i) {
        std::string s;
        const int n = static_cast<int>(rng() % 40);
        for (int k = 0; k < n; ++k) s += pieces[rng() % std::size(pieces)];
        storage.push_back(s);
    }
    std::vector<std::string_view> texts(storage.begin(), storage.end());
    for (bool spans : {false, true}) {
        Encoded one = tok.encode(texts, spans, 1);
        for (int threads : {2, 3, 7}) {
            Encoded many = tok.encode(texts, spans, threads);
            CHECK(many.ids == one.ids);
            CHECK(many.offsets == one.offsets);
            CHECK(many.spans == one.spans);
            CHECK(many.fallbacks.size() == one.fallbacks.size());
            for (size_t f = 0; f < one.fallbacks.size() && f < many.fallbacks.size(); ++f) {
                CHECK(many.fallbacks[f].token_pos == one.fallbacks[f].token_pos);
                CHECK(many.fallbacks[f].text == one.fallbacks[f].text);
                CHECK(many.fallbacks[f].byte_begin == one.fallbacks[f].byte_begin);
                CHECK(many.fallbacks[f].char_begin == one.fallbacks[f].char_begin);
            }
        }
    }
}

TEST(bad_vocabularies_throw) {
    std::vector<TokenEntry> vocab = {{"a", 0}};
    CHECK_THROWS(WordPieceTokenizer(vocab, "[UNK]", {}, {}), "not in the vocabulary");
    std::vector<TokenEntry> dup = {{"a", 0}, {"a", 1}};
    CHECK_THROWS(WordPieceTokenizer(dup, "a", {}, {}), "duplicate");
    std::vector<TokenEntry> neg = {{"a", -3}};
    CHECK_THROWS(WordPieceTokenizer(neg, "a", {}, {}), "negative");
}

TEST(no_continuation_prefix_in_vocab) {
    std::vector<TokenEntry> vocab = {{"[UNK]", 0}, {"ab", 1}, {"a", 2}, {"b", 3}};
    WordPieceOptions opt;
    opt.continuing_subword_prefix = "@@";
    WordPieceTokenizer tok(vocab, "[UNK]", {}, opt);
    CHECK(ids(tok, "ab a abb") == (std::vector<int32_t>{1, 2, 0}));
    opt.continuing_subword_prefix = "";
    WordPieceTokenizer bare(vocab, "[UNK]", {}, opt);
    CHECK(ids(bare, "abba") == (std::vector<int32_t>{1, 3, 2}));
}

TEST_MAIN()
