"""Label and field selectors as the API server parses them.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``, ``k notin (a,b)``,
comma-separated (all must hold). Field selectors: ``path=v``, ``path==v``, ``path!=v`` over dotted
paths (``metadata.name``, ``spec.nodeName``, ``status.phase``, ``involvedObject.name``, ...).
A malformed selector raises ``ValueError`` (answered 400 BadRequest).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["matches_fields", "matches_labels", "split_terms"]

_SET_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, cur = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return [t.strip() for t in terms if t.strip()]


def _label_term(labels: dict[str, str], term: str) -> bool:
    m = _SET_TERM.match(term)
    if m:
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
        if op == "in":
            return key in labels and labels[key] in values
        return key not in labels or labels[key] not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (s.strip() for s in term.split(op, 1))
            if not key:
                raise ValueError(f"invalid label selector term {term!r}")
            if op == "!=":
                return labels.get(key) != value
            return labels.get(key) == value
    if term.startswith("!"):
        return term[1:].strip() not in labels
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", term):
        raise ValueError(f"invalid label selector term {term!r}")
    return term in labels


def matches_labels(obj: dict[str, Any], selector: str | None) -> bool:
    """Whether ``obj``'s labels satisfy a label selector string (``None`` / empty matches all)."""
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(_label_term(labels, t) for t in split_terms(selector))


def _field(obj: Any, path: str) -> str:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return ""
        obj = obj.get(part)
    if obj is None:
        return ""
    if isinstance(obj, bool):
        return "true" if obj else "false"
    return str(obj)


def matches_fields(obj: dict[str, Any], selector: str | None) -> bool:
    """Whether ``obj`` satisfies a field selector string (``None`` / empty matches all)."""
    if not selector:
        return True
    for term in split_terms(selector):
        for op in ("!=", "==", "="):
            if op in term:
                path, value = (s.strip() for s in term.split(op, 1))
                break
        else:
            raise ValueError(f"invalid field selector term {term!r}: expected path=value or path!=value")
        got = _field(obj, path)
        if (got != value) if op != "!=" else (got == value):
            return False
    return True
