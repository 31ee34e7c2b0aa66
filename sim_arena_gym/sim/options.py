"""Options of the embedded simulator: the Kubernetes version it imitates and when it observes.

The version only changes text and a few edge rules (``k8s-scheduling-rules.md`` checklist 18):

========  ==================  ===================================  ======  ========================
version   preemption ending   taint reason text                    DRA     request > allocatable
========  ==================  ===================================  ======  ========================
``1.29``  ``…for incoming     ``node(s) had untolerated taint      no      resolvable
          pod..`` (doubled)   {key: value}``
``1.33``  single period       ``… taint {key: value}``             no      resolvable
``1.34``  single period       ``… taint {key: value}``             yes     unresolvable (§3.1)
``1.35``  single period       ``node(s) had untolerated taint(s)`` yes     unresolvable (§3.1)
========  ==================  ===================================  ======  ========================

``1.33`` (the default) stands for v1.30–v1.33, the spec's canonical form
``0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption
victims found for incoming pod.``. "DRA" adds the DynamicResources PostFilter text
``no new claims to deallocate, `` before ``preemption: `` (§3.3). From ``1.33`` on,
BalancedAllocation skips best-effort pods (§2.3, kubernetes/kubernetes#129138).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class KubeVersion(enum.Enum):
    """The kube-scheduler release whose messages and edge rules the simulator reproduces."""

    V1_29 = "1.29"
    V1_33 = "1.33"
    V1_34 = "1.34"
    V1_35 = "1.35"

    #: Members are singletons compared by identity: hash them by identity too, in C (the simulator
    #: keys its per-run memos -- static filter results, failure verdicts -- with the version, and
    #: ``Enum.__hash__`` is a Python-level call).
    __hash__ = object.__hash__

    @classmethod
    def parse(cls, value: "KubeVersion | str") -> "KubeVersion":
        """``"1.33"``, ``"v1.33"`` or a member; ``ValueError`` naming the known versions otherwise."""
        if isinstance(value, KubeVersion):
            return value
        text = str(value).strip().lstrip("vV")
        for member in cls:
            if member.value == text:
                return member
        known = ", ".join(m.value for m in cls)
        raise ValueError(f"kube version {value!r}: expected one of {known}")

    @property
    def _minor(self) -> int:
        return _MINOR[self.value]

    @property
    def doubled_period(self) -> bool:
        """The PostFilter part ends with ``..`` (up to v1.29, kubernetes/kubernetes#123301)."""
        return self._minor <= 29

    @property
    def generic_taint_text(self) -> bool:
        """Taint reason ``node(s) had untolerated taint(s)`` (v1.35+, kubernetes/kubernetes#134740)."""
        return self._minor >= 35

    @property
    def dra_clause(self) -> bool:
        """DynamicResources is on and adds ``no new claims to deallocate`` (v1.34+)."""
        return self._minor >= 34

    @property
    def unresolvable_by_size(self) -> bool:
        """A request larger than the empty node is UnschedulableAndUnresolvable (v1.34+, #131345)."""
        return self._minor >= 34

    @property
    def balanced_skips_best_effort(self) -> bool:
        """BalancedAllocation does not score best-effort pods (v1.33+, #129138)."""
        return self._minor >= 33


_MINOR = {member.value: int(member.value.split(".")[1]) for member in KubeVersion}


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How the embedded simulator replays a trace.

    Attributes:
        version: the kube-scheduler release to imitate (:class:`KubeVersion` or ``"1.33"``).
        observe_after_seconds: simulated seconds to let pass after the last event before observing
            (timers such as Job completions and CronJob schedules run in that time). Default 0: the
            cluster is observed at the last event's time, once controllers and the scheduler settled.
        observe_at_ts: observe at this absolute time (Unix seconds) instead; events after it are not
            applied. ``None`` (default) uses the last event (plus ``observe_after_seconds``).
        elapse_progress_deadlines: report each Deployment whose rollout is stuck as if its
            ``progressDeadlineSeconds`` had already passed (``Progressing=False /
            ProgressDeadlineExceeded``) without moving the clock. A stalled rollout makes no progress
            on its own, so this is the condition it settles to; jobs, cron schedules and lifecycles
            are not advanced. Default ``False``: the condition appears only once simulated time
            passes the deadline (checklist 31).
        vector_min_nodes: from this many nodes on, node scoring uses numpy arrays (same results,
            see :mod:`sim_arena_gym.sim.board`).
        max_settle_rounds: safety limit on controller/scheduler rounds at one instant.
        fast_path: replay traces that only create Deployments with the short replay of
            :mod:`sim_arena_gym.sim.fastpath` (same outcome, several times faster). ``False`` always
            uses the general replay (for comparing the two).
    """

    version: KubeVersion = KubeVersion.V1_33
    observe_after_seconds: int = 0
    observe_at_ts: int | None = None
    elapse_progress_deadlines: bool = False
    vector_min_nodes: int = 48
    max_settle_rounds: int = 100_000
    fast_path: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", KubeVersion.parse(self.version))
        if not isinstance(self.observe_after_seconds, int) or self.observe_after_seconds < 0:
            raise ValueError(
                f"observe_after_seconds {self.observe_after_seconds!r}: expected a non-negative integer"
            )
        if self.observe_at_ts is not None and not isinstance(self.observe_at_ts, int):
            raise ValueError(f"observe_at_ts {self.observe_at_ts!r}: expected Unix seconds (int) or None")
        if not isinstance(self.vector_min_nodes, int) or self.vector_min_nodes < 1:
            raise ValueError(f"vector_min_nodes {self.vector_min_nodes!r}: expected a positive integer")
        if type(self.max_settle_rounds) is not int or self.max_settle_rounds < 1:
            raise ValueError(f"max_settle_rounds {self.max_settle_rounds!r}: expected a positive integer")
        for name in ("elapse_progress_deadlines", "fast_path"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} {getattr(self, name)!r}: expected true or false")
