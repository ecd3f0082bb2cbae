#include "fastrerank/lookup.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastrerank {
namespace {

constexpr int32_t kAlphabet = 256;

unsigned char byte_at(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

// Keys [lo, hi) share their first `depth` bytes and hang below `node`.
struct Task {
    int32_t node;
    size_t lo, hi, depth;
};

}  // namespace

ByteTrie::ByteTrie() : units_(kAlphabet + 1) { units_[0].check = kRootCheck; }

ByteTrie::ByteTrie(std::span<const Entry> entries) : ByteTrie() {
    std::vector<Entry> sorted(entries.begin(), entries.end());
    // string_view compares bytes as unsigned char (char_traits<char>::compare is memcmp-like).
    std::sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
    for (size_t i = 0; i < sorted.size(); ++i) {
        if (sorted[i].value < 0) {
            throw std::invalid_argument("trie value of key '" + std::string(sorted[i].key) + "' is negative");
        }
        if (i > 0 && sorted[i].key == sorted[i - 1].key) {
            throw std::invalid_argument("duplicate trie key '" + std::string(sorted[i].key) + "'");
        }
    }

    // Breadth first: place each node's children at base + byte, the lowest base whose units
    // are all free. `first_free` only moves forward; a stretch that is nearly full is skipped
    // for good so that placing stays roughly linear.
    int32_t first_free = 1;
    std::vector<unsigned char> labels;
    std::vector<size_t> starts;
    std::vector<Task> queue{{0, 0, sorted.size(), 0}};
    for (size_t q = 0; q < queue.size(); ++q) {
        const Task task = queue[q];
        size_t lo = task.lo;
        if (lo < task.hi && sorted[lo].key.size() == task.depth) {  // sorted: the exact key first
            units_[task.node].value = sorted[lo].value;
            ++lo;
        }
        labels.clear();
        starts.clear();
        for (size_t i = lo; i < task.hi; ++i) {
            const unsigned char c = byte_at(sorted[i].key, task.depth);
            if (labels.empty() || labels.back() != c) {
                labels.push_back(c);
                starts.push_back(i);
            }
        }
        if (labels.empty()) continue;
        starts.push_back(task.hi);

        while (units_[first_free].check != kFree) ++first_free;
        int32_t pos = std::max<int32_t>(first_free, labels[0] + 1);  // base >= 1: unit 0 is the root
        int32_t tried = 0, occupied = 0;
        int32_t base = 0;
        for (;; ++pos) {
            if (static_cast<size_t>(pos) + kAlphabet >= units_.size()) {
                if (units_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max() / 2)) {
                    throw std::invalid_argument("trie too large");
                }
                units_.resize(units_.size() * 2);
            }
            if (units_[pos].check != kFree) {
                ++occupied;
                continue;
            }
            ++tried;
            base = pos - labels[0];
            bool fits = true;
            for (size_t k = 1; k < labels.size() && fits; ++k) fits = units_[base + labels[k]].check == kFree;
            if (fits) break;
        }
        if (occupied + tried > 64 && occupied * 20 >= (occupied + tried) * 19) first_free = pos;

        units_[task.node].base = base;
        for (size_t k = 0; k < labels.size(); ++k) {
            const int32_t child = base + labels[k];
            units_[child].check = task.node;
            queue.push_back({child, starts[k], starts[k + 1], task.depth + 1});
        }
    }
    // Every unit a walk can reach, base + byte for any base, stays inside the array.
    int32_t max_base = 0;
    for (const Unit& u : units_) max_base = std::max(max_base, u.base);
    units_.resize(static_cast<size_t>(max_base) + kAlphabet + 1);
    units_.shrink_to_fit();
}

ShortKeyMap::Key ShortKeyMap::Key::of(std::string_view s, bool tag) {
    if (s.size() > kMaxKey) {
        throw std::invalid_argument("short key of " + std::to_string(s.size()) + " bytes; at most " +
                                    std::to_string(kMaxKey));
    }
    return pack(reinterpret_cast<const unsigned char*>(s.data()), s.size(), tag);
}

ShortKeyMap::ShortKeyMap() : slots_(1), mask_(0) {}

ShortKeyMap::ShortKeyMap(std::span<const Entry> entries) {
    size_t n = 0;
    for (const Entry& e : entries) n += e.key.size() <= kMaxKey;
    size_t capacity = 2;
    while (capacity < 2 * n + 2) capacity *= 2;  // at most half full: short probe runs
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Entry& e : entries) {
        if (e.value < 0) throw std::invalid_argument("value of key '" + std::string(e.key) + "' is negative");
        if (e.key.size() > kMaxKey) continue;
        const Key k = Key::of(e.key, e.tag);
        size_t i = slot(k);
        for (; slots_[i].value != kNone; i = (i + 1) & mask_) {
            if (slots_[i].lo == k.lo && slots_[i].hi == k.hi) break;
        }
        if (slots_[i].value != kNone) continue;
        slots_[i] = Slot{k.lo, k.hi, e.value};
        ++size_;
    }
}

int32_t ByteTrie::walk(int32_t node, std::string_view s) const {
    for (size_t i = 0; i < s.size() && node != kNone; ++i) node = next(node, byte_at(s, i));
    return node;
}

}  // namespace fastrerank
