"""Threads that respect the grant: physical cores of the affinity mask, the cgroup CPU quota
(v1 and v2, found through /proc/self/cgroup and /proc/self/mountinfo) and OMP_NUM_THREADS,
read from fake /proc and /sys trees."""

from __future__ import annotations

import math
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fastrerank import Reranker
from fastrerank.cpu import cgroup_cpu_quota, omp_num_threads, physical_cores, thread_grant

V1_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
33 31 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
32 31 0:29 {root} /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def cores(n_cpus: int, per_core: int = 1) -> dict[str, str]:
    """Topology files: ``n_cpus`` logical CPUs, ``per_core`` of them per physical core."""
    files = {}
    for cpu in range(n_cpus):
        topo = f"sys/devices/system/cpu/cpu{cpu}/topology"
        files[f"{topo}/physical_package_id"] = "0\n"
        files[f"{topo}/core_id"] = f"{cpu // per_core}\n"
    return files


def v2(mountpoint: str, path: str, cpu_max: dict[str, str], mount_root: str = "/") -> dict[str, str]:
    """A cgroup v2 process in ``path``; ``cpu_max``: cpu.max per directory below the mount."""
    files = {
        "proc/self/cgroup": f"0::{path}\n",
        "proc/self/mountinfo": "22 1 0:21 / / rw - ext4 /dev/root rw\n"
        f"30 22 0:26 {mount_root} {mountpoint} rw,nosuid - cgroup2 cgroup2 rw\n",
    }
    for directory, value in cpu_max.items():
        files[f"{mountpoint.lstrip('/')}/{directory}/cpu.max".replace("//", "/")] = value
    return files


def test_v2_quota_rounds_to_threads(tmp_path):
    root = write(tmp_path, {**cores(4), **v2("/sys/fs/cgroup", "/", {"": "150000 100000\n"})})
    assert cgroup_cpu_quota(root) == 1.5
    assert thread_grant(root, environ={}, cpus=range(4)) == (2, "cgroup CPU quota")


def test_v2_smallest_along_the_path_at_a_mount_of_its_own(tmp_path):
    # a pod's limit on a parent, none on the container; cgroup2 mounted somewhere unusual
    quotas = {"": "max 100000\n", "kubepods": "max 100000\n", "kubepods/pod1": "50000 100000\n", "kubepods/pod1/ctr": "max 100000\n"}
    root = write(tmp_path, {**cores(2), **v2("/run/cg two", "/kubepods/pod1/ctr", quotas)})
    mountinfo = (root / "proc/self/mountinfo").read_text().replace("/run/cg two", "/run/cg\\040two")
    (root / "proc/self/mountinfo").write_text(mountinfo)
    assert cgroup_cpu_quota(root) == 0.5
    assert thread_grant(root, environ={}, cpus=[0, 1]) == (1, "cgroup CPU quota")  # at least 1


def test_v2_mount_showing_only_the_process_cgroup(tmp_path):
    # no cgroup namespace: /proc/self/cgroup names the host path, the mount shows only that part
    quotas = {"": "300000 100000\n", "docker/abc": "100000 100000\n"}  # the second: a child cgroup of that name, not ours
    root = write(tmp_path, {**cores(8), **v2("/sys/fs/cgroup", "/docker/abc", quotas, mount_root="/docker/abc")})
    assert cgroup_cpu_quota(root) == 3.0
    assert thread_grant(root, environ={}, cpus=range(8)) == (3, "cgroup CPU quota")
    # a cgroup outside the part mounted: only the mount's own limit is visible
    write(root, {"proc/self/cgroup": "0::/elsewhere\n"})
    assert cgroup_cpu_quota(root) == 3.0


def test_v1_quota_from_the_cpu_hierarchy(tmp_path):
    files = {
        **cores(4),
        "proc/self/cgroup": "5:cpuset:/\n4:cpu,cpuacct:/docker/abc\n2:memory:/docker/abc\n0::/\n",
        "proc/self/mountinfo": V1_MOUNTS.format(root="/docker/abc"),
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "250000\n",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        "sys/fs/cgroup/cpuset/cpu.cfs_quota_us": "50000\n",  # not the cpu hierarchy: ignored
        "sys/fs/cgroup/cpuset/cpu.cfs_period_us": "100000\n",
    }
    root = write(tmp_path, files)
    assert cgroup_cpu_quota(root) == 2.5
    assert thread_grant(root, environ={}, cpus=range(4)) == (3, "cgroup CPU quota")  # 2.5 rounds half up


def test_v1_unlimited_and_unreadable_leave_the_cores(tmp_path):
    files = {
        **cores(4, per_core=2),  # 4 hyper-threads on 2 cores
        "proc/self/cgroup": "1:cpu,cpuacct:/user.slice\n",
        "proc/self/mountinfo": V1_MOUNTS.format(root="/"),
        "sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_quota_us": "-1\n",
        "sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_period_us": "100000\n",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "garbage\n",
    }
    root = write(tmp_path, files)
    assert cgroup_cpu_quota(root) is None
    assert thread_grant(root, environ={}, cpus=range(4)) == (2, "physical cores")
    assert cgroup_cpu_quota(tmp_path / "nowhere") is None  # no /proc at all


def test_omp_num_threads(tmp_path):
    root = write(tmp_path, {**cores(4), **v2("/sys/fs/cgroup", "/", {"": "300000 100000\n"})})
    assert thread_grant(root, environ={"OMP_NUM_THREADS": "1"}, cpus=range(4)) == (1, "OMP_NUM_THREADS")
    assert thread_grant(root, environ={"OMP_NUM_THREADS": "2,1"}, cpus=range(4)) == (2, "OMP_NUM_THREADS")
    for ignored in ("", "0", "-2", "two", " "):
        assert omp_num_threads({"OMP_NUM_THREADS": ignored}) is None
        assert thread_grant(root, environ={"OMP_NUM_THREADS": ignored}, cpus=range(4)) == (3, "cgroup CPU quota")
    assert thread_grant(root, environ={"OMP_NUM_THREADS": "16"}, cpus=[1, 3]) == (2, "physical cores")


@settings(max_examples=60, deadline=None)
@given(
    n_cores=st.integers(1, 8),
    quotas=st.lists(st.one_of(st.none(), st.integers(1, 1_000_000)), min_size=1, max_size=4),
    period=st.sampled_from([10_000, 100_000, 250_000]),
    omp=st.one_of(st.none(), st.integers(1, 12)),
)
def test_grant_is_the_smallest_of_the_three(tmp_path_factory, n_cores, quotas, period, omp):
    """Against the plain rule: min(cores, max(1, round-half-up(smallest quota along the path)), OMP)."""
    root = tmp_path_factory.mktemp("tree")
    names = [f"level{i}" for i in range(len(quotas) - 1)]
    cpu_max = {"/".join(names[:i]): ("max" if q is None else str(q)) + f" {period}\n" for i, q in enumerate(quotas)}
    write(root, {**cores(n_cores), **v2("/sys/fs/cgroup", "/" + "/".join(names), cpu_max)})
    environ = {} if omp is None else {"OMP_NUM_THREADS": str(omp)}
    limits = [n_cores]
    given_quotas = [q / period for q in quotas if q is not None]
    if given_quotas:
        limits.append(max(1, math.floor(min(given_quotas) + 0.5)))
    if omp is not None:
        limits.append(omp)
    assert thread_grant(root, environ=environ, cpus=range(n_cores)).threads == min(limits)


def test_physical_cores_of_this_process():
    assert 1 <= physical_cores() <= len(os.sched_getaffinity(0))


def test_reranker_threads_follow_the_grant(tiny_models, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    rr = Reranker(tiny_models["bert-1"])
    assert (rr.threads, rr.threads_rule) == (1, "OMP_NUM_THREADS")
    rr = Reranker(tiny_models["bert-1"], threads=2)
    assert (rr.threads, rr.threads_rule) == (2, "threads argument")
    monkeypatch.delenv("OMP_NUM_THREADS")
    rr = Reranker(tiny_models["bert-1"])
    assert (rr.threads, rr.threads_rule) == tuple(thread_grant())
