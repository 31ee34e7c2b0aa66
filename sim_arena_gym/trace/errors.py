"""Errors raised while reading, validating, editing or writing SimKube traces.

Every error names the file (when known), the place in it and the problem, so that a user can find
and fix bad input without a traceback. The CLI prints ``str(error)`` and exits with status 2.
"""

from __future__ import annotations


class TraceError(Exception):
    """A trace could not be read, understood, edited or written.

    Attributes:
        problem: what is wrong, in one sentence.
        file: the trace file's path or ``"<bytes>"``; ``None`` when unknown.
        where: the place inside the trace, e.g. ``"events[3].applied_objs[0] (Deployment default/web)
            spec.template.spec.containers[0].resources.requests.cpu"``; ``None`` for the whole file.
    """

    def __init__(self, problem: str, *, file: str | None = None, where: str | None = None) -> None:
        self.problem = problem
        self.file = file
        self.where = where
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [p for p in (self.file, self.where) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.problem}" if prefix else self.problem

    def __str__(self) -> str:
        return self._render()

    def located(self, *, file: str | None = None, where: str | None = None) -> "TraceError":
        """Return a copy of this error with a file and/or an outer location filled in.

        ``where`` is prepended to an existing inner location (``outer`` + ``"."`` + ``inner``)."""
        new_where = self.where
        if where:
            new_where = f"{where} {self.where}" if self.where else where
        err = type(self).__new__(type(self))
        TraceError.__init__(err, self.problem, file=file or self.file, where=new_where)
        return err


class TraceFormatError(TraceError):
    """The bytes are not a SimKube trace: not msgpack/JSON, wrong structure, wrong types."""


class TraceVersionError(TraceError):
    """The file is a SimKube trace of a format version this package does not read (pre-v2 or newer)."""


class TraceConfigError(TraceError):
    """The tracer config section is invalid (unknown keys, bad pod spec template paths)."""


class QuantityFieldError(TraceError):
    """A Kubernetes resource quantity inside a trace object is malformed."""


class WorkloadError(TraceError):
    """A workload is missing from the trace, or lacks a field an operation needs (e.g. containers)."""


class TraceFieldError(TraceFormatError):
    """A field the simulator reads has a value the API server would reject: the wrong type (``spec.strategy:
    "x"``), out of range (``spec.replicas: -1``) or not one of the allowed values (``strategy.type``).

    ``where`` names the event, the object and the field path, e.g. ``events[1].applied_objs[0]
    (Deployment shop/web) spec.replicas``."""


class TraceLimitError(TraceError):
    """A trace asks for more work than a limit of :mod:`sim_arena_gym.limits` allows (pods, bytes).

    The message names the limit, the value found and the environment variable that raises it.

    Attributes:
        limit: the limit's name (``max_pods``).
    """

    def __init__(self, problem: str, *, file: str | None = None, where: str | None = None, limit: str = "") -> None:
        super().__init__(problem, file=file, where=where)
        self.limit = limit

    def located(self, *, file: str | None = None, where: str | None = None) -> "TraceError":
        err = super().located(file=file, where=where)
        err.limit = self.limit  # type: ignore[attr-defined]
        return err


class TraceWriteError(TraceError):
    """A trace (or index) file may not or could not be written: the destination is not a regular file,
    is a symbolic link, belongs to the committed scenario set or is the source of the data being
    written (each refused unless asked), or the operating system refused the write."""
