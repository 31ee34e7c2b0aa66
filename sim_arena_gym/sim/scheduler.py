"""The scheduling queue and cycle (``k8s-scheduling-rules.md`` section 4, checklist 19-25, 37-38).

* Queue order (PrioritySort): higher priority first, then the earlier queue timestamp. The timestamp is
  set when a pod is created and refreshed each time an attempt fails (checklist 20-21).
* One pod at a time: filter every node, score the feasible ones, bind to the best (ties: first in node
  order, see :mod:`sim_arena_gym.sim.board`), and count its request there at once, so the next pod
  sees it. Running pods never move except through preemption (checklist 22).
* A pod with a nominated node (from preemption) tries that node first.
* A pod that fits nowhere gets the FailedScheduling message (:mod:`sim_arena_gym.sim.messages`),
  preemption runs (:mod:`sim_arena_gym.sim.preemption`) and the pod waits in the unschedulable pool. It
  is retried whenever capacity frees (a bound pod is deleted or finishes), the only events that can
  help a resource failure in this model (spec 4.2.5); retrying without such an event gives the same
  answer, so the 5-minute flush is not needed.
* Below 100 nodes upstream evaluates every node; from 100 on it stops after a share of feasible nodes
  and rotates its start. This simulator always evaluates every node: the choice among feasible nodes
  may differ from upstream for big clusters, Pending/Running never does (checklist 25).

Consecutive pods of one class (same parsed spec, spread group and priority, i.e. the pods a
ReplicaSet created together) share one :class:`~sim_arena_gym.sim.board.Board`, and a class that just
failed on an unchanged cluster fails again with the same message without re-evaluating the nodes.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable

from sim_arena_gym.sim.board import Board
from sim_arena_gym.sim.cluster import Cluster, Pod, StaticResult
from sim_arena_gym.sim.filters import fit_reasons, fits
from sim_arena_gym.sim.messages import NO_NODES, REASON_NO_VICTIMS, REASON_NOT_HELPFUL, fit_error, preemption_part
from sim_arena_gym.sim.objects import PodRequest
from sim_arena_gym.sim.options import KubeVersion
from sim_arena_gym.sim.preemption import dry_run
from sim_arena_gym.trace.recent import RecentMemo

__all__ = ["Scheduler", "UNSCHEDULABLE", "evaluate_failure", "no_victims_message"]

#: ``PodScheduled=False`` reason of a pod that fits no node.
UNSCHEDULABLE = "Unschedulable"


class _Failure:
    """Cached verdict of a class on an unchanged cluster."""

    __slots__ = ("spec", "priority", "version", "counts", "unresolvable", "resolvable", "reasons", "no_victims")

    def __init__(self, spec, priority, version, counts, unresolvable, resolvable) -> None:
        self.spec = spec
        self.priority = priority
        self.version = version
        self.counts = counts
        self.unresolvable = unresolvable
        self.resolvable = resolvable
        self.reasons: tuple[str, ...] = tuple(sorted(counts))
        #: the FailedScheduling text when preemption finds no victims (``None``: not known yet); a
        #: function of the verdict, the spec's preemption policy and the bound priorities at ``version``
        self.no_victims: str | None = None


class _NoRoom:
    """Stands for a :class:`Board` whose feasible set is empty (no node fits the class's request)."""

    __slots__ = ()

    @staticmethod
    def fill(limit: int, priority: int) -> list[int]:
        return []


_NO_ROOM: Any = _NoRoom()


class Scheduler:
    """The default scheduler over one :class:`~sim_arena_gym.sim.cluster.Cluster`.

    Args:
        cluster: the cluster state it binds pods into.
        version: the Kubernetes version whose rules and texts apply.
        on_bound: called after each bind (the replay marks the pod's owner for a sync).
        on_preempt: called with each preemption victim (the replay deletes it).
        vector_min_nodes: from this many nodes on, boards use numpy arrays.
    """

    def __init__(
        self,
        cluster: Cluster,
        version: KubeVersion,
        on_bound: Callable[[Pod], None],
        on_preempt: Callable[[Pod], None],
        *,
        vector_min_nodes: int = 48,
    ) -> None:
        self.cluster = cluster
        self.nodeset = cluster.nodeset
        self.version = version
        self.on_bound = on_bound
        self.on_preempt = on_preempt
        self.vector = len(self.nodeset.nodes) >= vector_min_nodes
        self._active: list[tuple[int, int, Pod]] = []
        self.unschedulable: dict[int, Pod] = {}
        self._tick = 0
        self._failures: dict[int, _Failure] = {}
        self.attempts = 0

    def copy(
        self, cluster: Cluster, copier: Any, on_bound: Callable[[Pod], None], on_preempt: Callable[[Pod], None]
    ) -> "Scheduler":
        """A copy over ``cluster`` (the copy of this one's cluster) calling the given callbacks; pods
        are mapped through ``copier`` (a :class:`~sim_arena_gym.sim.copying.StateCopier`). The
        failure verdicts are shared: they are never changed once made."""
        new = Scheduler.__new__(Scheduler)
        new.cluster = cluster
        new.nodeset = self.nodeset
        new.version = self.version
        new.on_bound = on_bound
        new.on_preempt = on_preempt
        new.vector = self.vector
        pod = copier.pod
        # same order: still a heap (most saved states have an empty queue: no comprehension then)
        new._active = [(p, seq, pod(x)) for p, seq, x in self._active] if self._active else []
        new.unschedulable = copier.copied_pods(self.unschedulable) if self.unschedulable else {}
        new._tick = self._tick
        new._failures = self._failures.copy()
        new.attempts = self.attempts
        return new

    # -- queue -------------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._tick += 1
        return self._tick

    def enqueue(self, pod: Pod) -> None:
        """A new pod enters the active queue (queue timestamp = now)."""
        pod.queue_seq = self._next_seq()
        heapq.heappush(self._active, (-pod.priority, pod.queue_seq, pod))

    def forget(self, pod: Pod) -> None:
        """``pod`` was deleted; drop it from the unschedulable pool (the heap skips it lazily)."""
        self.unschedulable.pop(pod.uid, None)

    def capacity_freed(self) -> None:
        """A bound pod went away: move every unschedulable pod back to the active queue."""
        if not self.unschedulable:
            return
        for pod in self.unschedulable.values():
            heapq.heappush(self._active, (-pod.priority, pod.queue_seq, pod))
        self.unschedulable.clear()

    @property
    def has_work(self) -> bool:
        return bool(self._active)

    # -- cycle -------------------------------------------------------------------------------------

    def run(self) -> bool:
        """Schedule every pod in the active queue; True when any pod was bound."""
        active = self._active
        bound_any = False
        while active:
            _, _, pod = heapq.heappop(active)
            if pod.deleted or pod.node >= 0:
                continue
            batch = [pod]
            spec, group, priority = pod.spec, pod.group, pod.priority
            while active:
                nxt = active[0][2]
                if nxt.spec is spec and nxt.group is group and nxt.priority == priority:
                    heapq.heappop(active)
                    if not nxt.deleted and nxt.node < 0:
                        batch.append(nxt)
                else:
                    break
            bound_any |= self._schedule_batch(batch)
        return bound_any

    def _schedule_batch(self, batch: list[Pod]) -> bool:
        cluster = self.cluster
        first = batch[0]
        if not self.nodeset.nodes:
            for pod in batch:
                self._park(pod, NO_NODES, (NO_NODES,))
            return False
        static = self.nodeset.static(first.constraints, self.version)
        board: Board | _NoRoom | None = None
        bound = False
        k, n = 0, len(batch)
        while k < n:
            pod = batch[k]
            k += 1
            if pod.deleted or pod.node >= 0:
                continue
            self.attempts += 1
            nominated = pod.nominated
            if nominated >= 0:
                pod.nominated = -1
                if static.reasons[nominated] is None and fits(cluster, nominated, pod.request):
                    self._bind(pod, nominated)
                    bound = True
                    board = None  # rebuilt from the new usage for the next pod of the batch
                    continue
            if board is None:
                request = pod.request
                for i in static.passing:
                    if fits(cluster, i, request):
                        board = Board(cluster, static, request, pod.group, self.version, vector=self.vector)
                        break
                else:  # no node fits (the board's feasible set would be empty): every pod here fails
                    board = _NO_ROOM
            # This pod and the next ones without a nomination take the board's choices one after
            # another (Board.fill counts each where it goes before the next choice). Binding callbacks
            # only set pod state and mark controllers, so they may follow the choices.
            run = [pod]
            while k < n:
                nxt = batch[k]
                if nxt.deleted or nxt.node >= 0:
                    k += 1
                    continue
                if nxt.nominated >= 0:
                    break
                run.append(nxt)
                k += 1
            chosen = board.fill(len(run), pod.priority)
            for p, j in zip(run, chosen):
                self._bound(p, j)
            if chosen:
                bound = True
                self.attempts += len(chosen) - 1  # the first pod was counted above
            for idx in range(len(chosen), len(run)):
                p = run[idx]
                if idx:
                    self.attempts += 1
                if self._fail(p, static):
                    # Preemption deleted pods: the rest of the batch goes back to the queue.
                    for rest in run[idx + 1 :] + batch[k:]:
                        if not rest.deleted and rest.node < 0:
                            heapq.heappush(self._active, (-rest.priority, rest.queue_seq, rest))
                    return bound
                if idx + 1 < len(run) and self._park_alike(p, run, idx + 1):
                    break
        return bound

    def _park_alike(self, first: Pod, run: list[Pod], start: int) -> bool:
        """After ``first`` failed without preemption: park ``run[start:]`` (pods of its class) as
        :meth:`_fail` would, when its verdict holds the no-victims text (the cluster did not change,
        so each would find the same verdict and text). False, parking none, when it does not."""
        failure = self._failures.get(id(first.spec))
        message = failure.no_victims if failure is not None else None
        if message is None or failure.spec is not first.spec or failure.version != self.cluster.version:
            return False
        reasons = failure.reasons
        for pod in run[start:]:
            self.attempts += 1
            self._park(pod, message, reasons)
        return True

    def _bind(self, pod: Pod, i: int) -> None:
        self.cluster.bind(pod, i)
        pod.message = ""
        pod.reasons = ()
        pod.unschedulable_reason = None
        self.on_bound(pod)

    def _bound(self, pod: Pod, i: int) -> None:
        """:meth:`_bind` for a pod whose request :meth:`Board.fill` already counted on node ``i``."""
        self.cluster.node_pods[i][pod.uid] = pod
        pod.node = i
        pod.message = ""
        pod.reasons = ()
        pod.unschedulable_reason = None
        self.on_bound(pod)

    def _park(self, pod: Pod, message: str, reasons: tuple[str, ...]) -> None:
        pod.message = message
        pod.reasons = reasons
        pod.unschedulable_reason = UNSCHEDULABLE
        pod.queue_seq = self._next_seq()  # refreshed timestamp (AddUnschedulableIfNotPresent)
        self.unschedulable[pod.uid] = pod

    def _evaluate_failure(self, pod: Pod, static: StaticResult) -> _Failure:
        cluster = self.cluster
        key = id(pod.spec)
        cached = self._failures.get(key)
        if (
            cached is not None
            and cached.spec is pod.spec
            and cached.version == cluster.version
            and cached.priority == pod.priority
        ):
            return cached
        counts, unresolvable, resolvable = evaluate_failure(cluster, static, pod.request, self.version)
        failure = _Failure(pod.spec, pod.priority, cluster.version, counts, unresolvable, resolvable)
        if len(self._failures) > 4096:
            self._failures.clear()
        self._failures[key] = failure
        return failure

    def _fail(self, pod: Pod, static: StaticResult) -> bool:
        """Record a failed attempt; run preemption. True when preemption deleted victims."""
        failure = self._evaluate_failure(pod, static)
        reasons = failure.reasons
        message = failure.no_victims
        if message is not None:  # same spec, priority and cluster state as when it was made
            self._park(pod, message, reasons)
            return False
        n = len(self.nodeset.nodes)
        never = pod.spec.preemption_policy == "Never"
        if never or not self.cluster.lower_priority_exists(pod.priority):
            message = failure.no_victims = no_victims_message(
                n, failure.counts, failure.resolvable, self.version, never=never
            )
            self._park(pod, message, reasons)
            return False
        result = dry_run(self.cluster, pod, static, failure.unresolvable, self.version)
        if result.node >= 0:
            self._park(pod, fit_error(n, failure.counts, self.version), reasons)
            pod.nominated = result.node
            for victim in result.victims:
                self.on_preempt(victim)
            return True
        part = preemption_part(n, result.counts)
        self._park(pod, fit_error(n, failure.counts, self.version, preemption=part), reasons)
        return False


def evaluate_failure(
    cluster: Cluster, static: StaticResult, request: PodRequest, version: KubeVersion
) -> tuple[dict[str, int], set[int], int]:
    """Why a pod with ``request`` fits no node: (reason -> node count, the nodes whose
    NodeResourcesFit failure is unresolvable, the number of resolvable nodes). Statically rejected
    nodes count with their static reason (checklist 14-16).

    A pure function of the static result, the request and the usage of the nodes, so it is
    remembered: for clusters of up to 64 nodes without extended resources across replays (the key
    is built from the usage lists); for the others on the cluster itself while its usage stays
    unchanged (``cluster.version``), so that the failing workloads of a full cluster are evaluated
    once per distinct request, not once each over every node (1,000 nodes / 100,000 pods: 677
    failing Deployments, 20 distinct requests). Callers must not change the returned values."""
    small = len(cluster.npods) <= 64 and not request.scalar
    if small:
        key = (
            id(static), request.cpu_millis, request.memory_bytes, request.ephemeral_bytes, version,
            tuple(cluster.npods), tuple(cluster.req_cpu), tuple(cluster.req_mem), tuple(cluster.req_eph),
        )  # fmt: skip
        found = _FAILURES.get(key)
        if found is not None and found[0] is static:
            return found[1]
    else:
        memo = cluster.failures
        if cluster.failures_version != cluster.version:
            memo.clear()
            cluster.failures_version = cluster.version
        key = (id(static), request.cpu_millis, request.memory_bytes, request.ephemeral_bytes, request.scalar, version)
        found = memo.get(key)
        if found is not None and found[0] is static:
            return found[1]
    counts = dict(static.counts)
    unresolvable: set[int] = set()
    resolvable = 0
    for i in static.passing:
        reasons, hopeless = fit_reasons(cluster, i, request, version)
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
        if hopeless:
            unresolvable.add(i)
        else:
            resolvable += 1
    result = (counts, unresolvable, resolvable)
    if small:
        _FAILURES.put(key, (static, result))
    else:
        memo[key] = (static, result)  # the entry holds the static result, so its id stays its own
    return result


#: evaluate_failure results by (static result id, request, usage); the entry holds the static result.
#: Short-lived (trace/recent.py): the usage changes with each simulated state, and a long-lived table
#: would keep what every state left alive for the garbage collector to walk.
_FAILURES = RecentMemo(32)


_NO_VICTIMS_MESSAGES: dict[tuple, str] = {}


def no_victims_message(
    num_nodes: int, counts: dict[str, int], resolvable: int, version: KubeVersion, *, never: bool
) -> str:
    """The FailedScheduling text of a pod that fits no node and preempts nothing: it may not
    preempt (``never``: ``preemptionPolicy: Never``), or no bound pod has a lower priority, so every
    resolvable node reports ``No preemption victims found`` and the others ``Preemption is not
    helpful`` (checklist 17). Formatted once per distinct input."""
    key = (num_nodes, frozenset(counts.items()), resolvable, version, never)
    found = _NO_VICTIMS_MESSAGES.get(key)
    if found is not None:
        return found
    if never:
        part = preemption_part(num_nodes, None, never=True)
    else:
        part = preemption_part(
            num_nodes, {REASON_NO_VICTIMS: resolvable, REASON_NOT_HELPFUL: num_nodes - resolvable}
        )
    message = fit_error(num_nodes, counts, version, preemption=part)
    if len(_NO_VICTIMS_MESSAGES) > 4096:
        _NO_VICTIMS_MESSAGES.clear()
    _NO_VICTIMS_MESSAGES[key] = message
    return message
