"""The tracer config section of a trace (SimKube ``TracerConfig``): validation and normalised views.

The config is kept in :attr:`Trace.config` exactly as decoded, so a file round-trips byte for byte
(legacy keys included). This module checks it the way SimKube's importer does
(``shared/docs/simkube-trace-format.md`` 1.4 and 3) and gives the normalised pod spec template paths:

* ``config`` is a map with a ``trackedObjects`` map: GVK string -> ``TrackedObjectConfig`` map.
* A GVK string is ``group/version.Kind`` (core group: ``version.Kind``; a leading ``/`` is tolerated);
  the ``version.Kind`` part has exactly one dot.
* ``TrackedObjectConfig`` rejects unknown keys (SimKube parses it with ``deny_unknown_fields``); its
  keys are ``podSpecTemplatePaths`` (list of JSON pointers or null), ``trackLifecycle`` and
  ``skipOwned`` (bools) and the legacy ``podSpecTemplatePath`` (one pointer), which is used only when
  ``podSpecTemplatePaths`` is empty.
* The built-in GVKs (:data:`BUILTIN_POD_SPEC_TEMPLATE_PATHS`) default to their built-in path, and any
  other path given for them is an error; any other GVK must give at least one path.
"""

from __future__ import annotations

from typing import Any, Mapping

from sim_arena_gym.trace.errors import TraceConfigError

__all__ = [
    "BUILTIN_POD_SPEC_TEMPLATE_PATHS",
    "TRACKED_OBJECT_KEYS",
    "describe_type",
    "normalize_gvk",
    "pod_spec_template_paths",
    "tracked_objects",
    "validate_config",
]

#: SimKube's built-in pod spec template path per GVK (JSON pointer; ``""`` is the object itself).
#: ``/spec`` for ReplicaSet is as in SimKube's source.
BUILTIN_POD_SPEC_TEMPLATE_PATHS: dict[str, str] = {
    "batch/v1.CronJob": "/spec/jobTemplate/spec/template",
    "apps/v1.DaemonSet": "/spec/template",
    "apps/v1.Deployment": "/spec/template",
    "batch/v1.Job": "/spec/template",
    "apps/v1.ReplicaSet": "/spec",
    "apps/v1.StatefulSet": "/spec/template",
    "v1.Pod": "",
}

#: The keys a ``TrackedObjectConfig`` map may hold, in SimKube's write order (legacy key last).
TRACKED_OBJECT_KEYS = ("podSpecTemplatePaths", "trackLifecycle", "skipOwned", "podSpecTemplatePath")


def normalize_gvk(gvk: str) -> str:
    """A GVK string without the leading ``/`` that old traces write for core types."""
    return gvk[1:] if gvk.startswith("/") else gvk


def _check_gvk(gvk: Any, where: str) -> None:
    if not isinstance(gvk, str):
        raise TraceConfigError(f"GVK keys must be strings, got {type(gvk).__name__}", where=where)
    version_kind = normalize_gvk(gvk).rsplit("/", 1)[-1]
    version, dot, kind = version_kind.partition(".")
    if not dot or not version or not kind or "." in kind:
        raise TraceConfigError(
            f"invalid GVK {gvk!r}: expected 'group/version.Kind' (core group: 'version.Kind')", where=where
        )


def tracked_objects(config: Any) -> dict[str, Any]:
    """The ``trackedObjects`` map of a config (raises :class:`TraceConfigError` when absent)."""
    if not isinstance(config, Mapping):
        raise TraceConfigError(f"config must be a map, got {describe_type(config)}", where="config")
    tracked = config.get("trackedObjects")
    if not isinstance(tracked, Mapping):
        problem = "missing the trackedObjects map" if tracked is None else (
            f"trackedObjects must be a map, got {describe_type(tracked)}"
        )
        raise TraceConfigError(problem, where="config")
    return dict(tracked)


def describe_type(value: Any) -> str:
    """How error messages name the type of a decoded value: ``a map``, ``an array``, ``null``, ..."""
    if value is None:
        return "null"
    names = {dict: "a map", list: "an array", tuple: "an array", str: "a string", bool: "a bool",
             int: "an integer", float: "a float", bytes: "binary data"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _paths_of(gvk: str, entry: Mapping[str, Any], where: str) -> list[str]:
    """Normalised podSpecTemplatePaths of one TrackedObjectConfig (after its keys were checked)."""
    paths = entry.get("podSpecTemplatePaths")
    if paths is not None:
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise TraceConfigError("podSpecTemplatePaths must be an array of strings or null", where=where)
    legacy = entry.get("podSpecTemplatePath")
    if legacy is not None and not isinstance(legacy, str):
        raise TraceConfigError("podSpecTemplatePath must be a string or null", where=where)
    result = list(paths or [])
    if not result and legacy is not None:
        result = [legacy]
    builtin = BUILTIN_POD_SPEC_TEMPLATE_PATHS.get(normalize_gvk(gvk))
    if builtin is not None:
        if not result:
            return [builtin]
        if any(p != builtin for p in result):
            bad = next(p for p in result if p != builtin)
            raise TraceConfigError(
                f"invalid pod spec template path {bad!r} for {gvk}: SimKube only accepts its built-in "
                f"path {builtin!r} for this GVK",
                where=where,
            )
        return result
    if not result:
        raise TraceConfigError(
            f"missing pod spec template path for {gvk}: a GVK that is not built into SimKube needs "
            "podSpecTemplatePaths",
            where=where,
        )
    return result


def _check_entry(gvk: str, entry: Any, where: str) -> list[str]:
    if not isinstance(entry, Mapping):
        raise TraceConfigError(f"the config of {gvk} must be a map, got {describe_type(entry)}", where=where)
    for key in entry:
        if key not in TRACKED_OBJECT_KEYS:
            raise TraceConfigError(
                f"unknown key {key!r} in the config of {gvk} (allowed: {', '.join(TRACKED_OBJECT_KEYS)})",
                where=where,
            )
    for key in ("trackLifecycle", "skipOwned"):
        if key in entry and not isinstance(entry[key], bool):
            raise TraceConfigError(f"{key} of {gvk} must be a bool, got {describe_type(entry[key])}", where=where)
    return _paths_of(gvk, entry, where)


def validate_config(config: Any) -> dict[str, list[str]]:
    """Check a decoded ``TracerConfig`` as SimKube's importer does.

    Returns the normalised pod spec template paths per GVK (in config order). Raises
    :class:`TraceConfigError` whose ``where`` names the GVK (``config.trackedObjects["v1.Pod"]``)."""
    result: dict[str, list[str]] = {}
    for gvk, entry in tracked_objects(config).items():
        where = f"config.trackedObjects[{gvk!r}]" if not isinstance(gvk, str) else f'config.trackedObjects["{gvk}"]'
        _check_gvk(gvk, where)
        result[gvk] = _check_entry(gvk, entry, where)
    return result


def pod_spec_template_paths(config: Any, gvk: str) -> list[str]:
    """Normalised pod spec template paths (JSON pointers) for ``gvk`` under ``config``.

    A tracked GVK gets its configured paths (legacy key honoured, built-in default filled in); an
    untracked built-in GVK gets its built-in path; any other untracked GVK gets ``[]``."""
    tracked = tracked_objects(config)
    for key in (gvk, "/" + gvk):
        if key in tracked:
            return _check_entry(key, tracked[key], f'config.trackedObjects["{key}"]')
    builtin = BUILTIN_POD_SPEC_TEMPLATE_PATHS.get(normalize_gvk(gvk))
    return [builtin] if builtin is not None else []
