"""What Ray costs on one machine: Ray Data's PairScorer against the Reranker alone, and Ray
Serve's build_app against ``fastrerank serve`` under the same load, with each replica's memory.
Everything on a local, loopback-only Ray cluster this script starts and shuts down; every run
is bounded in time. Prints one JSON line per measurement.

    python benchmarks/ray_scaleout.py data  --model DIR [--pairs 2000]
    python benchmarks/ray_scaleout.py serve --model DIR [--duration 30 --concurrency 16 --docs 10]

``data``: pairs/s of the Reranker alone (PairScorer called in this process on the same batches,
2 and 1 threads), then Ray Data with 1 actor x 2 CPUs, 1 x 1 and 2 x 1 (actor start included:
it is part of what a job pays). ``serve``: benchmarks/server_load.py (closed loop) against
``fastrerank serve --threads 2``, then build_app with 1 replica x 2 CPUs (batching "serve" and
"fastrerank") and 2 replicas x 1 CPU; memory is each server process's RSS and PSS after the load,
and the Ray processes' total.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before ray: its node stays on 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from server_load import make_requests  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mib(pid: int) -> dict[str, float]:
    """RSS and PSS of one process, MiB."""
    out = {}
    for key, file in (("rss", "status"), ("pss", "smaps_rollup")):
        try:
            for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
                if line.startswith({"rss": "VmRSS:", "pss": "Pss:"}[key]):
                    out[key] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
    return out


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(proc.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def start_ray(num_cpus: int) -> str:
    import ray

    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    return temp


def stop_ray(temp: str) -> None:
    import ray
    from ray import serve

    try:
        serve.shutdown()
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def emit(**row: Any) -> None:
    print(json.dumps(row), flush=True)


# ---- Ray Data ----------------------------------------------------------------------------------


def pairs_frame(n: int) -> Any:
    import pandas as pd

    requests = make_requests(max(1, n // 10), 10, 0, 5, 40)  # 10 documents per query
    rows = [(q, d) for q, docs in requests for d in docs][:n]
    return pd.DataFrame({"id": range(len(rows)), "query": [q for q, _ in rows], "document": [d for _, d in rows]})


def data(args: argparse.Namespace) -> None:
    import ray

    from fastrerank.integrations.ray import PairScorer

    df = pairs_frame(args.pairs)
    batches = [df.iloc[i : i + args.batch_size] for i in range(0, len(df), args.batch_size)]
    for threads in (2, 1):
        scorer = PairScorer(args.model, threads=threads)
        scorer(batches[0])  # warm up
        start = time.perf_counter()
        for b in batches:
            scorer(b)
        seconds = time.perf_counter() - start
        emit(what="alone", threads=threads, pairs=len(df), seconds=round(seconds, 2), pairs_per_s=round(len(df) / seconds, 1))
    temp = start_ray(2)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray.data.DataContext.get_current().wait_for_min_actors_s = 120
        ray.data.from_pandas(batches).materialize()  # the blocks in the object store before timing
        for actors, cpus in ((1, 2), (1, 1), (2, 1)):
            ds = ray.data.from_pandas(batches)
            start = time.perf_counter()
            out = ds.map_batches(
                PairScorer,
                fn_constructor_kwargs={"model": str(args.model)},
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=cpus,
                batch_size=args.batch_size,
                batch_format="pandas",
            ).materialize()
            seconds = time.perf_counter() - start
            assert out.count() == len(df)
            emit(
                what="ray data",
                actors=actors,
                cpus_per_actor=cpus,
                pairs=len(df),
                seconds=round(seconds, 2),
                pairs_per_s=round(len(df) / seconds, 1),
            )
    finally:
        stop_ray(temp)


# ---- Ray Serve ---------------------------------------------------------------------------------


def wait_ready(url: str, limit: float = 300.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not become ready")


def load(url: str, args: argparse.Namespace, label: str) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "server_load.py"), "--url", url, "--docs", str(args.docs), "--concurrency", str(args.concurrency)]
    subprocess.run([*command, "--duration", "3", "--label", "warm-up"], check=True, capture_output=True, timeout=300)
    out = subprocess.run(
        [*command, "--duration", str(args.duration), "--label", label], check=True, capture_output=True, text=True, timeout=600
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def summary(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("sent", "ok", "failed", "req_per_s", "docs_per_s", "p50_ms", "p99_ms")
    return {k: result[k] for k in keys if k in result}


def serve(args: argparse.Namespace) -> None:
    from ray import serve as ray_serve

    from fastrerank.integrations.ray import build_app

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fastrerank", "serve", "--model", str(args.model), "--threads", "2", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        result = load(url, args, "fastrerank serve")
        emit(what="fastrerank serve", threads=2, **summary(result), memory=memory_mib(server.pid))
    finally:
        server.terminate()
        server.wait(timeout=60)

    temp = start_ray(2)
    try:
        port = free_port()
        ray_serve.start(http_options={"host": "127.0.0.1", "port": port})
        url = f"http://127.0.0.1:{port}"
        for replicas, cpus, batching in ((1, 2, "serve"), (1, 2, "fastrerank"), (2, 1, "serve")):
            app = build_app(args.model, batching=batching, num_replicas=replicas, ray_actor_options={"num_cpus": cpus})
            ray_serve.run(app, name="bench", route_prefix="/")
            wait_ready(url)
            result = load(url, args, f"serve {replicas}x{cpus} {batching}")
            procs = descendants(os.getpid())
            replica = [memory_mib(p) for p in procs if title(p).startswith("ray::ServeReplica:bench:")]
            ray_total = round(sum(memory_mib(p).get("pss", 0.0) for p in procs), 1)
            emit(
                what="ray serve",
                replicas=replicas,
                cpus_per_replica=cpus,
                batching=batching,
                **summary(result),
                replica_memory=replica,
                ray_processes_pss_mib=ray_total,
            )
            ray_serve.delete("bench")
    finally:
        stop_ray(temp)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["data", "serve"])
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--pairs", type=int, default=2000, help="data: pairs scored (default 2000)")
    p.add_argument("--batch-size", type=int, default=200, help="data: rows per batch (default 200)")
    p.add_argument("--duration", type=float, default=30.0, help="serve: seconds of load per server (default 30)")
    p.add_argument("--concurrency", type=int, default=16, help="serve: closed-loop clients (default 16)")
    p.add_argument("--docs", type=int, default=10, help="serve: documents per request (default 10)")
    args = p.parse_args()
    args.model = args.model.resolve()
    data(args) if args.what == "data" else serve(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
