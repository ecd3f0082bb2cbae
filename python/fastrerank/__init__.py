"""fastrerank: a fast, faithful rerank engine.

Give it a query and documents; it returns them ordered by relevance with scores in [0, 1],
in the shape of the Cohere Rerank v2 API::

    from fastrerank import Reranker
    rr = Reranker("path/to/model")            # model.onnx + tokenizer.json + config.json
    resp = rr.rerank("query", ["doc a", "doc b"], top_n=1)
    resp.to_dict()                             # the Cohere v2 JSON

Cross-encoders run on ONNX Runtime (CPU or CUDA); a C++ core packs pairs into length-sorted
token-budget batches and ranks the results. Importing this package does not import
onnxruntime.
"""

from __future__ import annotations

from fastrerank.engine import DocumentLimits, EncodedRequest
from fastrerank.hub import ModelNotAvailableError
from fastrerank.reranker import Reranker
from fastrerank.session import DeviceNotAvailableError, OnnxRuntimeConflictError
from fastrerank.types import ApiVersion, BilledUnits, Meta, RerankResponse, RerankResult, Scored, Span

__version__ = "0.1.0"

__all__ = [
    "ApiVersion",
    "BilledUnits",
    "DeviceNotAvailableError",
    "DocumentLimits",
    "EncodedRequest",
    "Meta",
    "ModelNotAvailableError",
    "OnnxRuntimeConflictError",
    "RerankResponse",
    "RerankResult",
    "Reranker",
    "Scored",
    "Span",
    "__version__",
]
