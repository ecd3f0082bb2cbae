"""fastrerank.integrations.ray: PairScorer (Ray Data) and build_app (Ray Serve).

The first tests call PairScorer and the builders in this process. The rest run on a local Ray
cluster this module starts (2 CPUs, loopback only: the node is checked to be 127.0.0.1) and
always shuts down; every load loop is bounded by count or time, and a watchdog ends a hung run.
"""

from __future__ import annotations

import os

# Before ray is imported: else Ray takes the default route's address as the node IP and binds
# its servers there. With this (the switch Ray uses on macOS and Windows) it stays on 127.0.0.1.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import faulthandler  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import cohere  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from fastrerank import Reranker  # noqa: E402
from fastrerank.integrations.ray import PairScorer, app_builder, build_app  # noqa: E402

from server_utils import WORDS, assert_same_ranking, metrics, shared_batches  # noqa: E402

CLUSTER_SECONDS = 360  # the watchdog: the whole cluster part of this module, start to shutdown (about 100 s on 2 loaded cores)
HALF_A_CPU = 0.5  # per replica: two apps of two and one replicas fit the cluster's 2 CPUs
SLACK = 0.05  # seconds between taking the kill's time and the kill


@pytest.fixture(scope="module")
def model(tiny_models) -> Path:
    return tiny_models["bert-1"]


@pytest.fixture(scope="module")
def rr(model) -> Reranker:
    return Reranker(model)


def pairs_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows: 41 distinct queries, documents of 1 to 60 words (some empty), an id."""
    rng = random.Random(seed)
    queries = [f"query {i}: " + " ".join(rng.choices(WORDS, k=3)) for i in range(41)]
    documents = [" ".join(rng.choices(WORDS, k=rng.randrange(0, 61))) for _ in range(n)]
    return pd.DataFrame({"id": np.arange(n), "q": [queries[i % 41] for i in range(n)], "d": documents})


def reference_scores(rr: Reranker, df: pd.DataFrame) -> np.ndarray:
    """Each row's score from Reranker.rerank, one call per query."""
    want = np.zeros(len(df), dtype=np.float32)
    for query, group in df.groupby("q"):
        ids = group["id"].to_numpy()
        for r in rr.rerank(query, group["d"].tolist()).results:
            want[ids[r.index]] = r.relevance_score
    return want


# ---- in this process ---------------------------------------------------------------------------


def test_pair_scorer_numpy_and_pandas_batches(model, rr):
    df = pairs_frame(300)
    scorer = PairScorer(model, query_column="q", document_column="d", score_column="s")
    want = reference_scores(rr, df)
    out = scorer({c: df[c].to_numpy() for c in df.columns})
    assert set(out) == {"id", "q", "d", "s"} and out["s"].dtype == np.float32
    np.testing.assert_allclose(out["s"], want, rtol=0, atol=1e-5)
    frame = scorer(df)
    assert list(frame.columns) == ["id", "q", "d", "s"] and "s" not in df.columns  # a new frame
    np.testing.assert_allclose(frame["s"].to_numpy(), want, rtol=0, atol=1e-5)
    assert len(scorer(df.iloc[:0])) == 0


def test_pair_scorer_says_what_is_wrong(model):
    scorer = PairScorer(model)
    with pytest.raises(ValueError, match=r"no column 'query' \(it has \['q', 'document'\]\); pass query_column="):
        scorer({"q": np.array(["a"]), "document": np.array(["b"])})
    with pytest.raises(TypeError, match="numpy or pandas batches"):
        scorer([("a", "b")])
    with pytest.raises(TypeError, match="query_column must be a column name"):
        PairScorer(model, query_column=0)
    with pytest.raises(ValueError, match="max_tokens_per_doc"):
        PairScorer(model, max_tokens_per_doc=0)
    with pytest.raises(ValueError, match="query is empty"):
        scorer({"query": np.array([" "]), "document": np.array(["b"])})
    assert scorer({"query": np.array(["a"]), "document": np.array(["b"])})["score"].shape == (1,)  # still works


def test_pair_scorer_scores_through_score_pairs(model):
    class WithScorePairs(Reranker):
        def score_pairs(self, pairs, max_tokens_per_doc=4096, *, show_progress=False):
            self.asked = (list(pairs), max_tokens_per_doc)
            return np.arange(len(pairs), dtype=np.float32)

    scorer = PairScorer(model, max_tokens_per_doc=7)
    scorer.reranker = WithScorePairs(model)
    out = scorer(pd.DataFrame({"query": ["a", "b"], "document": ["x", "y"]}))
    assert out["score"].tolist() == [0.0, 1.0] and scorer.reranker.asked == ([("a", "x"), ("b", "y")], 7)


def test_build_app_checks_options_before_ray_starts(model):
    from ray import serve

    assert isinstance(build_app(model), serve.Application)
    for bad, kind, needle in [
        ({"batching": "ray"}, ValueError, "batching must be one of 'serve', 'fastrerank'"),
        ({"max_batch_pairs": 0}, ValueError, "max_batch_pairs"),
        ({"batch_wait_timeout_s": float("nan")}, ValueError, "batch_wait_timeout_s"),
        ({"reranker_options": {"thread": 2}}, TypeError, r"\['thread'\], which Reranker does not take"),
        ({"server_options": {"max_documents": 0}}, ValueError, "max_documents must be positive"),
        ({"server_options": {"max_docs": 5}}, TypeError, "server_options: .*max_docs"),
    ]:
        with pytest.raises(kind, match=needle):
            build_app(model, **bad)
    assert isinstance(app_builder({"model": str(model), "max_batch_pairs": "64", "batch_wait_timeout_s": "0.01"}), serve.Application)
    with pytest.raises(TypeError, match="model required.*model is missing"):
        app_builder({})
    with pytest.raises(TypeError, match=r"it has \['num_replicas'\]"):
        app_builder({"model": str(model), "num_replicas": "2"})
    with pytest.raises(ValueError, match="max_batch_pairs must be a number"):
        app_builder({"model": str(model), "max_batch_pairs": "many"})


# ---- on a local Ray cluster ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray import cloudpickle

    faulthandler.dump_traceback_later(CLUSTER_SECONDS, exit=True)
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's unix sockets live under it
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
        assert ray.util.get_node_ip_address() == "127.0.0.1", "the Ray node is not on loopback"
        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this module
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray
    finally:
        try:
            from ray import serve

            serve.shutdown()
        finally:
            ray.shutdown()
            faulthandler.cancel_dump_traceback_later()
            shutil.rmtree(temp, ignore_errors=True)


class WhoScored(PairScorer):
    """PairScorer that also says which actor scored each row, and with how many threads."""

    def __call__(self, batch: Any) -> Any:
        out = super().__call__(batch)
        out["pid"] = np.full(len(out["id"]), os.getpid())
        out["threads"] = np.full(len(out["id"]), self.reranker.threads)
        return out


@pytest.mark.parametrize("batch_format", ["numpy", "pandas"])
def test_ray_data_scores_equal_the_reranker(cluster, model, rr, batch_format):
    ray = cluster
    ray.data.DataContext.get_current().wait_for_min_actors_s = 120  # both actors up before the first block goes out
    df = pairs_frame(2000, seed=1)
    ds = ray.data.from_pandas([df.iloc[i : i + 100] for i in range(0, len(df), 100)])  # 20 blocks
    out = ds.map_batches(
        WhoScored,
        fn_constructor_kwargs={"model": str(model), "query_column": "q", "document_column": "d", "score_column": "s"},
        compute=ray.data.ActorPoolStrategy(size=2),
        num_cpus=1,
        batch_size=100,
        batch_format=batch_format,
    ).to_pandas()
    assert len(out) == len(df) and out["id"].is_unique  # nothing lost or doubled
    assert out["pid"].nunique() == 2  # two actors, one Reranker each
    assert set(out["threads"]) == {1}  # num_cpus=1: Ray sets OMP_NUM_THREADS=1, the grant follows
    out = out.sort_values("id")  # Ray Data does not keep row order
    assert (out["q"].to_numpy() == df["q"].to_numpy()).all() and (out["d"].to_numpy() == df["d"].to_numpy()).all()
    np.testing.assert_allclose(out["s"].to_numpy(), reference_scores(rr, df), rtol=0, atol=1e-5)


@dataclass
class Outcome:
    """One request under load: when it left and came back (seconds from the load's start), and
    its HTTP status (0: no answer) and whether its ranking was the library's."""

    start: float
    end: float
    status: int
    right: bool
    detail: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(cluster, model):
    """The app on two replicas behind Serve's proxy on 127.0.0.1: (base URL, handle)."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app = build_app(
        model,
        num_replicas=2,
        ray_actor_options={"num_cpus": HALF_A_CPU},
        health_check_period_s=1.0,
        health_check_timeout_s=10.0,
        server_options={"request_timeout": 60},
    )
    handle = serve.run(app, name="fr", route_prefix="/")
    yield f"http://127.0.0.1:{port}", handle
    serve.delete("fr")


def make_request(client: int, seq: int) -> tuple[str, list[str]]:
    """A request no other (client, seq) sends: its own query and 4 to 12 documents."""
    rng = random.Random(client * 100_000 + seq)
    query = f"client {client} request {seq}: " + " ".join(rng.choices(WORDS, k=4))
    return query, [" ".join(rng.choices(WORDS, k=rng.randrange(1, 40))) for _ in range(rng.randrange(4, 13))]


def check(rr: Reranker, query: str, documents: list[str], results: list[dict[str, Any]]) -> str:
    """'' when ``results`` are the library's ranking of this request, else what differs."""
    try:
        assert_same_ranking(results, rr.rerank(query, documents).to_dict()["results"])
    except AssertionError as e:
        return f"wrong ranking: {e}"
    return ""


def test_serve_answers_the_cohere_sdk(served, rr):
    url, handle = served
    co = cohere.ClientV2(base_url=url, api_key="any", timeout=60)
    query, documents = make_request(0, 0)
    got = co.rerank(model="tiny", query=query, documents=documents, top_n=3)
    want = rr.rerank(query, documents, top_n=3).to_dict()
    assert_same_ranking([r.dict() for r in got.results], want["results"])
    assert got.meta.billed_units.search_units == want["meta"]["billed_units"]["search_units"]
    v1 = cohere.Client(base_url=url, api_key="any").rerank(query=query, documents=documents, top_n=2, return_documents=True)
    assert [r.index for r in v1.results] == [r["index"] for r in want["results"][:2]] and v1.results[0].document.text
    assert handle.threads.remote().result(timeout_s=60) == (1, "OMP_NUM_THREADS")  # num_cpus=1 per replica


def test_serve_errors_are_the_servers(served):
    url, _ = served
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/v2/rerank", json={"query": " ", "documents": ["a"]})
        assert r.status_code == 400 and "query is empty" in r.json()["message"]
        r = c.post("/rerank", json={"query": "q"})
        assert r.status_code == 400 and r.json()["error_type"] == "Validation"
        r = c.get("/v2/rerank")
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert c.get("/nope").status_code == 404 and "no route /nope" in c.get("/nope").json()["message"]
        assert c.post("/v1/rerank", json={"query": "q", "documents": [{"title": "b"}]}).status_code == 422
        assert c.get("/ready").json() == {"status": "ready"} and c.get("/health").json() == {"status": "ok"}
        assert "fastrerank_requests_total" in c.get("/metrics").text


def test_serve_16_concurrent_sdk_clients(served, rr):
    url, _ = served
    per_client = 12
    answers: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        co = cohere.ClientV2(base_url=url, api_key="any", timeout=60)
        for seq in range(per_client):
            query, documents = make_request(c, seq)
            try:
                got = co.rerank(model="tiny", query=query, documents=documents)
                problem = check(rr, query, documents, [r.dict() for r in got.results])
            except Exception as e:  # noqa: BLE001  (counted, not raised: the test reports all)
                problem = f"{type(e).__name__}: {e}"
            with lock:
                answers.append((c, seq, problem))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert sorted((c, s) for c, s, _ in answers) == [(c, s) for c in range(16) for s in range(per_client)]  # nothing lost
    assert [a for a in answers if a[2]] == []  # nothing mixed up


def sixteen_clients(url: str, rr: Reranker) -> list[str]:
    """16 raw HTTP clients, 6 requests each (one of 16 to 48 documents); per request, '' or what was wrong."""
    problems: list[str] = []

    def client(c: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for seq in range(6):
                query, documents = make_request(100 + c, seq)
                documents = documents * 4 if (c, seq) == (0, 0) else documents
                r = http.post("/v2/rerank", json={"query": query, "documents": documents})
                ok = r.status_code == 200
                problems.append(check(rr, query, documents, r.json()["results"]) if ok else f"{r.status_code} {r.text[:100]}")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return problems


def test_serve_batches_pairs_of_concurrent_requests_below_a_prefix(served, model, rr):
    """A second app at /small (Serve's route_prefix: the App's root_path): @serve.batch batches
    of at most 16 pairs, gathered from concurrent requests; a request of up to 48 documents goes
    in chunks. The App's step metrics show it. Then the same app with fastrerank's batcher."""
    from ray import serve

    base, _ = served
    for batching in ("serve", "fastrerank"):
        app = build_app(
            model,
            name="small",
            batching=batching,
            max_batch_pairs=16,
            batch_wait_timeout_s=0.02,
            num_replicas=1,
            ray_actor_options={"num_cpus": HALF_A_CPU},
        )
        serve.run(app, name="small", route_prefix="/small")
        url = base + "/small"
        problems = sixteen_clients(url, rr)
        assert len(problems) == 16 * 6 and not any(problems), [p for p in problems if p][:3]
        m = metrics(url)
        if batching == "serve":
            assert m['fastrerank_step_pairs_bucket{le="16"}'] == m["fastrerank_step_pairs_count"], "a batch held more than max_batch_pairs"
        assert shared_batches(m) > 0, "no batch held pairs of two requests"
        assert httpx.get(base + "/small-not/health").json()["message"].startswith("no route /small-not/health")  # not below /small
    serve.delete("small")


def replica_pids() -> list[int]:
    """Pids of the Serve replica processes (their title: ``ray::ServeReplica:APP:DEPLOYMENT``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(b"ray::ServeReplica:fr:"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return sorted(pids)


def wait_for_replicas(n: int, limit: float = 120.0) -> None:
    from ray import serve

    end = time.monotonic() + limit
    while time.monotonic() < end:
        states = serve.status().applications["fr"].deployments["fastrerank"].replica_states
        if states.get("RUNNING", 0) == n == sum(states.values()) and len(replica_pids()) == n:
            return
        time.sleep(0.5)
    raise AssertionError(f"the replicas did not come back: {serve.status()}")


def load(url: str, rr: Reranker, *, clients: int, seconds: float, kill_at: float, pid: int, sdk: bool) -> tuple[list[Outcome], float]:
    """``clients`` threads send requests back to back for ``seconds`` (raw HTTP without retries,
    or the cohere SDK, which retries 5xx twice); ``pid`` is SIGKILLed at ``kill_at``. Returns
    every request's outcome and the kill's time."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    killed = [0.0]

    def client(c: int) -> None:
        seq = 0
        co = cohere.ClientV2(base_url=url, api_key="any", timeout=60)
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.perf_counter() - t0 < seconds:
                query, documents = make_request(c, 10_000 * (2 if sdk else 1) + seq)
                seq += 1
                start = time.perf_counter() - t0
                status, detail, results = 0, "", None
                try:
                    if sdk:
                        results, status = [r.dict() for r in co.rerank(model="m", query=query, documents=documents).results], 200
                    else:
                        r = http.post("/v2/rerank", json={"query": query, "documents": documents})
                        status, detail = r.status_code, r.text[:200]
                        if status == 200:
                            results = r.json()["results"]
                except Exception as e:  # noqa: BLE001  (an outcome, not a test error)
                    detail = f"{type(e).__name__}: {e}"[:200]
                right = results is not None and not check(rr, query, documents, results)
                with lock:
                    outcomes.append(Outcome(start, time.perf_counter() - t0, status, right, detail))

    def kill() -> None:
        time.sleep(kill_at)
        killed[0] = time.perf_counter() - t0
        os.kill(pid, signal.SIGKILL)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)] + [threading.Thread(target=kill)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    return outcomes, killed[0]


def test_replica_killed_mid_load(served, rr):
    """SIGKILL one of two replicas under 16 clients. Serve's router retries a request that a
    replica had not accepted: one sent to the dead replica before the router knew is routed
    again. What the dead replica had accepted (in flight on it) fails with Serve's own 500, and
    is all that is lost. A client that retries 5xx (the cohere SDK: twice) loses nothing."""
    url, _ = served
    wait_for_replicas(2)
    outcomes, killed = load(url, rr, clients=16, seconds=6.0, kill_at=2.0, pid=replica_pids()[0], sdk=False)
    lost = [o for o in outcomes if not o.right]
    assert not [o for o in outcomes if o.status == 200 and not o.right], "an answer with another request's ranking"
    assert all(o.status == 500 for o in lost), {(o.status, o.detail) for o in lost}
    assert all(o.start <= killed + SLACK and o.end >= killed for o in lost), "only requests in flight at the kill may be lost"
    assert len(lost) <= 16  # at most what the killed replica held: one request per client
    after = [o for o in outcomes if o.start > killed + SLACK]
    assert after and all(o.right for o in after), "requests sent after the kill are routed to the live replica"
    assert sum(o.right for o in outcomes) >= 5 * max(1, len(lost))
    print(f"raw HTTP: {len(outcomes)} requests, {len(lost)} lost (in flight on the killed replica), kill at {killed:.2f} s")

    wait_for_replicas(2)  # Serve restarted it
    outcomes, killed = load(url, rr, clients=16, seconds=6.0, kill_at=2.0, pid=replica_pids()[0], sdk=True)
    assert outcomes and all(o.right for o in outcomes), [o for o in outcomes if not o.right][:3]
    print(f"cohere SDK: {len(outcomes)} requests, none lost, kill at {killed:.2f} s")
    wait_for_replicas(2)
