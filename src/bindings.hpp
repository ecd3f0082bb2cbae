// Shared helpers of the nanobind layer: argument types and zero-copy returns.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace fastrerank::bindings {

namespace nb = nanobind;

template <class T>
using In1D = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

template <class T>
using Out1D = nb::ndarray<nb::numpy, T, nb::ndim<1>>;

template <class T>
using Out2D = nb::ndarray<nb::numpy, T, nb::ndim<2>>;

template <class T>
std::span<const T> view(const In1D<T>& a) {
    return {a.data(), a.shape(0)};
}

// Moves a vector to the heap and returns a numpy array over it that owns it (no copy).
// Needs the GIL.
template <class T>
Out1D<T> to_numpy(std::vector<T>&& values) {
    auto* heap = new std::vector<T>(std::move(values));
    nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
    return Out1D<T>(heap->data(), {heap->size()}, owner);
}

// The same as a [size / cols, cols] array (size a multiple of cols).
template <class T>
Out2D<T> to_numpy(std::vector<T>&& values, size_t cols) {
    auto* heap = new std::vector<T>(std::move(values));
    nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
    const size_t shape[2] = {heap->size() / cols, cols};
    return Out2D<T>(heap->data(), 2, shape, owner);
}

void register_packing(nb::module_& m);
void register_scoring(nb::module_& m);
void register_tokenizer(nb::module_& m);

}  // namespace fastrerank::bindings
