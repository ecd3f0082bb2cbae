"""fastrerank: a fast, faithful rerank engine.

Give it a query and documents; it returns them ordered by relevance with scores in [0, 1],
in the shape of the Cohere Rerank v2 API. Cross-encoders run on ONNX Runtime (CPU or CUDA);
a C++ core packs pairs into length-sorted token-budget batches and ranks the results.
"""

from __future__ import annotations

__version__ = "0.1.0"
