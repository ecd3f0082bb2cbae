"""Benchmarks shipped with the package: the peer comparison (``fastrerank bench --compare``),
its workload, the systems it runs, and the null graph that isolates the host pipeline."""
