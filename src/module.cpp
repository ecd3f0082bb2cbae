// fastrerank._core: the C++ core seen from Python. One register_* per area.
#include <nanobind/nanobind.h>

#include "bindings.hpp"

NB_MODULE(_core, m) {
    m.doc() = "fastrerank's native core: pair packing, scoring and WordPiece tokenization.";
    fastrerank::bindings::register_packing(m);
    fastrerank::bindings::register_scoring(m);
    fastrerank::bindings::register_tokenizer(m);
}
