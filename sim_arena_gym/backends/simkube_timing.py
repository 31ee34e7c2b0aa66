"""SimKube's time: ``spec.duration`` strings and the duration the backend asks for."""

from __future__ import annotations

import math
import re

from sim_arena_gym.trace.model import Trace

__all__ = ["format_duration", "parse_duration", "replay_seconds", "trace_span", "simulation_duration"]

_DURATION = re.compile(r"^\+?\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$")


def parse_duration(text: str) -> float:
    """Seconds of a SimKube duration (``+5m``, ``+30s``, ``+1h``, ``90``); ``ValueError`` otherwise."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r}: expected a duration such as '+30s', '+5m' or '+1h'")
    unit = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]
    return float(m.group(1)) * unit


def format_duration(seconds: float) -> str:
    """``+<whole seconds>s`` (rounded up)."""
    return f"+{max(0, math.ceil(seconds))}s"


def trace_span(trace: Trace) -> int:
    """Simulated seconds from the first to the last event."""
    if not trace.events:
        return 0
    return trace.events[-1].ts - trace.events[0].ts


def simulation_duration(trace: Trace, speed: float, settle_seconds: float, read_window_seconds: float) -> str:
    """``spec.duration`` covering the trace plus the settling and read windows (wall-clock seconds
    times ``speed`` = simulated seconds)."""
    return format_duration(trace_span(trace) + (settle_seconds + read_window_seconds) * speed)


def replay_seconds(trace: Trace, speed: float) -> int:
    """Wall-clock seconds sk-driver spends between its first and last event: it sleeps
    ``int((next_ts - ts) / speed)`` (whole seconds, truncated) after each event."""
    total = 0
    events = trace.events
    for a, b in zip(events, events[1:]):
        total += int((b.ts - a.ts) / speed)
    return total
