"""Deterministic names: content hashes of pod templates and pod name suffixes.

Kubernetes names a Deployment's ReplicaSet ``<deployment>-<pod-template-hash>``, where the hash is a
32-bit hash of the pod template written with ``rand.SafeEncodeString`` (each decimal digit mapped into
the alphabet ``bcdfghjklmnpqrstvwxz2456789``), and names pods ``<replicaset>-<5 random characters>``.
The simulator keeps those shapes but makes every value deterministic, so that one trace always gives
the same names:

* :func:`content_digest` hashes a JSON-like value by content (CRC-32 of its ``marshal`` bytes),
  memoised by object identity for a short while, holding a reference so that ``id()`` stays valid.
* :func:`template_hash` turns a digest into the upstream-looking text (``"7c5ddbdf54"``).
* :func:`pod_suffix` gives the n-th pod of an owner a distinct 5-character suffix.

The values differ from the real cluster's (the upstream hash is FNV over Go's printing of the typed
object); only their shape and determinism are reproduced.
"""

from __future__ import annotations

import marshal
import zlib
from typing import Any

from sim_arena_gym.trace.recent import RecentMemo

__all__ = ["SAFE_ALPHABET", "content_digest", "pod_suffix", "safe_encode", "template_hash"]

#: ``k8s.io/apimachinery/pkg/util/rand`` alphanumerics without vowels and confusable characters.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

#: Digests by value identity: ``id(value) -> (value, digest)``. A short-lived memo
#: (:class:`~sim_arena_gym.trace.recent.RecentMemo`): an edited trace brings a fresh pod template each
#: run, used once or twice, so a long-lived table would only keep dead templates for the garbage
#: collector to walk; a template that keeps being used (the trace's own) stays.
_MEMO = RecentMemo(16)
_MEMO_LIMIT = 20_000  # bound of the small memos (hash labels, suffix seeds)


def content_digest(value: Any) -> int:
    """A 32-bit digest of a JSON-like value (dicts, lists/tuples, str, int, float, bool, None).

    It is the CRC-32 of the value's ``marshal`` serialisation in format 2 (which writes no
    back-references, so equal values in equal key order give equal bytes in every process),
    memoised by object identity for a short while (see :data:`_MEMO`). Equal dicts written in a
    different key order may get different digests; the simulator only uses digests for names, never
    to decide equality."""
    found = _MEMO.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    try:
        result = zlib.crc32(marshal.dumps(value, 2))
    except ValueError:  # not plain JSON data (should not happen for decoded traces)
        result = zlib.crc32(repr(value).encode("utf-8", "surrogatepass"))
    _MEMO.put(id(value), (value, result))
    return result


_DIGIT_TABLE = str.maketrans({str(d): SAFE_ALPHABET[ord(str(d)) % len(SAFE_ALPHABET)] for d in range(10)})


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each character mapped to ``SAFE_ALPHABET[ord(c) % 27]``."""
    if text.isdigit():
        return text.translate(_DIGIT_TABLE)
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


_HASHES: dict[int, str] = {}


def template_hash(digest: int, collision_count: int = 0) -> str:
    """A pod-template-hash label value for a template digest, e.g. ``"7c5ddbdf54"``."""
    if not collision_count:
        found = _HASHES.get(digest)
        if found is None:
            if len(_HASHES) > _MEMO_LIMIT:
                _HASHES.clear()
            found = _HASHES[digest] = safe_encode(str(digest))
        return found
    return safe_encode(str(zlib.crc32(collision_count.to_bytes(4, "little"), digest)))


_SUFFIX_SPACE = len(SAFE_ALPHABET) ** 5
_SUFFIX_STEP = 2654435761  # odd and not a multiple of 3: a bijection modulo 27**5
_LOW = 27**3
_TRIPLES = [a + b + c for a in SAFE_ALPHABET for b in SAFE_ALPHABET for c in SAFE_ALPHABET]
_PAIRS = [a + b for a in SAFE_ALPHABET for b in SAFE_ALPHABET]
_SEEDS: dict[str, int] = {}


def pod_suffix(owner_name: str, index: int) -> str:
    """The 5-character suffix of the ``index``-th pod an owner creates; distinct for the first
    27**5 pods of one owner, the same in every run."""
    seed = _SEEDS.get(owner_name)
    if seed is None:
        if len(_SEEDS) > _MEMO_LIMIT:
            _SEEDS.clear()
        seed = _SEEDS[owner_name] = zlib.crc32(owner_name.encode("utf-8", "surrogatepass"))
    high, low = divmod((index * _SUFFIX_STEP + seed) % _SUFFIX_SPACE, _LOW)
    return _PAIRS[high] + _TRIPLES[low]
