"""Ray: batch scoring with Ray Data, online serving with Ray Serve (``pip install 'fastrerank[ray]'``).

- :class:`PairScorer`: a callable class for ``Dataset.map_batches`` that scores (query,
  document) rows; one :class:`~fastrerank.Reranker` per actor.
- :func:`build_app`: a Ray Serve application serving the routes, JSON and errors of
  ``fastrerank serve`` (Cohere v2, Cohere v1 / Jina, TEI) from fastrerank's own ASGI
  :class:`~fastrerank.server.app.App` in every replica, with the pairs of concurrent requests
  batched by ``@serve.batch``. :func:`app_builder` is its ``serve run`` / config-file form.

Threads follow the grant: Ray sets ``OMP_NUM_THREADS`` to an actor's ``num_cpus``, and the
Reranker's default threads never exceed it (:func:`fastrerank.cpu.thread_grant`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC
from fastrerank.engine import DocumentLimits
from fastrerank.reranker import Reranker

__all__ = [
    "BATCHING",
    "DEFAULT_BATCH_WAIT_S",
    "DEFAULT_MAX_BATCH_PAIRS",
    "DEFAULT_MAX_ONGOING_REQUESTS",
    "PairScorer",
    "app_builder",
    "build_app",
]

# Pairs in one @serve.batch call (a request with more is cut into chunks of this many).
DEFAULT_MAX_BATCH_PAIRS = 256
# How long @serve.batch waits for company after a batch's first chunk (a lone request waits it too).
DEFAULT_BATCH_WAIT_S = 0.005
# Requests one replica holds at once. Serve's default (5) would cap a batch at 5 requests.
DEFAULT_MAX_ONGOING_REQUESTS = 64
# Who batches a replica's pairs: "serve" (@serve.batch) or "fastrerank" (the App's own Batcher:
# round-robin across requests, priorities, 429 from the measured throughput, queue metrics).
BATCHING = ("serve", "fastrerank")


# ---- Ray Data ----------------------------------------------------------------------------------


class PairScorer:
    """Scores (query, document) rows for ``Dataset.map_batches``: adds ``score_column`` with
    each row's score (float32, as :meth:`~fastrerank.Reranker.rerank` gives it); the other
    columns pass through. Batches: numpy (a dict of arrays) or pandas. One Reranker per actor,
    its threads from the actor's CPUs (``num_cpus``)::

        ds.map_batches(PairScorer, fn_constructor_kwargs={"model": "path/to/model"},
                       compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1, batch_size=256)

    Args:
        model: what :class:`~fastrerank.Reranker` takes (a directory or a Hub name).
        query_column, document_column, score_column: the column names.
        max_tokens_per_doc: a document is cut to this many tokens, then windowed (as in
            ``rerank``).
        reranker_options: the Reranker's other options (``threads``, ``precision``, ...).

    Ray Data does not keep row order unless asked (``DataContext.execution_options.preserve_order``):
    carry an id column to join on.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        query_column: str = "query",
        document_column: str = "document",
        score_column: str = "score",
        max_tokens_per_doc: int = DEFAULT_MAX_TOKENS_PER_DOC,
        **reranker_options: Any,
    ) -> None:
        for name, value in (("query_column", query_column), ("document_column", document_column), ("score_column", score_column)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a column name (str), got {type(value).__name__}")
        self.query_column, self.document_column, self.score_column = query_column, document_column, score_column
        self.max_tokens_per_doc = DocumentLimits(max_tokens_per_doc).max_tokens_per_doc
        self.reranker = Reranker(model, **reranker_options)

    def __call__(self, batch: Any) -> Any:
        """The batch with ``score_column`` added (numpy: a new dict; pandas: a new DataFrame)."""
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(batch, pandas.DataFrame):
            columns = list(batch.columns)
        elif isinstance(batch, Mapping):
            columns = list(batch)
        else:
            raise TypeError(f"PairScorer takes numpy or pandas batches (batch_format='numpy' or 'pandas'), got {type(batch).__name__}")
        for arg, name in (("query_column", self.query_column), ("document_column", self.document_column)):
            if name not in columns:
                raise ValueError(f"the batch has no column {name!r} (it has {columns}); pass {arg}=... to PairScorer")
        pairs = list(zip(_strings(batch[self.query_column]), _strings(batch[self.document_column])))
        scores = self.reranker.score_pairs(pairs, self.max_tokens_per_doc)
        if isinstance(batch, Mapping):
            return {**batch, self.score_column: scores}
        return batch.assign(**{self.score_column: scores})


def _strings(column: Any) -> list[Any]:
    return column.tolist() if hasattr(column, "tolist") else list(column)


# ---- Ray Serve ---------------------------------------------------------------------------------

Chunk = tuple[Any, int, int]  # (server.batcher.Job, first, end): pairs first:end of a request, dispatch order


def _pairs(chunks: Sequence[Chunk]) -> int:
    """``@serve.batch``'s ``batch_size_fn``: a batch's size is its pairs, not its requests."""
    return sum(end - first for _, first, end in chunks)


def build_app(
    model: str | os.PathLike[str],
    *,
    batching: str = "serve",
    max_batch_pairs: int = DEFAULT_MAX_BATCH_PAIRS,
    batch_wait_timeout_s: float = DEFAULT_BATCH_WAIT_S,
    reranker_options: Mapping[str, Any] | None = None,
    server_options: Mapping[str, Any] | None = None,
    name: str = "fastrerank",
    **deployment_options: Any,
) -> Any:
    """A Ray Serve application serving ``model`` with the routes, JSON and errors of
    ``fastrerank serve``::

        serve.run(build_app("path/to/model", num_replicas=2), route_prefix="/")

    Args:
        model: what :class:`~fastrerank.Reranker` takes; a local path is made absolute here
            (replicas run in another directory).
        batching: ``"serve"``: the pairs of concurrent requests are batched by
            ``@serve.batch``, at most ``max_batch_pairs`` pairs per batch (a bigger request
            is cut into chunks), waiting up to ``batch_wait_timeout_s`` for company.
            ``"fastrerank"``: the App's own continuous batcher (no fixed wait, round-robin
            across requests, priorities, 429 with ``Retry-After``, queue metrics).
        reranker_options: the Reranker's options (``threads`` defaults to the replica's
            ``num_cpus``).
        server_options: :class:`~fastrerank.server.config.ServerConfig` fields (limits,
            ``api_key``, ``request_timeout``, ...).
        name: the deployment's name.
        deployment_options: passed to ``serve.deployment``: ``num_replicas``,
            ``autoscaling_config``, ``ray_actor_options`` (default ``{"num_cpus": 1}``),
            ``max_ongoing_requests`` (default 64: with Serve's 5 a batch could hold no more
            than 5 requests), ``max_queued_requests``, ``health_check_period_s``,
            ``graceful_shutdown_timeout_s``, ...

    Every option is checked here, before Ray starts anything. Serve's own answers stay its
    own (plain text): 500 for requests held by a replica that died, 503 past
    ``max_queued_requests``, 404 outside the route prefix.
    """
    from ray import serve

    if batching not in BATCHING:
        raise ValueError(f"batching must be one of {', '.join(map(repr, BATCHING))}, got {batching!r}")
    if isinstance(max_batch_pairs, bool) or not isinstance(max_batch_pairs, int) or max_batch_pairs < 1:
        raise ValueError(f"max_batch_pairs must be an int of 1 or more, got {max_batch_pairs!r}")
    if (
        isinstance(batch_wait_timeout_s, bool)
        or not isinstance(batch_wait_timeout_s, (int, float))
        or not 0 <= batch_wait_timeout_s < math.inf
    ):
        raise ValueError(f"batch_wait_timeout_s must be a finite number of seconds, 0 or more, got {batch_wait_timeout_s!r}")
    reranker_options = dict(reranker_options or {})
    unknown = set(reranker_options) - set(list(inspect.signature(Reranker).parameters)[1:])
    if unknown:
        raise TypeError(f"reranker_options has {sorted(unknown)}, which Reranker does not take")
    path = os.fspath(model)
    if os.path.exists(path):
        path = os.path.abspath(path)
    server_options = {"model_name": os.path.basename(os.path.normpath(path)), **(server_options or {})}
    _server_config(server_options)  # checked now, made again in each replica
    options = {"max_ongoing_requests": DEFAULT_MAX_ONGOING_REQUESTS, **deployment_options, "name": name}
    options["ray_actor_options"] = {"num_cpus": 1, **(deployment_options.get("ray_actor_options") or {})}
    deployment = serve.deployment(**options)(_deployment_class())
    return deployment.bind(path, reranker_options, server_options, batching, max_batch_pairs, float(batch_wait_timeout_s))


def app_builder(args: Mapping[str, Any]) -> Any:
    """:func:`build_app` for ``serve run`` and Serve config files, which call a builder with
    one dict::

        serve run fastrerank.integrations.ray:app_builder model=path/to/model batching=fastrerank

    ``args``: ``model``, and optionally ``batching``, ``max_batch_pairs``,
    ``batch_wait_timeout_s`` (strings from the command line are converted),
    ``reranker_options`` and ``server_options`` (mappings, from a config file). Deployment
    settings (replicas, autoscaling, CPUs) go in the config file's ``deployments`` section."""
    if not isinstance(args, Mapping):  # Serve hands a pydantic model only to a builder annotated with one
        raise TypeError(f"app_builder takes a dict of arguments, got {type(args).__name__}")
    accepted = ("model", "batching", "max_batch_pairs", "batch_wait_timeout_s", "reranker_options", "server_options")
    unknown = set(args) - set(accepted)
    if unknown or "model" not in args:
        problem = f"it has {sorted(unknown)}" if unknown else "model is missing"
        raise TypeError(f"app_builder takes {', '.join(accepted)} (model required); {problem}")
    values = dict(args)
    for key, kind in (("max_batch_pairs", int), ("batch_wait_timeout_s", float)):
        if isinstance(values.get(key), str):
            try:
                values[key] = kind(values[key])
            except ValueError:
                raise ValueError(f"{key} must be a number, got {values[key]!r}") from None
    return build_app(values.pop("model"), **values)


def _server_config(options: Mapping[str, Any]) -> Any:
    from fastrerank.server.config import ServerConfig

    try:
        return ServerConfig(**options)
    except TypeError as e:
        if "unexpected keyword" in str(e):
            raise TypeError(f"server_options: {e} (the fields of fastrerank.server.config.ServerConfig)") from e
        raise


@functools.lru_cache(maxsize=1)
def _deployment_class() -> type:
    """The replica class (made on first use: it needs ray)."""
    from ray import serve

    from fastrerank.server.app import App
    from fastrerank.server.batcher import Job, observe_step, score_parts
    from fastrerank.server.outcomes import EngineFailed

    @serve.ingress()
    class FastrerankReplica:
        """One replica: one Reranker, loaded before the replica takes traffic (Serve routes to
        it only after the constructor, the App's startup and a first health check), served by
        fastrerank's App."""

        def __init__(
            self,
            model: str,
            reranker_options: dict[str, Any],
            server_options: dict[str, Any],
            batching: str,
            max_batch_pairs: int,
            batch_wait_timeout_s: float,
        ) -> None:
            self.reranker = Reranker(model, **reranker_options)
            submit = None
            if batching == "serve":
                self._max_pairs = max_batch_pairs
                self._engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastrerank-engine")
                batched: Any = self._score_chunks  # @serve.batch's wrapper: its limits are set per replica
                batched.set_max_batch_size(max_batch_pairs)
                batched.set_batch_wait_timeout_s(batch_wait_timeout_s)
                submit = self._submit
            self.server = App(_server_config(server_options), self.reranker, submit=submit)

        def __serve_build_asgi_app__(self) -> App:
            return self.server  # Serve runs its lifespan startup (App.start) before routing here

        async def _submit(self, job: Job) -> None:
            """The App's seam: a request's pairs, longest first, in chunks of at most max_batch_pairs."""
            n, size = job.prep.n_docs, self._max_pairs
            await asyncio.gather(*(self._score_chunks((job, first, min(first + size, n))) for first in range(0, n, size)))

        @serve.batch(max_batch_size=DEFAULT_MAX_BATCH_PAIRS, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_S, batch_size_fn=_pairs)
        async def _score_chunks(self, chunks: list[Chunk]) -> list[None]:
            """One batch of chunks from concurrent requests: one engine pass on the engine
            thread (the GIL is released while the model runs, so the loop keeps serving)."""
            try:
                seconds = await asyncio.get_running_loop().run_in_executor(self._engine_thread, score_parts, self.reranker, chunks)
            except Exception as e:  # answers this batch's requests with 500, not the replica
                raise EngineFailed("the engine failed on this request") from e  # the cause goes to the log, not the client
            observe_step(self.server.metrics, chunks, seconds)
            return [None] * len(chunks)

        def check_health(self) -> None:
            """Serve's health check (before the first request, then every
            ``health_check_period_s``): the App must be serving."""
            if self.server.state != "ready":
                raise RuntimeError(f"fastrerank is {self.server.state}: {self.server.load_error or 'not serving'}")

        def threads(self) -> tuple[int, str]:
            """The replica's Reranker threads and the rule that decided them."""
            return self.reranker.threads, self.reranker.threads_rule

    return FastrerankReplica
