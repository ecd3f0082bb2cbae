"""Every default of the engine, one constant each: the library, the command line and the
server read them from here."""

from __future__ import annotations

__all__ = [
    "DEFAULT_BATCH_OVERHEAD",
    "DEFAULT_BATCH_TOKENS",
    "DEFAULT_DEVICE",
    "DEFAULT_FUSE",
    "DEFAULT_MAX_TOKENS_PER_DOC",
    "DEFAULT_NORMALIZE",
    "DEFAULT_PRECISION",
    "DEFAULT_SPAN_TOKENS",
    "DEFAULT_TOKEN_CACHE_BYTES",
    "DEFAULT_TRUNCATION_SIDE",
    "SCORE_PAIRS_CHUNK_CHARS",
    "SCORE_PAIRS_CHUNK_PAIRS",
]

# Cohere's default: a document is cut to this many tokens before it is windowed.
DEFAULT_MAX_TOKENS_PER_DOC = 4096
DEFAULT_TRUNCATION_SIDE = "right"  # cut a too-long document's end, keep its start

# Relevant spans: a document's segments have at most this many tokens: two or three sentences
# (Debian FAQ sentences: 23 tokens on average, 41 at the 90th percentile, so most are never
# split), and long enough that the query and special tokens each segment repeats add a fifth to
# the second pass, not a multiple (measured in README: Relevant spans).
DEFAULT_SPAN_TOKENS = 64

DEFAULT_DEVICE = "cpu"
DEFAULT_PRECISION = "fp32"
DEFAULT_NORMALIZE = "auto"
# fp32 on CPU runs the model file as it is; fuse=True runs its fused copy (fastrerank.fusion).
# Opt-in: the fused graph wins on long rows and loses on short ones (MiniLM-L6, 2 threads, two
# `fastrerank bench --compare` runs: mixed workload 1.045-1.06x unfused, short 0.94-0.98x), and it needs onnx.
DEFAULT_FUSE = False

# Padded tokens per model call. On CPU, with length-sorted rows, small batches are faster than
# big ones (cache-resident activations); on a GPU larger batches keep the device busy.
DEFAULT_BATCH_TOKENS = {"cpu": 1024, "cuda": 16384}
# What one more model call costs, in padded tokens (see _core.cut_batches). On CPU a padded
# token costs as much as a real one and a call little, so batches pad only where lengths are
# close: MiniLM-L6 on 2 threads, a call 2.0 ms and a token 0.115 ms (a call = 17.7 tokens),
# fitted by benchmarks/profile_fp32.py. Replayed in one session 16 beat 64 by 1.03x (short) and
# 1.05x (mixed workload); across processes (fastrerank bench) the two did not separate (1.00x, 0.98x).
# On a GPU extra rows are nearly free and calls are not: fill every batch (greedy, -1).
DEFAULT_BATCH_OVERHEAD = {"cpu": 16, "cuda": -1}

# Memory for the token ids of documents seen before (they come back query after query).
DEFAULT_TOKEN_CACHE_BYTES = 64 << 20

# Reranker.score_pairs reads its pairs in chunks of at most this many pairs, and of about this
# many characters (queries and documents; a chunk holds at least one pair): memory stays bounded
# however many pairs are passed, and a chunk is still big enough for its length-sorted rows to
# pack into tight batches.
SCORE_PAIRS_CHUNK_PAIRS = 8192
SCORE_PAIRS_CHUNK_CHARS = 8 << 20
