"""Speed of the embedded simulator (``EmbeddedBackend.run``), measured, never asserted in tests.

Cases (each run replays the whole trace and builds the ClusterOutcome):

1. canonical: 3 nodes of 16 CPU / 32Gi, one Deployment of 4 replicas, one event. Each timed run
   follows an edit made with ``edit_workload`` (the Deployment is a fresh path-copied dict, every other
   object is shared), cycling the CPU request through 500m, 1, ..., 16 (the values an agent with
   500m steps produces; 4 replicas of more than 5 CPU leave pods Pending). Target: median <= 25 us.
2. 100 nodes / 1,000 pods: 10 Deployments x 100 replicas, mixed requests; one Deployment edited
   before each run. Target: <= 10 ms.
3. 1,000 nodes / 10,000 pods: 100 Deployments x 100 replicas, mixed requests; one Deployment edited
   before each run. Target: <= 50 ms.
4. growth with pods at 1,000 nodes: 1,000, 10,000 and 100,000 pods (10, 100 and 1,000 Deployments x
   100 replicas), the time per pod at each size (close to constant = linear growth). 100,000 pods is
   over the default ``max_pods`` limit of 10,000 (``sim_arena_gym.limits``): that case raises it with
   ``SIM_ARENA_MAX_PODS=100000`` for its own runs only, and says so.
5. resume: 1,000 nodes, 99 Deployments x 100 replicas created one per event (100 events, a StatefulSet
   first so that the general replay runs); an edit of the last Deployment resumes from the state saved
   before the last event (``sim_arena_gym.sim.snapshot``), against the full replay
   (``EmbeddedBackend(resume=False)``); and the memory one saved state takes (``tracemalloc``).
6. resumed families: the train scenarios of ``competing-deployments`` (a Deployment created on a
   populated cluster) and ``mid-trace-change`` (a rolling update), each trace edited as the env edits
   it (the target workload's last occurrence, ``occurrences="last"``), cycling its CPU request through
   500m, 1, ..., 16 and its replicas through 1-6; CPU time per resumed general replay (copy of the
   saved state, the replayed events, the outcome).

Traces of these shapes (Deployments created once each) take the short replay of
``sim_arena_gym.sim.fastpath``; the canonical case is also timed with ``SimOptions(fast_path=False)``,
the general replay that every other trace takes, for reference.

Figures are medians of many runs timed with ``time.perf_counter_ns``. Run:
``.venv/bin/python benchmarks/bench_sim.py`` (add ``--quick`` for fewer repetitions).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim_arena_gym.backends import EmbeddedBackend  # noqa: E402
from sim_arena_gym.limits import MAX_PODS  # noqa: E402
from sim_arena_gym.scenarios.index import load_scenario_set  # noqa: E402
from sim_arena_gym.scenarios.model import NodePool, Scenario  # noqa: E402
from sim_arena_gym.trace import load_trace  # noqa: E402
from sim_arena_gym.trace.builders import build_trace, container, deployment, pod_spec, statefulset  # noqa: E402
from sim_arena_gym.trace.refs import WorkloadRef  # noqa: E402
from sim_arena_gym.trace.workloads import edit_workload  # noqa: E402

CPU_STEPS = [f"{500 * k}m" if k % 2 else str(k // 2) for k in range(1, 33)]  # 500m, 1, 1500m, ..., 16


def _scenario(nodes: int, workload: str) -> Scenario:
    return Scenario("bench", None, WorkloadRef.parse(workload), (NodePool(count=nodes, cpu="16", memory="32Gi"),))


def _cluster_trace(deployments: int, replicas: int):
    cpus = ["100m", "250m", "500m", "750m", "1"]
    mems = ["128Mi", "256Mi", "512Mi", "1Gi"]
    objs = [
        deployment(
            f"app-{i:03d}",
            pod_spec([container("app", cpu=cpus[i % len(cpus)], memory=mems[i % len(mems)])]),
            replicas=replicas,
        )
        for i in range(deployments)
    ]
    return build_trace([(1_700_000_000, objs, [])])


#: median CPU time (ns) of the last :func:`_median_run`
LAST_CPU = [0.0]


def _median_run(backend: EmbeddedBackend, traces, scenario: Scenario, repeat: int) -> tuple[float, float]:
    """(median, p90) wall nanoseconds of ``backend.run`` over ``repeat`` runs cycling through
    ``traces``; the median process CPU time goes to ``LAST_CPU[0]`` (steadier on a shared machine)."""
    times = []
    cpu = []
    for i in range(repeat):
        trace = traces[i % len(traces)]
        start, start_cpu = time.perf_counter_ns(), time.process_time_ns()
        backend.run(trace, scenario)
        times.append(time.perf_counter_ns() - start)
        cpu.append(time.process_time_ns() - start_cpu)
    times.sort()
    LAST_CPU[0] = statistics.median(cpu)
    return statistics.median(times), times[max(0, int(len(times) * 0.9) - 1)]


def _edited(trace, ref: str, values: list[str], count: int):
    """``count`` traces, each ``trace`` with ``ref``'s CPU request set to the next value (fresh dicts)."""
    return [edit_workload(trace, ref, requests={"*": {"cpu": values[i % len(values)]}}) for i in range(count)]


def bench_canonical(repeat: int) -> float:
    backend = EmbeddedBackend()
    general = EmbeddedBackend(fast_path=False)
    scenario = _scenario(3, "Deployment/default/web")
    base = build_trace([(1_700_000_000, [deployment("web", pod_spec([container("app", cpu="2", memory="1Gi")]), replicas=4)], [])])
    warm = _edited(base, "default/web", CPU_STEPS, 200)
    _median_run(backend, warm, scenario, 200)
    traces = _edited(base, "default/web", CPU_STEPS, repeat)  # every trace a fresh edit, timed once
    median, p90 = _median_run(backend, traces, scenario, repeat)
    print(f"canonical (3 nodes, 1 Deployment x 4, after an edit): median {median / 1e3:8.1f} us  "
          f"p90 {p90 / 1e3:8.1f} us  CPU {LAST_CPU[0] / 1e3:8.1f} us  (target <= 25 us)")
    same = [base]
    median_same, _ = _median_run(backend, same, scenario, repeat)
    print(f"canonical, same trace again (no edit, parse cache hit): median {median_same / 1e3:8.1f} us")
    _median_run(general, warm, scenario, 200)
    traces = _edited(base, "default/web", CPU_STEPS, repeat // 2)
    median_general, p90_general = _median_run(general, traces, scenario, repeat // 2)
    print(f"canonical, general replay (fast_path=False), after an edit: median {median_general / 1e3:8.1f} us  "
          f"p90 {p90_general / 1e3:8.1f} us  CPU {LAST_CPU[0] / 1e3:8.1f} us")
    return median


def bench_cluster(
    nodes: int, deployments: int, replicas: int, repeat: int, target_ms: float | None, *, general: bool = True
) -> float:
    """Median CPU nanoseconds of one run after an edit of ``app-000`` (wall figures printed too)."""
    backend = EmbeddedBackend()
    scenario = _scenario(nodes, "Deployment/default/app-000")
    base = _cluster_trace(deployments, replicas)
    traces = _edited(base, "default/app-000", ["100m", "200m", "300m"], max(repeat, 3))
    backend.run(traces[0], scenario)
    outcome = backend.run(traces[1], scenario)
    running = sum(1 for p in outcome.pods if p.phase == "Running")
    median, p90 = _median_run(backend, traces, scenario, repeat)
    cpu = LAST_CPU[0]
    pods = deployments * replicas
    goal = f"  (target <= {target_ms:g} ms)" if target_ms else ""
    print(f"{nodes:5d} nodes / {pods:6d} pods ({running} Running): median {median / 1e6:8.2f} ms  "
          f"p90 {p90 / 1e6:8.2f} ms  CPU {cpu / 1e6:8.2f} ms = {cpu / pods / 1e3:5.2f} us/pod{goal}")
    if general:
        slow = EmbeddedBackend(fast_path=False)
        slow.run(traces[0], scenario)
        median_general, _ = _median_run(slow, traces, scenario, max(3, repeat // 3))
        print(f"{'':20s}general replay (fast_path=False): median {median_general / 1e6:8.2f} ms  "
              f"CPU {LAST_CPU[0] / 1e6:8.2f} ms")
    return cpu


@contextlib.contextmanager
def raised_max_pods(pods: int) -> Iterator[None]:
    """``SIM_ARENA_MAX_PODS`` at least ``pods`` inside the block (restored after), with a note."""
    if pods <= MAX_PODS.value():
        yield
        return
    old = os.environ.get(MAX_PODS.env_var)
    os.environ[MAX_PODS.env_var] = str(pods)
    print(f"  (this case asks for {pods:,} pods at once: over the default max_pods limit of "
          f"{MAX_PODS.default:,}, raised to {pods:,} with {MAX_PODS.env_var}={pods} for its runs only)")
    try:
        yield
    finally:
        if old is None:
            del os.environ[MAX_PODS.env_var]
        else:
            os.environ[MAX_PODS.env_var] = old


def bench_resume(nodes: int, deployments: int, replicas: int, repeat: int) -> None:
    """Edits of the last of ``deployments`` Deployments created one per event: resumed vs full replay."""
    scenario = _scenario(nodes, f"Deployment/default/app-{deployments - 1:03d}")
    spec = pod_spec([container("db", cpu="500m", memory="1Gi")])
    events = [(1_700_000_000, [statefulset("db", spec, replicas=3)], [])]
    for i in range(deployments):
        obj = deployment(f"app-{i:03d}", pod_spec([container("app", cpu="250m", memory="256Mi")]), replicas=replicas)
        events.append((1_700_000_001 + i, [obj], []))
    base = build_trace(events)
    ref = f"default/app-{deployments - 1:03d}"
    traces = [edit_workload(base, ref, requests={"*": {"cpu": v}}, occurrences="last")
              for v in ["100m", "200m", "300m"] * max(1, repeat)]  # fmt: skip
    pods = deployments * replicas + 3
    full = EmbeddedBackend(resume=False)
    full.run(traces[0], scenario)
    median_full, _ = _median_run(full, traces, scenario, max(3, repeat // 3))
    cpu_full = LAST_CPU[0]
    resumed = EmbeddedBackend()
    resumed.run(traces[0], scenario)
    resumed.run(traces[1], scenario)  # shares all but the last event with the first: saves a state
    median_resumed, _ = _median_run(resumed, traces[2:], scenario, repeat)
    cpu_resumed = LAST_CPU[0]
    print(f"{nodes:5d} nodes / {pods:6d} pods over {len(events)} events, edit of the last Deployment: "
          f"resumed CPU {cpu_resumed / 1e6:8.2f} ms (median wall {median_resumed / 1e6:.2f} ms), "
          f"full replay CPU {cpu_full / 1e6:8.2f} ms (wall {median_full / 1e6:.2f} ms): x{cpu_full / cpu_resumed:.1f}")
    cache = resumed._snapshots
    saved = [s for c in cache._contexts.values() for s in c.saved]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    copy = saved[0].replay.copy()
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del copy
    print(f"{'':20s}one saved state ({saved[0].pods:,} pods): {size / 2**20:.2f} MiB = "
          f"{size / max(1, saved[0].pods):,.0f} bytes/pod (bounds: {cache.max_contexts} contexts x "
          f"{cache.per_context} states, {cache.max_saved_pods:,} pods in all)")


def bench_resumed_families(rounds: int) -> None:
    """CPU microseconds per resumed run on the train scenarios of two families (case 6)."""
    families = ("competing-deployments", "mid-trace-change")
    scenarios = [s for s in load_scenario_set("train") if s.family in families]
    for family in families:
        backend = EmbeddedBackend()
        cache = backend._snapshots
        work = []
        for scenario in (s for s in scenarios if s.family == family):
            trace = scenario.trace if scenario.trace is not None else load_trace(scenario.trace_path)
            ref = scenario.workload
            edits = [
                edit_workload(trace, ref, requests={"*": {"cpu": CPU_STEPS[k % len(CPU_STEPS)]}},
                              replicas=1 + k % 6, occurrences="last")
                for k in range(rounds)
            ]  # fmt: skip
            backend.run(edits[0], scenario)
            backend.run(edits[1], scenario)  # shares all but the edited event with the first: saves a state
            work.append((scenario, edits[2:]))
        cpu: list[int] = []  # resumed general replays
        other: list[int] = []  # the rest (the fast path, where the trace has only Deployments)
        for scenario, edits in work:
            for trace in edits:
                before = cache.resumed
                start = time.process_time_ns()
                backend.run(trace, scenario)
                (cpu if cache.resumed > before else other).append(time.process_time_ns() - start)
        rest = f"; {len(other)} other runs (fast path) median {statistics.median(other) / 1e3:.1f} us" if other else ""
        print(f"{family} ({len(work)} train scenarios): {len(cpu)} resumed runs, median CPU "
              f"{statistics.median(cpu) / 1e3:7.1f} us, mean {statistics.mean(cpu) / 1e3:7.1f} us{rest}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    quick = args.quick
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}; "
          f"gc {'on' if gc.isenabled() else 'off'}")
    bench_canonical(2000 if quick else 10000)
    t_100_1k = bench_cluster(100, 10, 100, 10 if quick else 40, 10)
    t_1k_1k = bench_cluster(1000, 10, 100, 5 if quick else 20, None)
    t_1k_10k = bench_cluster(1000, 100, 100, 3 if quick else 9, 50)
    with raised_max_pods(100_000):
        t_1k_100k = bench_cluster(1000, 1000, 100, 3, None, general=False)
    print(f"growth per 10x pods and nodes (100/1k -> 1000/10k): x{t_1k_10k / t_100_1k:.1f}")
    print(f"growth per 10x pods at 1,000 nodes: 1k -> 10k pods x{t_1k_10k / t_1k_1k:.1f}, "
          f"10k -> 100k pods x{t_1k_100k / t_1k_10k:.1f} (x10 = linear)")
    bench_resume(3, 3, 2, 300 if quick else 2000)
    bench_resume(1000, 99, 100, 3 if quick else 9)  # 9,903 pods: within max_pods
    bench_resumed_families(100 if quick else 600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
