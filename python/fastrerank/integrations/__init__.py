"""Adapters for the frameworks users already run, each a thin layer over one Reranker (one
module per framework, each with its own extra)."""
