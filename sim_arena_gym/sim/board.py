"""Filter and score state of every node for one scheduling class (pods of one template and group).

Pods of one ReplicaSet have the same request, constraints and spread group, and the scheduler takes
them from the queue one after another. Between two such pods only the node that received the last pod
changes, so a :class:`Board` keeps, per node: whether it is feasible and its *base* score
(LeastAllocated + BalancedAllocation, which depend on that node alone), plus the count of group pods
on it. Choosing a node then only needs the global parts (PodTopologySpread and TaintToleration
normalisation, which depend on all feasible nodes) and an argmax; binding recomputes one node.

Two interchangeable implementations of the per-node arrays are used:

* plain Python lists for small clusters, and for any cluster with zones, PreferNoSchedule taints,
  extended resources or huge allocatable values (the general, reference path);
* numpy int64/float64 arrays from ``SimOptions.vector_min_nodes`` nodes on: the initial scores are
  computed in vector form with the same arithmetic (float64 divisions, integer divisions and
  truncations as upstream), and the argmax is a C loop. ``tests/test_sim_scheduler.py`` checks that
  both give identical scores.

Tie-break (checklist 24): the first node, in node order, among those with the highest total. Upstream
picks uniformly at random among tied nodes; tests should accept any node of the tied set
(:meth:`Board.tied_best`).
"""

from __future__ import annotations

from typing import Any

from sim_arena_gym.sim.cluster import Cluster, StaticResult
from sim_arena_gym.sim.filters import fits
from sim_arena_gym.sim.objects import PodRequest
from sim_arena_gym.sim.options import KubeVersion
from sim_arena_gym.sim.scoring import (
    HOSTNAME_MAX_SKEW,
    MAX_NODE_SCORE,
    WEIGHT_SPREAD,
    WEIGHT_TAINT,
    ZONE_MAX_SKEW,
    base_score,
    normalize_reverse,
    normalize_spread,
    round_half_away,
    spread_weight,
)

__all__ = ["Board", "NEG"]

#: Base score of an infeasible node (below any real total).
NEG = -(10**9)
_VECTOR_LIMIT = 2**50  # allocatable values above this fall back to Python ints (int64 headroom)
_BONUS_MEMO: dict[tuple[int, ...], dict[int, int]] = {}

try:  # numpy is a dependency of the package; keep the module importable without it anyway
    import numpy as np
except ImportError:  # pragma: no cover
    np = None  # type: ignore[assignment]


#: :func:`~sim_arena_gym.sim.scoring.base_score` by its arguments: nodes in the same state score the
#: same, and the list path looks a score up (a tuple and a dict probe) instead of recomputing it.
_SCORES: dict[tuple[int, int, int, int, int, int, bool], int] = {}


def _score(key: tuple[int, int, int, int, int, int, bool]) -> int:
    """``base_score(*key)``, remembered in :data:`_SCORES`."""
    score = base_score(*key)
    if len(_SCORES) >= 16384:
        _SCORES.clear()
    _SCORES[key] = score
    return score


#: Node sets up to this size keep their empty-node scores per request (StaticResult.empty_boards).
_EMPTY_BOARD_NODES = 64


def _vector_nodes(ns: Any) -> bool:
    """The node set's allocatable values suit int64 arrays (some nodes, all with CPU and memory, none
    beyond 2**50); computed once per node set."""
    ok = ns.vector_ok
    if ok is None:
        ok = ns.vector_ok = bool(
            ns.alloc_cpu and min(ns.alloc_cpu) > 0 and min(ns.alloc_mem) > 0
            and max(ns.alloc_cpu) < _VECTOR_LIMIT and max(ns.alloc_mem) < _VECTOR_LIMIT
            and max(ns.alloc_eph) < _VECTOR_LIMIT
        )  # fmt: skip
    return ok


class Board:
    """Scores of the nodes for pods of one class; see the module docstring.

    Args:
        cluster: current usage.
        static: static filter results for the class's constraints.
        request: the class's pod request.
        group: topology-spread group (``None``: PodTopologySpread skips the pod).
        version: scheduler version (BalancedAllocation skips best-effort pods from v1.33).
        vector: use numpy arrays (ignored where the general path is required).
    """

    def __init__(
        self,
        cluster: Cluster,
        static: StaticResult,
        request: PodRequest,
        group: Any,
        version: KubeVersion,
        *,
        vector: bool = False,
    ) -> None:
        ns = cluster.nodeset
        self.cluster = cluster
        self.static = static
        self.r = request
        self.group = group
        self.balanced = not (request.best_effort and version.balanced_skips_best_effort)
        self.zones = ns.has_zones and group is not None
        self.prefer = static.prefer_taints
        n = len(ns.nodes)
        counts = cluster.group_counts.get(group) if group is not None else None
        self.vector = bool(
            vector
            and np is not None
            and not self.zones
            and self.prefer is None
            and not request.scalar
            and _vector_nodes(ns)
        )
        self.hist: dict[int, int] = {}  # group count -> feasible nodes with it
        self._total: Any = None  # vector path: base + spread bonus per node
        self._total_bonus: dict[int, int] | None = None  # the bonus table _total was built with
        if self.vector:
            self._init_vector(n, counts)
        else:
            self._init_list(n, counts)

    # -- construction ------------------------------------------------------------------------------

    def _base(self, i: int) -> int:
        """LeastAllocated + BalancedAllocation of node ``i`` for this class (feasibility aside)."""
        c = self.cluster
        ns = c.nodeset
        r = self.r
        key = (
            ns.alloc_cpu[i],
            ns.alloc_mem[i],
            c.nz_cpu[i] + r.nonzero_cpu_millis,
            c.nz_mem[i] + r.nonzero_memory_bytes,
            c.req_cpu[i] + r.cpu_millis,
            c.req_mem[i] + r.memory_bytes,
            self.balanced,
        )
        score = _SCORES.get(key)
        return score if score is not None else _score(key)

    def _init_list(self, n: int, counts: dict[int, int] | None) -> None:
        cluster, r = self.cluster, self.r
        ns = cluster.nodeset
        alloc_cpu, alloc_mem, alloc_eph, alloc_pods = ns.alloc_cpu, ns.alloc_mem, ns.alloc_eph, ns.alloc_pods
        req_cpu, req_mem, req_eph = cluster.req_cpu, cluster.req_mem, cluster.req_eph
        nz_cpu, nz_mem, npods = cluster.nz_cpu, cluster.nz_mem, cluster.npods
        cpu, mem, eph, scalar = r.cpu_millis, r.memory_bytes, r.ephemeral_bytes, r.scalar
        nzc, nzm = r.nonzero_cpu_millis, r.nonzero_memory_bytes
        balanced = self.balanced
        scores = _SCORES
        static = self.static
        empty = None
        if not cluster.version and not counts and n <= _EMPTY_BOARD_NODES:  # every node is empty
            empty = (cpu, mem, eph, scalar, nzc, nzm, balanced)
            known = static.empty_boards.get(empty)
            if known is not None:
                self._start_list(n, [*known[0]], [*known[1]], counts)
                return
        base = [NEG] * n
        feasible = []
        for i in static.passing:
            if (
                npods[i] + 1 > alloc_pods[i]
                or (cpu and cpu > alloc_cpu[i] - req_cpu[i])
                or (mem and mem > alloc_mem[i] - req_mem[i])
                or (eph and eph > alloc_eph[i] - req_eph[i])
                or (scalar and not fits(cluster, i, r))
            ):  # filters.fits, written out
                continue
            key = (
                alloc_cpu[i], alloc_mem[i], nz_cpu[i] + nzc, nz_mem[i] + nzm, req_cpu[i] + cpu, req_mem[i] + mem,
                balanced,
            )  # the arguments of base_score, as in _base
            score = scores.get(key)
            base[i] = score if score is not None else _score(key)
            feasible.append(i)
        if empty is not None:
            # The filter and score results on empty nodes depend on the request alone: keep them
            # with the static filter results (a template's "constants" on this node set), as tuples
            # of ints, which the garbage collector stops walking (lists it would walk on every full
            # collection: thousands of them in a long env run).
            if len(static.empty_boards) >= 256:
                static.empty_boards.clear()
            static.empty_boards[empty] = (tuple(base), tuple(feasible))
        self._start_list(n, base, feasible, counts)

    def _start_list(self, n: int, base: list[int], feasible: list[int], counts: dict[int, int] | None) -> None:
        """The list-path state from the per-node base scores (``NEG``: infeasible) and the feasible
        nodes, with the group's pod counts per node."""
        cnt = [0] * n
        hist = self.hist
        if counts:
            for i, value in counts.items():
                cnt[i] = value
            for i in feasible:
                value = cnt[i]
                hist[value] = hist.get(value, 0) + 1
        elif feasible:
            hist[0] = len(feasible)
        self.base: Any = base
        self.cnt: Any = cnt
        self.feasible: list[int] = feasible
        self.count = len(feasible)
        self.max_cnt = max(counts.values()) if counts else 0

    def _init_vector(self, n: int, counts: dict[int, int] | None) -> None:
        c = self.cluster
        ns = c.nodeset
        r = self.r
        arrays = ns.arrays
        if arrays is None:
            arrays = ns.arrays = {
                "cpu": np.array(ns.alloc_cpu, dtype=np.int64),
                "mem": np.array(ns.alloc_mem, dtype=np.int64),
                "eph": np.array(ns.alloc_eph, dtype=np.int64),
                "pods": np.array(ns.alloc_pods, dtype=np.int64),
            }
        static = self.static
        if static.mask is None:
            mask = np.zeros(n, dtype=bool)
            mask[list(static.passing)] = True
            static.mask = mask
        a_cpu, a_mem = arrays["cpu"], arrays["mem"]
        req_cpu = np.array(c.req_cpu, dtype=np.int64)
        req_mem = np.array(c.req_mem, dtype=np.int64)
        fit = static.mask & (np.array(c.npods, dtype=np.int64) + 1 <= arrays["pods"])
        if r.cpu_millis:
            fit &= r.cpu_millis <= a_cpu - req_cpu
        if r.memory_bytes:
            fit &= r.memory_bytes <= a_mem - req_mem
        if r.ephemeral_bytes:
            fit &= r.ephemeral_bytes <= arrays["eph"] - np.array(c.req_eph, dtype=np.int64)
        cpu = np.array(c.nz_cpu, dtype=np.int64) + r.nonzero_cpu_millis
        mem = np.array(c.nz_mem, dtype=np.int64) + r.nonzero_memory_bytes
        s_cpu = np.where(cpu > a_cpu, 0, (a_cpu - cpu) * MAX_NODE_SCORE // a_cpu)
        s_mem = np.where(mem > a_mem, 0, (a_mem - mem) * MAX_NODE_SCORE // a_mem)
        base = (s_cpu + s_mem) // 2
        if self.balanced:
            f_cpu = np.minimum((req_cpu + r.cpu_millis) / a_cpu, 1.0)
            f_mem = np.minimum((req_mem + r.memory_bytes) / a_mem, 1.0)
            std = np.abs((f_cpu - f_mem) / 2)
            base = base + ((1.0 - std) * MAX_NODE_SCORE).astype(np.int64)
        self.base = np.where(fit, base, NEG)
        cnt = np.zeros(n, dtype=np.int64)
        feasible_cnt: dict[int, int] = {}
        if counts:
            for i, value in counts.items():
                cnt[i] = value
                if fit[i]:
                    feasible_cnt[value] = feasible_cnt.get(value, 0) + 1
        self.cnt = cnt
        self.count = int(fit.sum())
        hist = self.hist
        hist.update(feasible_cnt)
        zero = self.count - sum(feasible_cnt.values())
        if zero:
            hist[0] = hist.get(0, 0) + zero
        self.max_cnt = max(counts.values()) if counts else 0
        self.feasible = []  # unused by the vector path

    # -- choosing ----------------------------------------------------------------------------------

    def _spread_bonus(self) -> dict[int, int]:
        """``WEIGHT_SPREAD x`` normalised hostname spread score per group count (no zones); memoised
        on (feasible nodes, distinct counts)."""
        key = (self.count, *sorted(self.hist))
        found = _BONUS_MEMO.get(key)
        if found is not None:
            return found
        weight = spread_weight(self.count)
        raw = {c: round_half_away(c * weight + float(HOSTNAME_MAX_SKEW - 1)) for c in key[1:]}
        hi, lo = max(raw.values()), min(raw.values())
        found = {c: WEIGHT_SPREAD * normalize_spread(v, hi, lo) for c, v in raw.items()}
        if len(_BONUS_MEMO) > 65536:
            _BONUS_MEMO.clear()
        _BONUS_MEMO[key] = found
        return found

    def _general_extra(self) -> dict[int, int]:
        """Per feasible node: spread (with zones) and TaintToleration parts of the total."""
        feasible = self.feasible
        extra = dict.fromkeys(feasible, 0)
        if self.group is not None:
            cnt = self.cnt
            w_host = spread_weight(len(feasible))
            zones: list[str | None] = []
            zone_count: dict[str, int] = {}
            w_zone = 0.0
            if self.zones:
                # Zone domains are the zone values of the feasible nodes ("" for a node without the
                # label); pods are counted on every node that passes the pod's node affinity.
                zones = self.cluster.nodeset.zones
                zone_count = dict.fromkeys({zones[i] or "" for i in feasible}, 0)
                w_zone = spread_weight(len(zone_count))
                affinity_ok = self.static.affinity_ok
                for i, value in enumerate(cnt):
                    if value and affinity_ok[i]:
                        z = zones[i] or ""
                        if z in zone_count:
                            zone_count[z] += value
            raw = {}
            for i in feasible:
                score = cnt[i] * w_host + float(HOSTNAME_MAX_SKEW - 1)
                if zones and zones[i] is not None:  # only nodes carrying the zone label score it
                    score += zone_count[zones[i]] * w_zone + float(ZONE_MAX_SKEW - 1)
                raw[i] = round_half_away(score)
            hi, lo = max(raw.values()), min(raw.values())
            for i in feasible:
                extra[i] += WEIGHT_SPREAD * normalize_spread(raw[i], hi, lo)
        prefer = self.prefer
        if prefer is not None:
            hi = max(prefer[i] for i in feasible)
            for i in feasible:
                extra[i] += WEIGHT_TAINT * normalize_reverse(prefer[i], hi)
        else:
            for i in feasible:
                extra[i] += WEIGHT_TAINT * MAX_NODE_SCORE
        return extra

    def totals(self) -> dict[int, int]:
        """Total score of every feasible node (node index -> score), TaintToleration included."""
        if self.vector:
            idx = [int(i) for i in np.flatnonzero(self.base > NEG)]
            bonus = self._spread_bonus() if self.group is not None else {}
            return {
                i: int(self.base[i]) + bonus.get(int(self.cnt[i]), 0) + WEIGHT_TAINT * MAX_NODE_SCORE for i in idx
            }
        extra = self._general_extra()
        return {i: self.base[i] + extra[i] for i in self.feasible}

    def tied_best(self) -> list[int]:
        """Every feasible node with the highest total (upstream picks one of them at random)."""
        totals = self.totals()
        if not totals:
            return []
        best = max(totals.values())
        return [i for i, t in totals.items() if t == best]

    def select(self) -> int:
        """The node the next pod of this class goes to, or -1 when no node is feasible."""
        count = self.count
        if count == 0:
            return -1
        if self.vector:
            base = self.base
            if count == 1:
                return int(np.flatnonzero(base > NEG)[0])
            if self.group is None:
                return int(base.argmax())
            bonus = self._spread_bonus()
            if bonus is not self._total_bonus:  # the spread normalisation changed: rebuild totals
                table = np.zeros(self.max_cnt + 2, dtype=np.int64)
                for c, value in bonus.items():
                    table[c] = value
                self._total = base + table[self.cnt]
                self._total_bonus = bonus
            return int(self._total.argmax())
        feasible = self.feasible
        if count == 1:
            return feasible[0]
        base = self.base
        best, best_total = -1, NEG
        if self.zones or self.prefer is not None:
            extra = self._general_extra()
            for i in feasible:
                t = base[i] + extra[i]
                if t > best_total:
                    best, best_total = i, t
            return best
        if self.group is None:
            for i in feasible:
                if base[i] > best_total:
                    best, best_total = i, base[i]
            return best
        bonus = self._spread_bonus()
        cnt = self.cnt
        for i in feasible:
            t = base[i] + bonus[cnt[i]]
            if t > best_total:
                best, best_total = i, t
        return best

    def fill(self, limit: int, priority: int) -> list[int]:
        """Place up to ``limit`` pods of this class one after another: each goes to the node
        :meth:`select` picks and is counted there (:meth:`Cluster.assume
        <sim_arena_gym.sim.cluster.Cluster.assume>` with this board's group and ``priority``, then
        :meth:`bound`) before the next choice. Stops at the first pod that fits nowhere. Returns the
        chosen nodes, in order.

        The same choices as calling those three in turn (the general path does exactly that); for the
        list path with a spread group and neither zones nor PreferNoSchedule taints -- the common
        case -- the loop is written out with local variables."""
        cluster, group, r = self.cluster, self.group, self.r
        chosen: list[int] = []
        if self.vector or self.zones or self.prefer is not None or group is None or r.scalar:
            for _ in range(limit):
                j = self.select()
                if j < 0:
                    break
                cluster.assume(r, group, priority, j)
                self.bound(j)
                chosen.append(j)
            return chosen
        ns = cluster.nodeset
        alloc_cpu, alloc_mem, alloc_eph, alloc_pods = ns.alloc_cpu, ns.alloc_mem, ns.alloc_eph, ns.alloc_pods
        req_cpu, req_mem, req_eph = cluster.req_cpu, cluster.req_mem, cluster.req_eph
        nz_cpu, nz_mem, npods = cluster.nz_cpu, cluster.nz_mem, cluster.npods
        cpu, mem, eph = r.cpu_millis, r.memory_bytes, r.ephemeral_bytes
        nzc, nzm = r.nonzero_cpu_millis, r.nonzero_memory_bytes
        balanced = self.balanced
        base, cnt, feasible, hist = self.base, self.cnt, self.feasible, self.hist
        scores = _SCORES
        bonus: dict[int, int] | None = None  # the spread bonus table, while count and hist keys hold
        count = self.count
        max_cnt = self.max_cnt
        for _ in range(limit):
            # select()
            if count == 0:
                break
            if count == 1:
                j = feasible[0]
            else:
                if bonus is None:  # _spread_bonus(), memo hit written out
                    bonus = _BONUS_MEMO.get((count, *sorted(hist)))
                    if bonus is None:
                        self.count = count
                        bonus = self._spread_bonus()
                j, best_total = -1, NEG
                for i in feasible:
                    t = base[i] + bonus[cnt[i]]
                    if t > best_total:
                        j, best_total = i, t
            # cluster.assume(r, group, priority, j), less the group and priority counts (added below)
            req_cpu[j] += cpu
            req_mem[j] += mem
            if eph:
                req_eph[j] += eph
            nz_cpu[j] += nzc
            nz_mem[j] += nzm
            npods[j] += 1
            # bound(j): j was feasible; its group count goes up by one
            old_cnt = cnt[j]
            new_cnt = cnt[j] = old_cnt + 1
            if new_cnt > max_cnt:
                max_cnt = new_cnt
            left = hist[old_cnt] - 1
            if left:
                hist[old_cnt] = left
            else:
                del hist[old_cnt]
                bonus = None
            if (
                npods[j] >= alloc_pods[j]
                or (cpu and cpu > alloc_cpu[j] - req_cpu[j])
                or (mem and mem > alloc_mem[j] - req_mem[j])
                or (eph and eph > alloc_eph[j] - req_eph[j])
            ):  # no longer fits (filters.fits)
                base[j] = NEG
                count -= 1
                feasible.remove(j)
                bonus = None
            else:
                key = (
                    alloc_cpu[j], alloc_mem[j], nz_cpu[j] + nzc, nz_mem[j] + nzm, req_cpu[j] + cpu, req_mem[j] + mem,
                    balanced,
                )  # the arguments of base_score, as in _base
                score = scores.get(key)
                base[j] = score if score is not None else _score(key)
                seen = hist.get(new_cnt)
                if seen is None:
                    hist[new_cnt] = 1
                    bonus = None
                else:
                    hist[new_cnt] = seen + 1
            chosen.append(j)
        self.count = count
        self.max_cnt = max_cnt
        if chosen:
            counts = cluster.group_counts.get(group)
            if counts is None:
                counts = cluster.group_counts[group] = {}
            for j in chosen:  # the board's cnt mirrors the group's counts
                counts[j] = cnt[j]
            priority_counts = cluster.priority_counts
            priority_counts[priority] = priority_counts.get(priority, 0) + len(chosen)
            cluster.version += len(chosen)
        return chosen

    # -- updating ----------------------------------------------------------------------------------

    def bound(self, j: int) -> None:
        """A pod of this class was bound to node ``j``: refresh that node."""
        cnt = self.cnt
        old_cnt = int(cnt[j])
        was_feasible = self.base[j] > NEG
        new_cnt = old_cnt + 1 if self.group is not None else old_cnt
        cnt[j] = new_cnt
        if new_cnt > self.max_cnt:
            self.max_cnt = new_cnt
        now_feasible = fits(self.cluster, j, self.r)
        hist = self.hist
        if was_feasible:
            left = hist[old_cnt] - 1
            if left:
                hist[old_cnt] = left
            else:
                del hist[old_cnt]
        if now_feasible:
            self.base[j] = value = self._base(j)
            hist[new_cnt] = hist.get(new_cnt, 0) + 1
        else:
            self.base[j] = value = NEG
            if was_feasible:
                self.count -= 1
                if not self.vector:
                    self.feasible.remove(j)
        bonus = self._total_bonus
        if bonus is not None:  # keep the vector totals current for node j
            self._total[j] = value + bonus.get(new_cnt, 0)
