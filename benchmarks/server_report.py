"""Medians of benchmarks/server_matrix.sh's JSON lines, as the markdown table in docs/server.md.

python benchmarks/server_report.py benchmarks/results/server.jsonl
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict


def main(path: str) -> None:
    runs: dict[str, list[dict]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                run = json.loads(line)
                runs[run["label"]].append(run)
    print("| run | runs | req/s (median) | p50 ms | p90 ms | p99 ms | answered | failed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, rs in runs.items():

        def med(key: str, rs: list = rs) -> str:
            values = [r[key] for r in rs if r.get(key) is not None]
            return f"{statistics.median(values):.2f}" if key == "req_per_s" else f"{statistics.median(values):.0f}" if values else "-"

        ok = sum(r["ok"] for r in rs)
        failed = sum(r["failed"] for r in rs)
        print(f"| {label} | {len(rs)} | {med('req_per_s')} | {med('p50_ms')} | {med('p90_ms')} | {med('p99_ms')} | {ok} | {failed} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/server.jsonl")
