"""SimKube's object hashes, reproduced in pure Python (``shared/docs/simkube-trace-format.md`` 1.8).

SimKube hashes JSON values with Rust's ``DefaultHasher`` (SipHash-1-3, both keys zero) fed by a
traversal of the ``serde_json::Value``:

* ``null``: eight zero bytes; ``bool``: one byte (0/1);
* integer: eight bytes little-endian (two's complement for negatives, no type tag);
* float: the IEEE-754 bit pattern, eight bytes little-endian, ``-0.0`` hashed as ``+0.0``;
* string: its UTF-8 bytes followed by one ``0xFF`` byte;
* array: the elements in order, no length prefix;
* object: for each key in byte-wise sorted order, the key (as a string) then its value.

Two uses: the trace ``index`` stores the hash of each object's last applied ``spec``
(:func:`sk_hash`), and ``pod_lifecycles`` is keyed by the hash of a pod's "stable" spec
(:func:`pod_stable_spec_hash`).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any, Iterable, Mapping

from sim_arena_gym.trace.model import Trace

__all__ = ["siphash13", "sk_hash", "sk_hash_bytes", "pod_stable_spec_hash", "refresh_index", "object_key"]

_MASK = 0xFFFFFFFFFFFFFFFF
_NULL = b"\x00" * 8
_STR_END = b"\xff"
_PACK_U64 = struct.Struct("<Q").pack
_PACK_F64 = struct.Struct("<d").pack


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 of ``data`` (one compression round per block, three finalisation rounds).

    ``k0``/``k1`` are the two 64-bit key halves; Rust's ``DefaultHasher::new()`` uses zeros. Returns
    the 64-bit hash as a non-negative ``int``."""
    v0 = (k0 ^ 0x736F6D6570736575) & _MASK
    v1 = (k1 ^ 0x646F72616E646F6D) & _MASK
    v2 = (k0 ^ 0x6C7967656E657261) & _MASK
    v3 = (k1 ^ 0x7465646279746573) & _MASK
    length = len(data)
    full = length - (length % 8)
    blocks = struct.unpack_from(f"<{full // 8}Q", data) if full else ()
    tail = data[full:] + b"\x00" * (7 - (length - full))
    last = int.from_bytes(tail, "little") | ((length & 0xFF) << 56)
    mask = _MASK
    for m in (*blocks, last):
        v3 ^= m
        # one SipRound, inlined for speed
        v0 = (v0 + v1) & mask
        v1 = ((v1 << 13) | (v1 >> 51)) & mask
        v1 ^= v0
        v0 = ((v0 << 32) | (v0 >> 32)) & mask
        v2 = (v2 + v3) & mask
        v3 = ((v3 << 16) | (v3 >> 48)) & mask
        v3 ^= v2
        v0 = (v0 + v3) & mask
        v3 = ((v3 << 21) | (v3 >> 43)) & mask
        v3 ^= v0
        v2 = (v2 + v1) & mask
        v1 = ((v1 << 17) | (v1 >> 47)) & mask
        v1 ^= v2
        v2 = ((v2 << 32) | (v2 >> 32)) & mask
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(3):
        v0 = (v0 + v1) & mask
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & mask
        v3 = _rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & mask
        v3 = _rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & mask
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)
    return v0 ^ v1 ^ v2 ^ v3


def _feed(value: Any, out: list[bytes]) -> None:
    """Append the byte stream SimKube's traversal feeds the hasher for ``value``."""
    if value is None:
        out.append(_NULL)
    elif value is True:
        out.append(b"\x01")
    elif value is False:
        out.append(b"\x00")
    elif isinstance(value, str):
        out.append(value.encode("utf-8"))
        out.append(_STR_END)
    elif isinstance(value, int):
        out.append(_PACK_U64(value & _MASK))
    elif isinstance(value, float):
        out.append(_PACK_F64(value + 0.0))  # -0.0 + 0.0 == +0.0
    elif isinstance(value, Mapping):
        for key in sorted(value):  # code-point order of str == byte-wise order of their UTF-8
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, got {type(key).__name__}")
            out.append(key.encode("utf-8"))
            out.append(_STR_END)
            _feed(value[key], out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _feed(item, out)
    else:
        raise TypeError(f"cannot hash a {type(value).__name__} as JSON")


def sk_hash_bytes(value: Any) -> bytes:
    """The byte stream :func:`sk_hash` hashes for a JSON-like ``value`` (for tests and debugging)."""
    out: list[bytes] = []
    _feed(value, out)
    return b"".join(out)


def sk_hash(value: Any) -> int:
    """SimKube's hash of a JSON-like value (``None``, bool, int, float, str, list, dict): a uint64.

    ``sk_hash(obj.get("spec"))`` is the value stored in a trace's ``index`` for ``obj``.
    Raises ``TypeError`` for values JSON cannot hold (bytes, non-string keys)."""
    return siphash13(sk_hash_bytes(value))


def _without_service_account_volumes(items: Iterable[Any]) -> list[Any]:
    return [
        v
        for v in items
        if not (isinstance(v, Mapping) and str(v.get("name", "")).startswith("kube-api-access"))
    ]


def _drop_nulls(value: Any) -> Any:
    """Typed re-serialisation skips unset (``None``) fields of objects."""
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_nulls(v) for v in value]
    return value


def _stable_container(container: Any, *, main: bool) -> Any:
    if not isinstance(container, Mapping):
        return container
    out = dict(container)
    out["volumeMounts"] = _without_service_account_volumes(out.get("volumeMounts") or ())
    if main:
        out.pop("ports", None)
    return out


def pod_stable_spec_hash(pod_spec: Mapping[str, Any]) -> int:
    """The hash SimKube keys ``pod_lifecycles`` by: :func:`sk_hash` of the pod's "stable" spec.

    The stable spec is the typed PodSpec as JSON (unset fields left out) with ``nodeName``,
    ``serviceAccount`` and ``serviceAccountName`` removed, ``volumes`` and every container's and init
    container's ``volumeMounts`` without the ``kube-api-access*`` entries (both keys always present,
    possibly empty), and the ``ports`` of every main container removed."""
    spec = dict(_drop_nulls(dict(pod_spec)))
    for key in ("nodeName", "serviceAccount", "serviceAccountName"):
        spec.pop(key, None)
    spec["volumes"] = _without_service_account_volumes(spec.get("volumes") or ())
    spec["containers"] = [_stable_container(c, main=True) for c in spec.get("containers") or ()]
    if "initContainers" in spec:
        spec["initContainers"] = [_stable_container(c, main=False) for c in spec["initContainers"] or ()]
    return sk_hash(spec)


def object_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """The index key of a Kubernetes object dict: ``(gvk, "namespace/name")``.

    A missing namespace counts as ``default`` (as the builders and :class:`WorkloadRef` assume)."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    gvk = f"{obj.get('apiVersion', '')}.{obj.get('kind', '')}"
    return gvk, f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def recompute_index(trace: Trace) -> dict[str, dict[str, int]]:
    """The trace's index with every entry named in ``trace.stale_index`` recomputed.

    Each stale entry gets :func:`sk_hash` of the ``spec`` of the **last** applied occurrence of that
    object (``null`` when the object has no ``spec``); an entry whose object is never applied keeps
    its stored value. Entries missing from the index are added. The input is not modified; untouched
    GVK maps are shared with the input."""
    if not trace.stale_index:
        return trace.index
    wanted = set(trace.stale_index)
    found: dict[tuple[str, str], int] = {}
    for event in reversed(trace.events):
        for obj in reversed(event.applied_objs):
            key = object_key(obj)
            if key in wanted and key not in found:
                found[key] = sk_hash(obj.get("spec"))
        if len(found) == len(wanted):
            break
    index = dict(trace.index)
    copied: set[str] = set()
    for (gvk, name), value in found.items():
        if gvk not in copied:
            index[gvk] = dict(index.get(gvk) or {})
            copied.add(gvk)
        index[gvk][name] = value
    return index


def refresh_index(trace: Trace) -> Trace:
    """Return ``trace`` with its stale index entries recomputed now and ``stale_index`` emptied.

    Returns the same object when nothing is stale."""
    if not trace.stale_index:
        return trace
    return dataclasses.replace(trace, index=recompute_index(trace), stale_index=frozenset())
