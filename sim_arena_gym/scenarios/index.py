"""The scenario index (``traces/index.json``): read, validate, write, and pick a scenario set.

An index lists scenarios; each entry names a trace file relative to the index's folder::

    {"format": "sim-arena-scenarios/v1",
     "scenarios": [{"id": "canonical-slightly-bad-cpu",
                    "file": "canonical/canonical-slightly-bad-cpu.sktrace",
                    "family": "slightly-bad-cpu", "split": "canonical",
                    "workload": "Deployment/shop/web",
                    "nodes": [{"name": "node", "count": 3, "cpu": "16", "memory": "32Gi", "pods": 110, ...}],
                    "target": 4, "usage_floors": {"web": {"cpu": "500m", "memory": "1Gi"}},
                    "seed": null, "oracle_steps": 1, "description": "..."}]}

Required keys: ``id``, ``file``, ``family``, ``workload``, ``nodes``. Optional: ``split`` (``train``,
``test``, ``canonical`` or null), ``target`` (Ready pods wanted; default: the workload's replicas),
``usage_floors``, ``seed``, ``oracle_steps``, ``description``, ``simkube_mode`` (default true).
A bad entry raises :class:`ScenarioIndexError` naming the index file and the entry.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sim_arena_gym.scenarios.families import FAMILY_NAMES
from sim_arena_gym.scenarios.hard_families import HARD_FAMILY_NAMES
from sim_arena_gym.scenarios.model import Scenario, parse_node_pools
from sim_arena_gym.trace.errors import TraceError
from sim_arena_gym.trace.refs import WorkloadRef

#: Value of the index's ``format`` key.
INDEX_FORMAT = "sim-arena-scenarios/v1"
#: File name of an index inside a traces folder.
INDEX_NAME = "index.json"
#: Environment variable naming the traces folder (default: the repository's ``traces/``).
TRACES_ENV = "SIM_ARENA_TRACES"
#: Splits an entry may declare (``hard-*``: the hard tier, ``SimArena-Hard-v0``).
SPLITS = ("train", "test", "canonical", "hard-train", "hard-test")
#: Names :func:`load_scenario_set` accepts besides a path. ``all`` is the first tier (canonical, train
#: and test, what ``-v0`` always meant); ``hard`` is both hard splits.
SCENARIO_SETS = ("train", "test", "canonical", "all", "hard-train", "hard-test", "hard")
#: Families an entry may name: the generator's (both tiers) plus ``custom`` for hand-made scenarios.
KNOWN_FAMILIES = (*FAMILY_NAMES, *HARD_FAMILY_NAMES, "custom")
#: Reward modes an entry's ``oracle_return`` may list.
_RETURN_MODES = ("binary", "gradual", "penalty")

_REQUIRED = ("id", "file", "family", "workload", "nodes")
_OPTIONAL = ("split", "target", "usage_floors", "seed", "oracle_steps", "description", "simkube_mode",
             "oracle_return")


class ScenarioIndexError(TraceError):
    """An index file is unreadable or one of its entries is invalid.

    ``file`` is the index path and ``where`` the entry (``scenarios[3] (id 'web-001')``). It subclasses
    :class:`~sim_arena_gym.trace.errors.TraceError` so the CLI reports it as a one-line user error."""


def default_traces_dir() -> Path:
    """``$SIM_ARENA_TRACES`` when set, else the ``traces/`` folder of the repository holding this package."""
    env = os.environ.get(TRACES_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "traces"


def default_index_path() -> Path:
    """``default_traces_dir() / "index.json"``."""
    return default_traces_dir() / INDEX_NAME


# ---------------------------------------------------------------------------------------------------
# Reading


def _entry_error(path: Path, i: int, entry: Any, problem: str) -> ScenarioIndexError:
    sid = entry.get("id") if isinstance(entry, Mapping) else None
    where = f"scenarios[{i}]" + (f" (id {sid!r})" if sid is not None else "")
    return ScenarioIndexError(problem, file=str(path), where=where)


def _check_floors(floors: Any) -> dict[str, dict[str, str]]:
    if not isinstance(floors, Mapping):
        raise ValueError(f"usage_floors must map container names to {{'cpu': ..., 'memory': ...}}, got {floors!r}")
    out: dict[str, dict[str, str]] = {}
    for cname, res in floors.items():
        if not isinstance(res, Mapping) or not set(res) <= {"cpu", "memory"}:
            raise ValueError(f"usage_floors[{cname!r}] must be a map with 'cpu' and/or 'memory', got {res!r}")
        for key, value in res.items():
            if not isinstance(value, str) or not value:
                raise ValueError(f"usage_floors[{cname!r}][{key!r}] must be a quantity string, got {value!r}")
            _check_quantity(value, f"usage_floors[{cname!r}][{key!r}]")
        out[str(cname)] = {str(k): str(v) for k, v in res.items()}
    return out


def _check_quantity(text: str, what: str) -> None:
    try:
        from sim_arena_gym.quantity import read_quantity
    except ImportError:  # pragma: no cover - quantity module not built yet
        return
    try:
        read_quantity(text)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _optional_int(entry: Mapping[str, Any], key: str, *, minimum: int) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key} must be an integer >= {minimum} or null, got {value!r}")
    return value


def scenario_from_entry(entry: Mapping[str, Any], base_dir: Path, *, check_file: bool = True) -> Scenario:
    """A :class:`Scenario` from one index entry; ``ValueError`` with the problem if invalid.

    ``file`` is resolved against ``base_dir``; with ``check_file`` it must exist."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"an entry must be a JSON object, got {type(entry).__name__}")
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise ValueError(f"missing required key(s) {', '.join(missing)}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_REQUIRED + _OPTIONAL)}")
    sid, file, family = entry["id"], entry["file"], entry["family"]
    if not isinstance(sid, str) or not sid:
        raise ValueError(f"id must be a non-empty string, got {sid!r}")
    if family not in KNOWN_FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(KNOWN_FAMILIES)}")
    split = entry.get("split")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} or null, got {split!r}")
    if not isinstance(file, str) or not file:
        raise ValueError(f"file must be a path relative to the index, got {file!r}")
    trace_path = base_dir / file
    if check_file and not trace_path.is_file():
        raise ValueError(f"trace file {str(trace_path)!r} does not exist")
    workload = entry["workload"]
    if not isinstance(workload, str):
        raise ValueError(f"workload must be a string such as 'Deployment/shop/web', got {workload!r}")
    ref = WorkloadRef.parse(workload)
    try:
        pools = parse_node_pools(entry["nodes"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad node pool: {exc}") from None
    if not pools:
        raise ValueError("bad node pool: nodes must list at least one pool")
    for pool in pools:
        _check_quantity(pool.cpu, f"bad node pool {pool.name!r}: cpu")
        _check_quantity(pool.memory, f"bad node pool {pool.name!r}: memory")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"description must be a string, got {description!r}")
    simkube_mode = entry.get("simkube_mode", True)
    if not isinstance(simkube_mode, bool):
        raise ValueError(f"simkube_mode must be true or false, got {simkube_mode!r}")
    oracle_return = entry.get("oracle_return")
    if oracle_return is not None:
        if not isinstance(oracle_return, Mapping) or not set(oracle_return) <= set(_RETURN_MODES) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in oracle_return.values()
        ):
            raise ValueError(f"oracle_return must map reward modes {list(_RETURN_MODES)} to numbers, "
                             f"got {oracle_return!r}")
        oracle_return = {str(k): float(v) for k, v in oracle_return.items()}
    return Scenario(
        id=sid,
        trace_path=trace_path,
        workload=ref,
        node_pools=pools,
        target_replicas=_optional_int(entry, "target", minimum=1),
        usage_floors=_check_floors(entry.get("usage_floors") or {}),
        family=family,
        split=split,
        seed=_optional_int(entry, "seed", minimum=0),
        oracle_steps=_optional_int(entry, "oracle_steps", minimum=0),
        description=description,
        simkube_mode=simkube_mode,
        oracle_return=oracle_return,
    )


def load_index(path: str | os.PathLike[str], *, check_files: bool = True) -> list[Scenario]:
    """Scenarios listed in the index at ``path``, in file order; trace paths resolved against its folder.

    Raises :class:`ScenarioIndexError` (naming the file and the entry) for an unreadable index, a wrong
    ``format``, a duplicate id, or an invalid entry (missing keys, unknown family, missing trace file,
    bad node pool, ...)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioIndexError("index file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioIndexError(f"cannot read the index: {exc}", file=str(path)) from None
    if not isinstance(data, Mapping) or data.get("format") != INDEX_FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise ScenarioIndexError(f"not a scenario index: expected \"format\": {INDEX_FORMAT!r}, found {found!r}",
                                 file=str(path))
    entries = data.get("scenarios")
    if not isinstance(entries, list):
        raise ScenarioIndexError("\"scenarios\" must be a list", file=str(path))
    out: list[Scenario] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        try:
            scenario = scenario_from_entry(entry, path.parent, check_file=check_files)
        except ValueError as exc:
            raise _entry_error(path, i, entry, str(exc)) from None
        if scenario.id in seen:
            raise _entry_error(path, i, entry, f"duplicate id (also scenarios[{seen[scenario.id]}])")
        seen[scenario.id] = i
        out.append(scenario)
    return out


def load_scenario_set(name: str | os.PathLike[str] = "train") -> list[Scenario]:
    """A scenario set: ``"train"`` (the default), ``"test"``, ``"canonical"`` or ``"all"`` from the default
    index (:func:`default_traces_dir`), or every scenario of the index at a path (an ``index.json`` or a
    folder holding one)."""
    if isinstance(name, str) and name in SCENARIO_SETS:
        if not default_index_path().is_file():
            raise ScenarioIndexError(
                f"no scenario index for set {name!r}; set ${TRACES_ENV} to a folder holding {INDEX_NAME} "
                "(e.g. the repository's traces/) or pass the path of an index",
                file=str(default_index_path()),
            )
        scenarios = load_index(default_index_path())
        if name == "all":
            scenarios = [s for s in scenarios if s.split in ("train", "test", "canonical") or s.split is None]
        elif name == "hard":
            scenarios = [s for s in scenarios if s.split in ("hard-train", "hard-test")]
        else:
            scenarios = [s for s in scenarios if s.split == name]
        if not scenarios:
            raise ScenarioIndexError(f"no scenarios in set {name!r}", file=str(default_index_path()))
        return scenarios
    path = Path(name)
    if path.is_dir():
        path = path / INDEX_NAME
    if not path.exists():
        raise ScenarioIndexError(
            f"unknown scenario set {str(name)!r}: expected one of {', '.join(SCENARIO_SETS)} or a path to an index"
        )
    return load_index(path)


# ---------------------------------------------------------------------------------------------------
# Writing


def scenario_entry(scenario: Scenario, base_dir: Path) -> dict[str, Any]:
    """The index entry of ``scenario``; its ``trace_path`` is written relative to ``base_dir``."""
    if scenario.trace_path is None:
        raise ValueError(f"scenario {scenario.id!r} has no trace file; save its trace before indexing it")
    trace_path = Path(scenario.trace_path)
    try:
        rel = trace_path.resolve().relative_to(base_dir.resolve())
    except ValueError:
        rel = Path(os.path.relpath(trace_path.resolve(), base_dir.resolve()))
    return {
        "id": scenario.id,
        "file": rel.as_posix(),
        "family": scenario.family,
        "split": scenario.split,
        "workload": str(scenario.workload),
        "nodes": [p.to_dict() for p in scenario.node_pools],
        "target": scenario.target_replicas,
        "usage_floors": {k: dict(v) for k, v in scenario.usage_floors.items()},
        "seed": scenario.seed,
        "oracle_steps": scenario.oracle_steps,
        "description": scenario.description,
        **({} if scenario.simkube_mode else {"simkube_mode": False}),
        **({} if scenario.oracle_return is None else {"oracle_return": dict(scenario.oracle_return)}),
    }


def dumps_index(scenarios: Iterable[Scenario], base_dir: Path) -> str:
    """The index JSON text (2-space indent, one trailing newline) for ``scenarios``."""
    doc = {"format": INDEX_FORMAT, "scenarios": [scenario_entry(s, base_dir) for s in scenarios]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _atomic_write(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Create ``path``'s folder if needed, then write under the policy of :mod:`sim_arena_gym.trace.files`."""
    from sim_arena_gym.trace.files import atomic_write, is_committed

    if not path.parent.is_dir() and (overwrite or not is_committed(path)):  # else atomic_write refuses
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenarioIndexError(f"cannot create the folder: {exc.strerror or exc}", file=str(path.parent)) from None
    atomic_write(path, data, overwrite=overwrite)


def write_index(path: str | os.PathLike[str], scenarios: Sequence[Scenario], *, overwrite: bool = False) -> Path:
    """Write the index of ``scenarios`` to ``path`` atomically (temp file + ``os.replace``), under the
    write policy of :mod:`sim_arena_gym.trace.files` (``overwrite=True`` to replace the committed set).

    Every scenario needs a ``trace_path``; it is stored relative to the index's folder. Ids must be
    unique. Returns the path."""
    path = Path(path)
    ids = [s.id for s in scenarios]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate scenario ids: {', '.join(dupes)}")
    _atomic_write(path, dumps_index(scenarios, path.parent).encode("utf-8"), overwrite=overwrite)
    return path


def trace_file_name(scenario: Scenario, format: str = "msgpack") -> str:
    """``<split or "scenarios">/<id>.sktrace`` (``.json`` for the JSON format), relative to the index."""
    ext = ".json" if format == "json" else ".sktrace"
    return f"{scenario.split or 'scenarios'}/{scenario.id}{ext}"


def save_scenario_set(
    scenarios: Sequence[Scenario],
    out_dir: str | os.PathLike[str],
    *,
    format: str = "msgpack",
    index_name: str = INDEX_NAME,
    overwrite: bool = False,
) -> list[Scenario]:
    """Write each scenario's in-memory trace under ``out_dir`` (see :func:`trace_file_name`) and an
    index listing them. Returns the scenarios with ``trace_path`` set (traces still held in memory).

    Writes follow :mod:`sim_arena_gym.trace.files`: ``out_dir`` must be a folder (created if missing);
    the repository's committed set is written only with ``overwrite=True``."""
    from dataclasses import replace

    from sim_arena_gym.trace.codec import dumps_trace

    if format not in ("msgpack", "json"):
        raise ValueError(f"format must be 'msgpack' or 'json', got {format!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ScenarioIndexError("the output must be a folder, but it is a file", file=str(out))
    saved: list[Scenario] = []
    for s in scenarios:
        if s.trace is None:
            raise ValueError(f"scenario {s.id!r} holds no trace in memory")
        target = out / trace_file_name(s, format)
        _atomic_write(target, dumps_trace(s.trace, format=format), overwrite=overwrite)
        saved.append(replace(s, trace_path=target))
    write_index(out / index_name, saved, overwrite=overwrite)
    return saved
