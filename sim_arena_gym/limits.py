"""Named bounds on the work one input may cause, each with a default and a way to raise it.

Every run of this package is bounded in time and memory: a trace file is read only up to
:data:`MAX_TRACE_BYTES`; a trace may ask for at most :data:`MAX_PODS` pods at once (the sum over its
workloads of ``spec.replicas``, Job ``parallelism`` / ``completions``, bare pods), its replay may create
at most :data:`MAX_PODS_CREATED` pods in all (rollouts, Jobs and CronJob runs over time) and run timers
at most at :data:`MAX_TIMER_INSTANTS` instants and at most :data:`MAX_CRON_RUNS` CronJob schedule ticks
(CronJob schedules over a long window), and a node pool may have at most :data:`MAX_NODES_PER_POOL`
nodes. Going over a limit raises a typed error whose
message names the limit, the value found and how to raise the limit.

A limit is raised for a whole process with its environment variable (``SIM_ARENA_MAX_PODS=50000``);
functions that take a limit as an argument (``load_trace(path, max_bytes=...)``) accept it per call.
The variable is read when the limit is checked, so setting it in ``os.environ`` at run time works.

This module is at the bottom of the import order (next to :mod:`sim_arena_gym.quantity`): every
layer may use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = [
    "LIMITS",
    "MAX_CRON_RUNS",
    "MAX_NODES_PER_POOL",
    "MAX_PODS",
    "MAX_PODS_CREATED",
    "MAX_TIMER_INSTANTS",
    "MAX_TRACE_BYTES",
    "Limit",
]


@dataclass(frozen=True, slots=True)
class Limit:
    """One named bound.

    Attributes:
        name: the limit's name (``max_pods``), used in messages and docs.
        default: the value when the environment variable is unset.
        env_var: the environment variable that replaces the default (a positive integer).
        counts: what the value counts, plural (``"pods a trace may ask for at once"``).
    """

    name: str
    default: int
    env_var: str
    counts: str

    def value(self) -> int:
        """The limit in force: ``$env_var`` when set, else :attr:`default`.

        Raises ``ValueError`` naming the variable when it is not a positive integer."""
        text = os.environ.get(self.env_var)
        if text is None or not text.strip():
            return self.default
        try:
            value = int(text.strip())
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"${self.env_var} {text!r}: expected a positive integer (the {self.name} limit)")
        return value

    def exceeded(self, found: int, limit: int | None = None) -> str:
        """The message for ``found`` going over the limit: names the limit and how to raise it."""
        limit = self.value() if limit is None else limit
        return (
            f"{found} is over the limit of {limit} {self.counts} ({self.name}); "
            f"raise it with the environment variable {self.env_var}=N"
        )


#: Bytes a trace file may have; checked before the file is read (and while reading a stream).
MAX_TRACE_BYTES = Limit("max_trace_bytes", 256 * 2**20, "SIM_ARENA_MAX_TRACE_BYTES", "bytes in a trace file")
#: Pods a trace may ask for at once: summed over its workloads, each at its largest occurrence.
MAX_PODS = Limit("max_pods", 10_000, "SIM_ARENA_MAX_PODS", "pods a trace may ask for at once")
#: Pods one replay may create in all (rollouts, Job retries, CronJob runs over the simulated window).
MAX_PODS_CREATED = Limit("max_pods_created", 100_000, "SIM_ARENA_MAX_PODS_CREATED", "pods one replay may create")
#: Instants at which one replay runs timers (CronJob schedules, Job and pod completions, deadlines).
MAX_TIMER_INSTANTS = Limit(
    "max_timer_instants", 200_000, "SIM_ARENA_MAX_TIMER_INSTANTS", "timer instants in one replay"
)
#: CronJob schedule ticks one replay runs (all CronJobs together): each may start a Job, and the Jobs
#: a long window accumulates make every later tick slower.
MAX_CRON_RUNS = Limit("max_cron_runs", 2_000, "SIM_ARENA_MAX_CRON_RUNS", "CronJob schedule ticks in one replay")
#: Nodes one node pool may have.
MAX_NODES_PER_POOL = Limit("max_nodes_per_pool", 5_000, "SIM_ARENA_MAX_NODES_PER_POOL", "nodes in one node pool")

#: Every limit, by name (for docs and the CLI help).
LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (MAX_TRACE_BYTES, MAX_PODS, MAX_PODS_CREATED, MAX_TIMER_INSTANTS, MAX_CRON_RUNS, MAX_NODES_PER_POOL)
}
