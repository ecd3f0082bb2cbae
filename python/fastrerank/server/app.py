"""The ASGI application: routes, body limits, authentication, errors, readiness and draining.

A raw ASGI app (no framework): every rerank route reads the body under a byte limit, decodes
it with msgspec into its request type, checks values with the library's checks, tokenizes the
query and documents once, queues the pairs on the :class:`~fastrerank.server.batcher.Batcher`
and waits for them, for the client to go away, or for the deadline, whichever comes first.
Every answer that is not a success is JSON with a ``message``; nothing a client sends reaches
past an error response, and no error repeats more than a bounded part of the request or says
anything of the server's internals (a 500 names a request id that the log has the details of).
Bodies larger than ``tokenize_inline_chars`` are decoded, checked and tokenized on a thread, so
the loop (``/health`` included) never waits for a large request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from fastrerank import inputs
from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC, DEFAULT_SPAN_TOKENS
from fastrerank.engine import DEFAULT_LIMITS, DocumentLimits, EncodedRequest, Engine
from fastrerank.server import schemas
from fastrerank.server.admission import prepare
from fastrerank.server.auth import BearerAuth
from fastrerank.server.batcher import Batcher, Job
from fastrerank.server.config import ServerConfig
from fastrerank.server.errors import HTTPError
from fastrerank.server.limits import check_body_size, check_request_size, too_long
from fastrerank.server.media import check_json
from fastrerank.server.metrics import Metrics
from fastrerank.server.openapi import openapi
from fastrerank.server.outcomes import DeadlinePassed, EngineFailed, NotServed, Overloaded, ShuttingDown, TooMuchWork
from fastrerank.spans import best_spans, segment_documents
from fastrerank.types import ApiVersion, BilledUnits, Meta, Ranking, Scored, Span, new_id, ranked, rerank_response

__all__ = ["App"]

log = logging.getLogger("fastrerank.server")

JSON = b"application/json"
TEI_ERROR_TYPES = {
    400: "Validation",
    401: "Validation",
    413: "Validation",
    415: "Validation",
    422: "Validation",
    429: "Overloaded",
    500: "Backend",
    503: "Unhealthy",
}

_T = TypeVar("_T")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ClientGone(Exception):
    """The client closed the connection: nothing is answered."""


class _Probe(msgspec.Struct):
    """Just enough of a /rerank body to tell TEI's shape (texts) from Cohere's (documents)."""

    texts: msgspec.Raw = msgspec.Raw()  # empty: absent
    documents: msgspec.Raw = msgspec.Raw()


@dataclass(frozen=True)
class _Work:
    """A checked request, whatever its route: what to score and how."""

    query: str
    texts: list[str]
    priority: int = 0
    limits: DocumentLimits = DEFAULT_LIMITS
    normalize: str | None = None


def _http_error(outcome: NotServed) -> HTTPError:
    """The HTTP answer to a request the queue did not serve."""
    if isinstance(outcome, Overloaded):
        return HTTPError(429, str(outcome), {"retry-after": str(outcome.retry_after)})
    if isinstance(outcome, TooMuchWork):
        return HTTPError(413, str(outcome))
    if isinstance(outcome, ShuttingDown):
        return HTTPError(503, str(outcome), {"connection": "close"})
    if isinstance(outcome, EngineFailed):
        return _internal_error(outcome.__cause__ or outcome, "the engine failed")
    assert isinstance(outcome, (DeadlinePassed, NotServed))
    return HTTPError(503, str(outcome))


def _internal_error(error: BaseException, what: str) -> HTTPError:
    """A 500 that says nothing of ``error``: it goes to the log under a request id, which the
    answer names."""
    request_id = new_id()
    log.error("%s (request id %s)", what, request_id, exc_info=error)
    return HTTPError(500, f"internal error (request id {request_id}: the server's log has the details)")


def _values(
    query: Any, documents: Any, rank_fields: Any, top_n: Any, max_tokens: Any, priority: Any, max_chars: int, what: str
) -> tuple[str, list[str], int, int, int]:
    """The library's checks, their messages as they are: (query, texts, top_n or -1,
    max_tokens_per_doc, priority). A bad value is a 400; documents the server cannot read as asked
    (a dict without 'text', rank_fields naming a missing field) are a 422."""
    try:
        query = inputs.check_query(query)
        n = inputs.check_top_n(_integer(top_n))
        max_tokens = inputs.check_max_tokens_per_doc(DEFAULT_MAX_TOKENS_PER_DOC if max_tokens is None else _integer(max_tokens))
        priority = _check_priority(priority)
        inputs.check_rank_fields(rank_fields)  # a bad rank_fields value is a 400, not a 422
        try:
            texts = inputs.document_texts(documents, rank_fields, max_chars=max_chars)
        except inputs.TextTooLong as e:
            raise too_long(e, what=what) from e
        except ValueError as e:
            raise HTTPError(422, str(e)) from e
    except (TypeError, ValueError) as e:
        raise HTTPError(400, str(e)) from e
    return query, texts, n, max_tokens, priority


def _integer(value: Any) -> Any:
    """JSON Schema's integer: 3.0 is 3. Anything else is left for the checks to refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _span_options(max_spans: Any, span_tokens: Any) -> tuple[int, int]:
    """(max_spans, span_tokens) by the library's checks, absent ones at their defaults; a bad value is a 400."""
    try:
        count = inputs.check_max_spans(0 if max_spans is None else _integer(max_spans))
        size = inputs.check_span_tokens(DEFAULT_SPAN_TOKENS if span_tokens is None else _integer(span_tokens))
    except (TypeError, ValueError) as e:
        raise HTTPError(400, str(e)) from e
    return count, size


def _check_priority(priority: Any) -> int:
    """None (0) or an int of 0 or more; lower is served first."""
    priority = _integer(priority)
    if priority is None:
        return 0
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(f"priority must be an int of 0 or more, got {priority!r}")
    if priority < 0:
        raise ValueError(f"priority must be 0 (the default, served first) or more, got {priority}")
    return priority


class App:
    """The rerank server as an ASGI application.

    Args:
        config: limits and behaviour.
        engine: a loaded :class:`~fastrerank.engine.Engine` (a :class:`~fastrerank.Reranker`,
            or the stub), or None with
            ``load``: a function that loads it, called on a thread at startup while ``/ready``
            answers 503.
        on_ready, on_failed: called (on the loading thread) when the engine is up or failed.
        submit: how a request's pairs are scored, instead of the App's own
            :class:`~fastrerank.server.batcher.Batcher` (none is made): an async function that
            fills a prepared :class:`~fastrerank.server.batcher.Job`'s ``scores`` and
            ``windows`` (e.g. with :func:`~fastrerank.server.batcher.score_parts`), or raises
            a :class:`~fastrerank.server.outcomes.NotServed` outcome. Everything else stays
            the App's: decoding, checks, tokenizing, the deadline and the client watch (either
            cancels the call). Ray Serve's ``@serve.batch`` plugs in here
            (:mod:`fastrerank.integrations.ray`).

    A route prefix arrives as the ASGI ``root_path`` (Ray Serve's ``route_prefix``, uvicorn's
    ``--root-path``): routes are matched below it.
    """

    def __init__(
        self,
        config: ServerConfig | None = None,
        engine: Engine | None = None,
        *,
        load: Callable[[], Engine] | None = None,
        on_ready: Callable[[Engine], None] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
        submit: Callable[[Job], Awaitable[None]] | None = None,
    ) -> None:
        if (engine is None) == (load is None):
            raise ValueError("pass either engine or load")
        self.config = config or ServerConfig()
        self.metrics = Metrics()
        self.auth = BearerAuth(self.config.api_key)
        self.engine = engine
        self.batcher: Batcher | None = None
        self.state = "loading"  # loading -> ready -> draining; or failed
        self.load_error: BaseException | None = None
        self._load = load
        self._on_ready = on_ready
        self._on_failed = on_failed
        self._submit = submit
        self._handling = 0  # rerank requests between arrival and answer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tokenizer_pool = ThreadPoolExecutor(max_workers=self.config.tokenizer_threads, thread_name_prefix="fastrerank-tokenize")
        self._encoder = msgspec.json.Encoder()
        self._openapi = msgspec.json.encode(openapi(self.config))
        self._routes: dict[str, tuple[str, Callable[[Scope, Receive, Send], Awaitable[int]]]] = {
            "/v2/rerank": ("POST", self._v2),
            "/v1/rerank": ("POST", self._v1),
            "/rerank": ("POST", self._tei),
            "/health": ("GET", self._health),  # GET routes answer HEAD too
            "/ready": ("GET", self._ready),
            "/metrics": ("GET", self._metrics),
            "/openapi.json": ("GET", self._openapi_json),
        }
        self._drain_started: float | None = None
        self._starting: asyncio.Task[None] | None = None
        self.metrics.ready.read_from(lambda: self.state == "ready")
        self.metrics.draining.read_from(lambda: self.state == "draining")

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """On the event loop: starts serving, or loading the engine on a thread first."""
        self._loop = asyncio.get_running_loop()
        if self.engine is not None:
            self._engine_up(self.engine)
        else:
            threading.Thread(target=self._load_engine, name="fastrerank-load", daemon=True).start()

    def _load_engine(self) -> None:
        assert self._load is not None and self._loop is not None
        try:
            engine = self._load()
        except BaseException as e:  # reported, not raised: this is a thread
            self.load_error = e
            self.state = "failed"
            if self._on_failed is not None:
                self._on_failed(e)
            return
        self._loop.call_soon_threadsafe(self._engine_up, engine)

    @property
    def routes(self) -> dict[str, str]:
        """Every route's path and its method."""
        return {path: method for path, (method, _) in self._routes.items()}

    def _engine_up(self, engine: Engine) -> None:
        if self._submit is not None:  # an outside scheduler scores the pairs: no queue to measure
            self.engine = engine
            self._serving(engine)
            return
        assert self._loop is not None
        self._starting = self._loop.create_task(self._start_batcher(engine), name="fastrerank-start")

    async def _start_batcher(self, engine: Engine) -> None:
        """Measures the engine's throughput (admission needs it from the first request), then serves."""
        c = self.config
        batcher = Batcher(
            engine, step_tokens=c.step_tokens, max_queue_pairs=c.max_queue_pairs, max_queue_tokens=c.max_queue_tokens, metrics=self.metrics
        )
        try:
            await batcher.calibrate()
        except Exception as e:  # the engine cannot score: as good as not loaded
            await batcher.close()
            self.load_error = e
            self.state = "failed"
            if self._on_failed is not None:
                self._on_failed(e)
            return
        self.engine = engine
        self.metrics.queue_pairs.read_from(lambda: batcher.queued_pairs)
        self.metrics.queue_tokens.read_from(lambda: batcher.queued_tokens)
        self.metrics.queue_requests.read_from(lambda: batcher.queued_requests)
        self.metrics.active_requests.read_from(lambda: batcher.active)
        self.metrics.throughput.read_from(lambda: batcher.tokens_per_second)
        batcher.start()
        self.batcher = batcher
        self._serving(engine)

    def _serving(self, engine: Engine) -> None:
        if self.state == "loading":
            self.state = "ready"
        elif self.batcher is not None:  # draining began while loading
            self.batcher.stop_accepting()
        if self._on_ready is not None:
            self._on_ready(engine)

    def begin_drain(self) -> None:
        """SIGTERM: readiness turns 503, new requests are refused, queued ones are served, and
        every answer says ``Connection: close`` (no connection is kept for more)."""
        if self.state != "failed":
            self.state = "draining"
        if self._drain_started is None:
            self._drain_started = time.monotonic()
        if self.batcher is not None:
            self.batcher.stop_accepting()

    @property
    def drained(self) -> bool:
        """True once draining and no request is waiting for an answer."""
        return self.state in ("draining", "failed") and self._handling == 0 and (self.batcher is None or self.batcher.active == 0)

    @property
    def drain_done(self) -> bool:
        """True once the drain has lasted ``min_drain_time`` and the queue is served, or it has
        lasted ``drain_timeout``; then :meth:`close` answers what is left 503 and the listener
        may close."""
        if self.state == "failed":
            return True
        if self._drain_started is None:
            return False
        elapsed = time.monotonic() - self._drain_started
        return elapsed >= self.config.drain_timeout or (elapsed >= self.config.min_drain_time and self.drained)

    async def close(self, timeout: float | None = None) -> None:
        """Stops the batcher, waiting up to ``timeout`` seconds (default ``drain_timeout``) for
        queued requests; those still waiting are answered 503 with ``Connection: close``."""
        self.begin_drain()
        if self._starting is not None and self.batcher is None:
            self._starting.cancel()  # still calibrating: there is nothing to serve yet
        if self.batcher is not None:
            await self.batcher.close(timeout=self.config.drain_timeout if timeout is None else timeout)
        self._tokenizer_pool.shutdown(wait=False)  # a request being tokenized finishes, then meets the closed queue

    # ---- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.start()
                except Exception as e:
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        path = _below_root(scope)
        route = self._routes.get(path)
        label = path if route is not None else "other"
        sent = [False]

        async def tracked_send(message: dict[str, Any]) -> None:
            sent[0] = True
            await send(message)

        try:
            if route is None:
                raise HTTPError(404, f"no route {path[:100]}; the routes are {', '.join(self._routes)}")
            method, handler = route
            if scope["method"] != method and not (method == "GET" and scope["method"] == "HEAD"):
                allow = "GET, HEAD" if method == "GET" else method
                raise HTTPError(405, f"{path} takes {allow}, not {scope['method'][:20]}", {"allow": allow})
            status = await handler(scope, receive, tracked_send)
        except (HTTPError, NotServed) as e:
            error = e if isinstance(e, HTTPError) else _http_error(e)
            status = error.status
            if not sent[0]:
                await self._error(send, error, tei=path == "/rerank")
        except ClientGone:
            status = 499
        except asyncio.CancelledError:  # the server gave up on this request (shutting down): still JSON
            if not sent[0]:
                await self._error(send, HTTPError(503, "the server shut down before this request was served", {"connection": "close"}))
            raise
        except Exception as e:  # a bug: answer 500 and keep serving
            status = 500
            error = _internal_error(e, f"unhandled error on {path}")
            if not sent[0]:
                await self._error(send, error, tei=path == "/rerank")
        self.metrics.requests.inc(label, str(status))
        self.metrics.request_seconds.observe(time.perf_counter() - start, label)

    async def _send(self, send: Send, status: int, body: bytes, content_type: bytes = JSON, headers: dict[str, str] | None = None) -> int:
        raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if headers:
            raw.extend((k.encode(), v.encode()) for k, v in headers.items())
        if self.state == "draining" and not (headers and "connection" in headers):
            raw.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
        return status

    async def _error(self, send: Send, error: HTTPError, *, tei: bool = False) -> int:
        body = schemas.ErrorBody(message=error.message)
        if tei:  # TEI clients read `error` and `error_type`
            body = schemas.ErrorBody(message=error.message, error=error.message, error_type=TEI_ERROR_TYPES.get(error.status, "Backend"))
        return await self._send(send, error.status, self._encoder.encode(body), headers=error.headers)

    # ---- plain routes ----------------------------------------------------------------------

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> int:
        return await self._send(send, 200, b'{"status":"ok"}')

    async def _ready(self, scope: Scope, receive: Receive, send: Send) -> int:
        if self.state == "ready":
            return await self._send(send, 200, b'{"status":"ready"}')
        raise HTTPError(503, self._not_ready_message())

    def _not_ready_message(self) -> str:
        if self.state == "loading":
            return "the model is loading"
        if self.state == "failed":
            return "the model failed to load (the server's log says why)"
        return "the server is shutting down"

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> int:
        return await self._send(send, 200, self.metrics.render(), b"text/plain; version=0.0.4; charset=utf-8")

    async def _openapi_json(self, scope: Scope, receive: Receive, send: Send) -> int:
        return await self._send(send, 200, self._openapi)

    # ---- rerank routes ---------------------------------------------------------------------

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """Authenticates, checks readiness and the body's type, and reads it under the byte limit."""
        authorization = length = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
        self.auth.check(authorization)
        check_json(content_type)
        if self.state != "ready":
            headers = {"retry-after": "1"} if self.state == "loading" else {"connection": "close"}
            raise HTTPError(503, self._not_ready_message(), headers)
        if length is not None and length.isdigit():
            check_body_size(int(length), self.config)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            check_body_size(size, self.config)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _off_loop(self, size: float, work: Callable[[], _T]) -> _T:
        """``work()`` here when ``size`` (characters or bytes) is at most ``tokenize_inline_chars``,
        else on a tokenizer thread: the loop never waits for a large request."""
        if size <= self.config.tokenize_inline_chars:
            return work()
        return await asyncio.get_running_loop().run_in_executor(self._tokenizer_pool, work)

    async def _decode(self, body: bytes, kind: type[Any]) -> Any:
        return await self._off_loop(len(body), functools.partial(self._decode_now, body, kind))

    @staticmethod
    def _decode_now(body: bytes, kind: type[Any]) -> Any:
        try:
            return msgspec.json.decode(body, type=kind)
        except msgspec.ValidationError as e:
            raise HTTPError(400, f"invalid request: {e}") from e
        except msgspec.DecodeError as e:
            raise HTTPError(400, f"malformed JSON: {e}") from e
        except RecursionError as e:
            raise HTTPError(400, "malformed JSON: nested too deeply") from e
        except UnicodeDecodeError as e:  # msgspec raises it for invalid UTF-8 inside a string
            raise HTTPError(400, f"malformed JSON: not UTF-8 ({e.reason} at byte {e.start} of a string)") from e

    async def _score(self, work: _Work, arrival: float, receive: Receive) -> Job:
        """Tokenizes, queues and waits for ``work``; the job with every document's score."""
        assert self.engine is not None
        encode = functools.partial(self.engine.encode_request, work.query, work.texts, work.limits)
        t0 = time.perf_counter()
        request = await self._off_loop(len(work.query) + sum(map(len, work.texts)), encode)
        self.metrics.tokenize_seconds.observe(time.perf_counter() - t0)
        return await self._queue(request, work, arrival, receive)

    async def _spans(
        self, work: _Work, request: EncodedRequest, ranking: Ranking, max_spans: int, span_tokens: int, arrival: float, receive: Receive
    ) -> list[list[Span]]:
        """The spans of ``ranking``'s documents of ``request``: their segments, queued as one more request."""
        assert self.engine is not None
        cut = functools.partial(segment_documents, self.engine, request, ranking.indices, work.texts, span_tokens)
        segments = await self._off_loop(sum(len(work.texts[i]) for i in ranking.indices), cut)
        job = await self._queue(segments.request, work, arrival, receive)
        return best_spans(segments, job.scores, max_spans)

    async def _queue(self, request: EncodedRequest, work: _Work, arrival: float, receive: Receive) -> Job:
        """Queues ``request`` (with ``work``'s priority and normalisation) and waits for it; the job with every document's score."""
        assert self.engine is not None
        prep = prepare(self.engine, request)
        deadline = arrival + self.config.request_timeout
        job = Job(prep, priority=work.priority, deadline=deadline, normalize=work.normalize)
        cancel: Callable[..., None]
        if self._submit is None:
            assert self.batcher is not None
            future = self.batcher.submit(job)
            if future.done():
                return future.result()
            cancel = functools.partial(self.batcher.cancel, job)
        else:
            future, cancel = _submitted(self._submit, job)
        loop = asyncio.get_running_loop()

        def client_gone(task: asyncio.Task[None]) -> None:
            if not task.cancelled():
                cancel(ClientGone())

        def deadline_passed() -> None:
            message = f"the request's deadline passed ({self.config.request_timeout:g} s, --request-timeout); retry later"
            cancel(DeadlinePassed(message))

        watch = loop.create_task(self._disconnected(receive))
        watch.add_done_callback(client_gone)
        timer = loop.call_later(max(0.0, deadline - time.monotonic()), deadline_passed)
        try:
            return await future
        except asyncio.CancelledError:
            cancel()
            raise
        finally:
            watch.cancel()
            timer.cancel()

    @staticmethod
    async def _disconnected(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _handle(self, scope: Scope, receive: Receive, send: Send, answer: Callable[[bytes, float, Receive], Awaitable[Any]]) -> int:
        arrival = time.monotonic()
        self._handling += 1
        try:
            body = await self._body(scope, receive)
            return await self._send(send, 200, self._encoder.encode(await answer(body, arrival, receive)))
        finally:
            self._handling -= 1

    async def _v2(self, scope: Scope, receive: Receive, send: Send) -> int:
        async def answer(body: bytes, arrival: float, receive: Receive) -> Any:
            return await self._answer_v2(await self._decode(body, schemas.V2RerankRequest), arrival, receive)

        return await self._handle(scope, receive, send, answer)

    async def _v1(self, scope: Scope, receive: Receive, send: Send) -> int:
        async def answer(body: bytes, arrival: float, receive: Receive) -> Any:
            return await self._answer_v1(await self._decode(body, schemas.V1RerankRequest), arrival, receive)

        return await self._handle(scope, receive, send, answer)

    async def _tei(self, scope: Scope, receive: Receive, send: Send) -> int:
        async def answer(body: bytes, arrival: float, receive: Receive) -> Any:
            probe = await self._decode(body, _Probe)
            if not probe.texts and probe.documents:
                return await self._answer_v1(await self._decode(body, schemas.V1RerankRequest), arrival, receive)
            if not probe.texts:
                raise HTTPError(400, "invalid request: Object missing required field `texts` (TEI), or send `documents` (Cohere)")
            return await self._answer_tei(await self._decode(body, schemas.TEIRerankRequest), arrival, receive)

        return await self._handle(scope, receive, send, answer)

    async def _checked(
        self, request: Any, documents: Any, rank_fields: Any = None, what: str = "documents"
    ) -> tuple[str, list[str], int, int, int]:
        check_request_size(request.query, len(documents), self.config, what=what)  # before any text is built
        values = functools.partial(
            _values,
            request.query,
            documents,
            rank_fields,
            getattr(request, "top_n", None),
            getattr(request, "max_tokens_per_doc", None),
            getattr(request, "priority", None),
            self.config.max_document_chars,
            what,
        )
        if any(type(d) is not str for d in documents):  # object documents' texts are built: not on the loop
            return await self._off_loop(math.inf, values)
        return values()

    async def _answer_v2(self, r: schemas.V2RerankRequest, arrival: float, receive: Receive) -> dict[str, Any]:
        spans = r.relevant_spans
        if spans is not None:
            if spans.max_spans is not None and not isinstance(_integer(spans.max_spans), int):
                raise HTTPError(400, f"relevant_spans.max_spans must be an int, got {spans.max_spans!r}")
            if spans.mode == "enabled":
                raise HTTPError(422, "relevant_spans is not supported by this model (Cohere returns spans only from Rerank v5 models)")
        max_spans, span_tokens = _span_options(r.max_spans, r.span_tokens)
        query, texts, n, max_tokens, priority = await self._checked(r, r.documents)
        work = _Work(query, texts, priority, DocumentLimits(max_tokens))
        job = await self._score(work, arrival, receive)
        ranking = _ranking(job, n)
        found = await self._spans(work, job.prep.request, ranking, max_spans, span_tokens, arrival, receive) if max_spans else None
        return rerank_response(ranking, spans=found).to_dict()

    async def _answer_v1(self, r: schemas.V1RerankRequest, arrival: float, receive: Receive) -> schemas.V1RerankResponse:
        query, texts, n, max_tokens, priority = await self._checked(r, r.documents, r.rank_fields)
        chunks = self.config.v1_max_chunks_per_doc if r.max_chunks_per_doc is None else _integer(r.max_chunks_per_doc)
        if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
            raise HTTPError(400, f"max_chunks_per_doc must be an int of 1 or more, got {chunks!r}")
        max_spans, span_tokens = _span_options(r.max_spans, r.span_tokens)
        work = _Work(query, texts, priority, DocumentLimits(max_tokens, chunks))
        job = await self._score(work, arrival, receive)
        ranking = _ranking(job, n)
        give = self.config.v1_return_documents if r.return_documents is None else r.return_documents
        docs: Sequence[Any] = r.documents
        results = [
            schemas.V1Result(i, s, inputs.returned_document(docs[i]) if give else None) for i, s in zip(ranking.indices, ranking.scores)
        ]
        if max_spans:
            found = await self._spans(work, job.prep.request, ranking, max_spans, span_tokens, arrival, receive)
            for result, its_spans in zip(results, found):
                result.spans = its_spans
        meta = Meta(ApiVersion(version="1"), BilledUnits(ranking.search_units)).to_dict()
        usage = schemas.Usage(total_tokens=job.prep.tokens)
        return schemas.V1RerankResponse(new_id(), results, meta, r.model or self.config.model_name, usage)

    async def _answer_tei(self, r: schemas.TEIRerankRequest, arrival: float, receive: Receive) -> list[schemas.TEIResult]:
        query, texts, _, max_tokens, _ = await self._checked(r, r.texts, what="texts")
        one_window = bool(r.truncate)
        side = "left" if one_window and r.truncation_direction.lower() == "left" else "right"
        limits = DocumentLimits(max_tokens, 1 if one_window else None, side)
        work = _Work(query, texts, limits=limits, normalize="none" if r.raw_scores else None)
        ranking = _ranking(await self._score(work, arrival, receive), -1)
        return [schemas.TEIResult(i, s, texts[i] if r.return_text else None) for i, s in zip(ranking.indices, ranking.scores)]


def _below_root(scope: Scope) -> str:
    """The request's path below the ASGI ``root_path`` (which the path includes, per the spec)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "").rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


def _submitted(submit: Callable[[Job], Awaitable[None]], job: Job) -> tuple[asyncio.Future[Job], Callable[..., None]]:
    """``submit(job)`` running, as the Batcher's submit and cancel have it: a future of the
    job, and ``cancel(error=None)``, which settles the future with ``error`` (or cancels it)
    and cancels the call."""
    call = asyncio.ensure_future(submit(job))
    future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()

    def settle(done: asyncio.Future[None]) -> None:
        error = None if done.cancelled() else done.exception()  # always read: never "never retrieved"
        if future.done():
            return
        if done.cancelled():
            future.cancel()
        elif error is not None:
            future.set_exception(error)
        else:
            future.set_result(job)

    def cancel(error: BaseException | None = None) -> None:
        if not future.done():
            if error is None:
                future.cancel()
            else:
                future.set_exception(error)
        call.cancel()

    call.add_done_callback(settle)
    return future, cancel


def _ranking(job: Job, top_n: int) -> Ranking:
    return ranked(Scored(job.scores, job.windows), top_n)
