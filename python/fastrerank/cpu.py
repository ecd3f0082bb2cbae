"""What this machine's CPU offers: the cores this process may use, the share of them it is
granted (cgroup CPU quota, ``OMP_NUM_THREADS``), and the int8 instruction sets. The one place
that reads /proc/cpuinfo, the CPU topology and the cgroup files.

The functions that read the machine take ``root`` (where ``/proc`` and ``/sys`` are found,
default ``/``), so they can be pointed at a copy of those files."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

__all__ = ["ThreadGrant", "cgroup_cpu_quota", "cpu_isa", "has_vnni", "omp_num_threads", "physical_cores", "thread_grant"]

# The rules of thread_grant, in the order a tie is reported.
PHYSICAL_CORES = "physical cores"
CGROUP_QUOTA = "cgroup CPU quota"
OMP_NUM_THREADS = "OMP_NUM_THREADS"


class ThreadGrant(NamedTuple):
    """How many threads this process is granted, and which rule decided it
    (``"physical cores"``, ``"cgroup CPU quota"`` or ``"OMP_NUM_THREADS"``)."""

    threads: int
    rule: str


def thread_grant(
    root: str | os.PathLike[str] = "/", *, environ: Mapping[str, str] | None = None, cpus: Collection[int] | None = None
) -> ThreadGrant:
    """The threads to run on by default: the smallest of the physical cores in the affinity
    mask, the cgroup CPU quota (rounded, at least 1) and ``OMP_NUM_THREADS`` when it is set
    (Ray sets it to an actor's ``num_cpus``). Inside a container, a Kubernetes pod or a Ray
    actor, more threads than this only take turns on the same CPU time.

    ``root``: where ``/proc`` and ``/sys`` are; ``environ``: the environment (default
    ``os.environ``); ``cpus``: the affinity mask (default this process's)."""
    candidates = [(physical_cores(root, cpus=cpus), PHYSICAL_CORES)]
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        candidates.append((max(1, math.floor(quota + 0.5)), CGROUP_QUOTA))
    omp = omp_num_threads(os.environ if environ is None else environ)
    if omp is not None:
        candidates.append((omp, OMP_NUM_THREADS))
    threads, rule = min(candidates, key=lambda c: c[0])  # the first of equals
    return ThreadGrant(threads, rule)


def omp_num_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """``OMP_NUM_THREADS`` as a positive int (its first level when it is a list such as
    ``"4,2"``); None when it is unset or not a positive int."""
    value = (os.environ if environ is None else environ).get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def cgroup_cpu_quota(root: str | os.PathLike[str] = "/") -> float | None:
    """CPUs' worth of time this process's cgroups allow (quota / period), the smallest along
    its cgroup and the ancestors visible to it; cgroup v2 ``cpu.max`` and v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``. None when there is no quota or the files
    cannot be read. The cgroup comes from ``/proc/self/cgroup`` and where its hierarchy is
    mounted from ``/proc/self/mountinfo`` (not assumed to be ``/sys/fs/cgroup``)."""
    base = Path(root)
    try:
        groups = (base / "proc/self/cgroup").read_text().splitlines()
        mounts = (base / "proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in groups:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        v2 = controllers == ""
        if not v2 and "cpu" not in controllers.split(","):
            continue
        directories = _cgroup_directories(base, mounts, path, v2)
        if directories is None:
            continue
        quotas.extend(q for q in (_quota(d, v2) for d in directories) if q is not None)
    return min(quotas) if quotas else None


def _cgroup_directories(base: Path, mounts: list[str], path: str, v2: bool) -> list[Path] | None:
    """The directories of cgroup ``path`` and its ancestors, down to where its hierarchy is
    mounted (v2: the cgroup2 mount; v1: the cgroup mount with the cpu controller)."""
    for line in mounts:
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        fstype, options = fields[dash + 1], fields[dash + 3] if len(fields) > dash + 3 else ""
        if (fstype != "cgroup2") if v2 else (fstype != "cgroup" or "cpu" not in options.split(",")):
            continue
        mount_root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        top = base / mountpoint.lstrip("/")
        inner = path
        if mount_root != "/":  # the mount shows only this part of the hierarchy
            if path != mount_root and not path.startswith(mount_root + "/"):
                return [top]
            inner = path[len(mount_root) :]
        names = [p for p in inner.split("/") if p and p != ".."]
        return [top.joinpath(*names[:i]) for i in range(len(names), -1, -1)]
    return None


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _quota(directory: Path, v2: bool) -> float | None:
    try:
        if v2:
            quota, period = (directory / "cpu.max").read_text().split()
            if quota == "max":
                return None
        else:
            quota = (directory / "cpu.cfs_quota_us").read_text().strip()
            period = (directory / "cpu.cfs_period_us").read_text().strip()
        q, p = int(quota), int(period)
    except (OSError, ValueError):
        return None
    return q / p if q > 0 and p > 0 else None


def physical_cores(root: str | os.PathLike[str] = "/", *, cpus: Collection[int] | None = None) -> int:
    """Physical cores this process may run on (hyper-threads counted once); ``cpus``: the
    affinity mask (default this process's)."""
    if cpus is None:
        try:
            cpus = os.sched_getaffinity(0)
        except AttributeError:  # not Linux
            return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in sorted(cpus):
        topo = Path(root, f"sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topo.joinpath("physical_package_id").read_text().strip(), topo.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


@lru_cache(maxsize=1)
def _flags() -> frozenset[str]:
    try:
        return frozenset(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return frozenset()


@lru_cache(maxsize=1)
def cpu_isa() -> str:
    """The best int8 kernel family this CPU runs: avx512_vnni, avx512, avx2 or arm64."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    flags = _flags()
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def has_vnni() -> bool:
    """Whether the CPU has VNNI (int8 dot products); without it int8 needs reduce_range."""
    return bool(_flags() & {"avx512_vnni", "avx512vnni", "avx_vnni"})
