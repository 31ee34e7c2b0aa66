"""Clean: remove what simkube-backend runs left in a cluster and in the trace store.

Found by the naming contract (:mod:`~sim_arena_gym.backends.simkube_names`): Simulations, virtual
namespaces and nodes labelled ``app.kubernetes.io/managed-by=sim-arena-gym`` (one run with
``run_id``, one env instance with ``instance``), and trace files ``sa-<run>-<seq>.sktrace`` in the
trace store. With ``everything`` also objects that follow the contract's names but carry no labels:
Simulations ``sa-<run>-<seq>`` and virtual namespaces ``sa-<run>-*`` of a run stopped before it
labelled them. Deleting a Simulation also collects its driver root and virtual namespaces; the
function waits (at most ``cleanup_timeout`` seconds) until every object it deleted is gone.

Idempotent: a second call finds nothing (``CleanReport.removed`` empty).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sim_arena_gym.backends.base import BackendError
from sim_arena_gym.backends.simkube_client import KubeCalls, open_api_client
from sim_arena_gym.backends.simkube_names import (
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_RUN,
    LABEL_SIMKUBE_VIRTUAL,
    MANAGED_BY,
    NAME_PREFIX,
)
from sim_arena_gym.backends.simkube_options import SimKubeOptions

__all__ = ["CleanReport", "Removed", "clean"]

GROUP, VERSION, PLURAL = "simkube.io", "v1", "simulations"
_CONTRACT_NAME = re.compile(rf"^{NAME_PREFIX}-([0-9a-f]{{8}})-")
_TRACE_FILE = re.compile(rf"^{NAME_PREFIX}-([0-9a-f]{{8}})-\d{{6}}\.sktrace(\.tmp.*)?$")


@dataclass(frozen=True)
class Removed:
    """One removed thing: ``kind`` is ``Simulation``, ``Namespace``, ``Node`` or ``trace file``."""

    kind: str
    name: str
    run: str
    instance: str = ""


@dataclass
class CleanReport:
    """What ``clean`` removed, one :class:`Removed` per object."""
    removed: list[Removed] = field(default_factory=list)

    def text(self) -> str:
        """One line per removed object with its run and instance, or the ``nothing to do`` line."""
        if not self.removed:
            return "nothing to do: no Simulations, virtual namespaces, nodes or trace files of sim-arena-gym runs\n"
        lines = []
        for r in self.removed:
            who = f"run {r.run}" + (f", instance {r.instance}" if r.instance else "") if r.run else "no run label"
            lines.append(f"removed {r.kind} {r.name} ({who})")
        runs = {r.run for r in self.removed if r.run}
        lines.append(f"clean: removed {len(self.removed)} object{'s' if len(self.removed) != 1 else ''} "
                     f"of {len(runs)} run{'s' if len(runs) != 1 else ''}")
        return "\n".join(lines) + "\n"


def _selector(run_id: str | None, instance: str | None) -> str:
    parts = [f"{LABEL_MANAGED_BY}={MANAGED_BY}"]
    if run_id:
        parts.append(f"{LABEL_RUN}={run_id}")
    if instance:
        parts.append(f"{LABEL_INSTANCE}={instance}")
    return ",".join(parts)


def _who(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    run = labels.get(LABEL_RUN) or ""
    if not run:
        m = _CONTRACT_NAME.match(meta.get("name", ""))
        run = m.group(1) if m else ""
    return run, labels.get(LABEL_INSTANCE, "")


def clean(options: Mapping[str, Any] | SimKubeOptions, *, run_id: str | None = None, instance: str | None = None,
          everything: bool = False) -> CleanReport:
    """Delete every leftover of sim-arena-gym runs (see the module docstring). ``options`` are simkube
    backend options (``kubeconfig``, ``context``, ``trace_store``; the trace store is optional here)."""
    from kubernetes import client

    opts = options if isinstance(options, SimKubeOptions) else SimKubeOptions.from_mapping(options, require_trace_store=False)
    store = opts.trace_store
    report = CleanReport()
    api = open_api_client(opts)
    calls = KubeCalls(api.configuration.host, opts.request_timeout)
    try:
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        selector = _selector(run_id, instance)

        def mine(obj: dict[str, Any]) -> bool:
            if everything and not run_id and not instance:
                return True
            run, inst = _who(obj)
            return (not run_id or run == run_id) and (not instance or inst == instance)

        sims = calls.items("list sim-arena Simulations", custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                           label_selector=selector) if _serves_simulations(calls, custom) else []
        namespaces = calls.items("list sim-arena namespaces", core.list_namespace, label_selector=selector)
        nodes = calls.items("list sim-arena nodes", core.list_node, label_selector=selector)
        if everything:
            seen = {o["metadata"]["name"] for o in sims + namespaces + nodes}
            if _serves_simulations(calls, custom):
                sims += [o for o in calls.items("list Simulations", custom.list_cluster_custom_object, GROUP, VERSION, PLURAL)
                         if o["metadata"]["name"] not in seen and _CONTRACT_NAME.match(o["metadata"]["name"]) and mine(o)]
            namespaces += [o for o in calls.items("list virtual namespaces", core.list_namespace,
                                                  label_selector=f"{LABEL_SIMKUBE_VIRTUAL}=true")
                           if o["metadata"]["name"] not in seen and _CONTRACT_NAME.match(o["metadata"]["name"]) and mine(o)]
            nodes += [o for o in calls.items("list nodes", core.list_node)
                      if o["metadata"]["name"] not in seen and _CONTRACT_NAME.match(o["metadata"]["name"]) and mine(o)]
        pending: list[tuple[str, str]] = []
        for kind, objs, delete, args in (
            ("Simulation", sims, custom.delete_cluster_custom_object, (GROUP, VERSION, PLURAL)),
            ("Namespace", namespaces, core.delete_namespace, ()),
            ("Node", nodes, core.delete_node, ()),
        ):
            for obj in objs:
                name = obj["metadata"]["name"]
                calls.call(f"delete {kind} {name}", delete, *args, name, ok404=True, _preload_content=False)
                run, inst = _who(obj)
                report.removed.append(Removed(kind, name, run, inst))
                pending.append((kind, name))
        _wait_gone(calls, core, custom, pending, opts.cleanup_timeout)
    finally:
        api.close()
    if store:
        report.removed += _clean_store(Path(store).expanduser(), run_id, instance, report)
    return report


def _serves_simulations(calls: KubeCalls, custom: Any) -> bool:
    """Whether ``simkube.io/v1 simulations`` is served (without SimKube there are none to clean)."""
    try:
        calls.call("list Simulations", custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, limit=1,
                   _preload_content=False)
    except BackendError as exc:
        if "HTTP 404" in str(exc):
            return False
        raise
    return True


def _wait_gone(calls: KubeCalls, core: Any, custom: Any, pending: list[tuple[str, str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for kind, name in pending:
        while True:
            if kind == "Simulation":
                found = calls.call(f"read Simulation {name}", custom.get_cluster_custom_object, GROUP, VERSION, PLURAL,
                                   name, ok404=True)
            elif kind == "Namespace":
                found = calls.call(f"read namespace {name}", core.read_namespace, name, ok404=True, _preload_content=False)
            else:
                found = calls.call(f"read node {name}", core.read_node, name, ok404=True, _preload_content=False)
            if found is None:
                break
            if time.monotonic() >= deadline:
                raise BackendError(f"timed out after {timeout:g}s waiting for {kind} {name} to be deleted; "
                                   f"delete it by hand (`kubectl delete {kind.lower()} {name}`)")
            time.sleep(0.02)


def _clean_store(store: Path, run_id: str | None, instance: str | None, report: CleanReport) -> list[Removed]:
    """Trace files of the contract in ``store``: all of them (every Simulation is gone now), or those of
    ``run_id``, or of the runs of ``instance`` found on the cluster."""
    if not store.is_dir():
        return []
    runs_of_instance = {r.run for r in report.removed if r.instance == instance} if instance else None
    out = []
    for path in sorted(store.iterdir()):
        m = _TRACE_FILE.match(path.name)
        if not m or not path.is_file():
            continue
        run = m.group(1)
        if run_id and run != run_id or runs_of_instance is not None and run not in runs_of_instance:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise BackendError(f"cannot delete {path} from the trace store: {exc.strerror}") from None
        out.append(Removed("trace file", str(path), run))
    return out
