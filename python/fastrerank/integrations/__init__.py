"""Thin adapters over one :class:`fastrerank.Reranker` for the frameworks users already work in.
Each module imports its framework, so each is importable only where that framework is installed
(``import fastrerank`` imports none of them):

- :mod:`fastrerank.integrations.langchain`: ``FastRerankCompressor`` (extra ``langchain``)
- :mod:`fastrerank.integrations.llama_index`: ``FastRerankPostprocessor`` (extra ``llama-index``)
- :mod:`fastrerank.integrations.haystack`: ``FastRerankRanker`` (extra ``haystack``)
- :mod:`fastrerank.integrations.ray`: ``PairScorer`` for Ray Data, ``build_app`` for Ray Serve (extra ``ray``)
"""
