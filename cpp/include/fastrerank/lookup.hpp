// Vocabulary lookups, built once per model:
//   * ByteTrie: a byte-wise double-array trie, walked one byte at a time (longest-match
//     tokenizers step through it and remember the last value seen);
//   * ShortKeyMap: a hash map for keys of up to 11 bytes, compared as two machine words: one
//     probe answers "is this whole word a vocabulary piece?", which most words are.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace fastrerank {

class ByteTrie {
public:
    static constexpr int32_t kNone = -1;

    struct Entry {
        std::string_view key;
        int32_t value = 0;
    };

    // A trie holding nothing (the root only).
    ByteTrie();
    // Built once from distinct keys (any bytes, any order) with non-negative values. Throws
    // std::invalid_argument on a duplicate key or a negative value.
    explicit ByteTrie(std::span<const Entry> entries);

    static constexpr int32_t root() { return 0; }

    // The node reached from `node` (a node of this trie) by byte `c`, or kNone.
    int32_t next(int32_t node, unsigned char c) const {
        const int32_t t = units_[node].base + c;  // in range: the array has 256 spare units
        return units_[t].check == node ? t : kNone;
    }
    // The value of the key ending at `node`, or kNone when no key ends there.
    int32_t value(int32_t node) const { return units_[node].value; }

    // The node reached from `node` by every byte of `s`, or kNone.
    int32_t walk(int32_t node, std::string_view s) const;
    // The value of `key`, or kNone.
    int32_t find(std::string_view key) const {
        const int32_t n = walk(root(), key);
        return n == kNone ? kNone : value(n);
    }
    // Units in the array (nodes plus holes): the memory it takes is 12 bytes per unit.
    size_t units() const { return units_.size(); }

private:
    struct Unit {
        int32_t base = 0;        // children of this node live at base + byte
        int32_t check = kFree;   // the parent node of this unit, kFree when unused
        int32_t value = kNone;
    };
    static constexpr int32_t kFree = -1;
    static constexpr int32_t kRootCheck = -2;  // marks unit 0 used; equals no node index

    std::vector<Unit> units_;
};

class ShortKeyMap {
public:
    static constexpr size_t kMaxKey = 11;
    static constexpr int32_t kNone = -1;

    // A key packed for lookup: its bytes (little-endian), its length and a one-bit tag (two
    // keyspaces in one map).
    struct Key {
        uint64_t lo = 0;  // bytes 0-7
        uint32_t hi = 0;  // bytes 8-10, then length (bits 24-30) and tag (bit 31)

        // The key of bytes[0, length) (length <= kMaxKey).
        static Key pack(const unsigned char* bytes, size_t length, bool tag) {
            unsigned char buf[12] = {};
            for (size_t i = 0; i < length; ++i) buf[i] = bytes[i];
            Key k;
            std::memcpy(&k.lo, buf, 8);
            std::memcpy(&k.hi, buf + 8, 4);
            k.hi = (k.hi & 0xFFFFFFu) | static_cast<uint32_t>(length) << 24 | static_cast<uint32_t>(tag) << 31;
            return k;
        }
        // pack(bytes, length, false) of ASCII bytes, lowercased when asked, read as two machine
        // words: needs 12 readable bytes at `bytes`.
        static Key pack_ascii_word(const unsigned char* bytes, size_t length, bool lowercase) {
            Key k;
            std::memcpy(&k.lo, bytes, 8);
            std::memcpy(&k.hi, bytes + 8, 4);
            if (lowercase) {  // per byte (all < 0x80): +0x20 where 'A' <= byte <= 'Z'
                k.lo |= upper_bits(k.lo) >> 2;
                k.hi |= static_cast<uint32_t>(upper_bits(k.hi) >> 2);
            }
            if (length < 8) {
                k.lo &= (uint64_t{1} << (8 * length)) - 1;
                k.hi = 0;
            } else {
                k.hi &= (uint32_t{1} << (8 * (length - 8))) - 1;
            }
            k.hi |= static_cast<uint32_t>(length) << 24;
            return k;
        }
        static Key of(std::string_view s, bool tag);  // throws past kMaxKey bytes

    private:
        static uint64_t upper_bits(uint64_t x) {  // 0x80 in each byte of x that is 'A'..'Z'
            constexpr uint64_t ones = 0x0101010101010101ull;
            return (x + 0x3F * ones) & ~(x + 0x25 * ones) & (0x80 * ones);
        }
    };

    ShortKeyMap();
    // Keys longer than kMaxKey are left out. Throws std::invalid_argument on a negative value.
    // A (key, tag) given twice keeps its first value.
    struct Entry {
        std::string_view key;
        bool tag = false;
        int32_t value = 0;
    };
    explicit ShortKeyMap(std::span<const Entry> entries);

    int32_t find(Key k) const {
        for (size_t i = slot(k);; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.lo == k.lo && s.hi == k.hi) return s.value;
            if (s.value == kNone) return kNone;
        }
    }
    size_t size() const { return size_; }

private:
    struct Slot {
        uint64_t lo = 0;
        uint32_t hi = 0;
        int32_t value = kNone;  // kNone: empty (its key {0, 0} is the empty key's: not found)
    };
    size_t slot(Key k) const {
        const uint64_t h = (k.lo ^ (static_cast<uint64_t>(k.hi) * 0x9E3779B97F4A7C15ull)) * 0xD6E8FEB86659FD93ull;
        return static_cast<size_t>(h >> 32) & mask_;
    }

    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
};

}  // namespace fastrerank
