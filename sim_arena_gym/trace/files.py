"""Reading and writing files safely: bounded reads, and the write policy every writer of this package follows.

Reading (:func:`read_bounded`): at most :data:`~sim_arena_gym.limits.MAX_TRACE_BYTES` bytes. A regular
file's size is checked before reading it; a stream (``/dev/zero``, a pipe) is read only up to one byte
past the limit. Going over raises :class:`~sim_arena_gym.trace.errors.TraceLimitError`.

Writing (:func:`check_destination`, :func:`atomic_write`), for trace files (``save_trace``, ``sim-arena
run --save-trace``, ``trace convert``) and scenario sets (``trace generate``, ``write_index``):

* **never onto something that is not a regular file**: a directory, a device (``/dev/null``,
  ``/dev/full``), a FIFO or a socket is refused, whatever the flags;
* **symbolic links are refused**: when the destination itself is a symlink (dangling or not) the write
  is refused rather than replacing the link by a file or writing through it; write to the link's target
  path instead. Symlinks in the folders above the destination are followed as usual;
* **nothing committed or read is overwritten unless asked**: a destination inside the repository's
  committed scenario set (its ``traces/`` folder, the one holding ``index.json``) or the same file as one
  of the ``protected`` paths (the trace's own source file, a scenario's trace file) is refused unless
  ``overwrite=True`` (CLI: ``--overwrite``);
* **atomic**: the bytes go to a hidden temporary file in the destination's folder
  (``.<name>.<pid>.<random>.sim-arena-tmp``), which is fsynced and renamed over the destination, so a
  reader never sees a partial file; a failed write removes its temporary file;
* **stale temporary files are cleaned up**: a write removes the temporary files that earlier writes to
  the same folder left behind when they were killed (those whose process is gone, and the
  ``.<name>.*.tmp`` files of this package's older versions for the same destination).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path
from typing import Iterable

from sim_arena_gym.limits import MAX_TRACE_BYTES
from sim_arena_gym.trace.errors import TraceLimitError, TraceWriteError

__all__ = [
    "TEMP_SUFFIX",
    "atomic_write",
    "check_destination",
    "committed_scenario_dir",
    "is_committed",
    "read_bounded",
    "remove_stale_temp_files",
]

#: Suffix of this package's temporary files.
TEMP_SUFFIX = ".sim-arena-tmp"
_TEMP_PATTERN = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{16}" + re.escape(TEMP_SUFFIX) + "$")
#: Age after which an old-style temporary file (``.<name>.<random>.tmp``) counts as stale.
_LEGACY_STALE_SECONDS = 60.0


def committed_scenario_dir() -> Path | None:
    """The repository's committed scenario set (``<repo>/traces``, holding ``index.json``), or ``None``
    when this package is not run from a checkout that has one."""
    folder = Path(__file__).resolve().parents[2] / "traces"
    return folder if (folder / "index.json").is_file() else None


def is_committed(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies inside the repository's committed scenario set (:func:`committed_scenario_dir`)."""
    committed = committed_scenario_dir()
    return committed is not None and _inside(Path(os.fspath(path)), committed)


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def check_destination(
    dest: str | os.PathLike[str], *, overwrite: bool = False, protected: Iterable[str | os.PathLike[str] | None] = ()
) -> Path:
    """Apply the write policy (module docstring) to ``dest``; return it as a ``Path``.

    ``protected``: paths that must not be overwritten unless ``overwrite`` (``None`` and ``"<bytes>"``
    entries are skipped). Raises :class:`~sim_arena_gym.trace.errors.TraceWriteError` naming the file."""
    path = Path(os.fspath(dest))
    where = str(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise TraceWriteError(f"cannot write here: {exc.strerror or exc}", file=where) from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise TraceWriteError(
                f"refusing to write: the destination is a symbolic link (to {os.readlink(path)!r}); symlinks "
                "are never replaced or written through: write to the target path itself",
                file=where,
            )
        if not stat.S_ISREG(info.st_mode):
            raise TraceWriteError(
                f"refusing to write: the destination is {_kind_of(info.st_mode)}, not a regular file", file=where
            )
    if not overwrite:
        for other in protected:
            if other is None or str(other) in ("", "<bytes>"):
                continue
            if info is not None and _same_file(path, Path(other)):
                raise TraceWriteError(
                    "refusing to overwrite the file this trace was loaded from; write to another path or pass "
                    "overwrite=True (CLI: --overwrite)",
                    file=where,
                )
        if is_committed(path):
            committed = committed_scenario_dir()
            raise TraceWriteError(
                f"refusing to write into the committed scenario set ({committed}); write elsewhere or pass "
                "overwrite=True (CLI: --overwrite)",
                file=where,
            )
    if not path.parent.is_dir():
        raise TraceWriteError(f"cannot write: folder {str(path.parent)!r} does not exist", file=where)
    return path


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove the temporary files that killed writes left in ``folder``; return the ones removed.

    A temporary file of this package (``.<name>.<pid>.<random>.sim-arena-tmp``) is stale when its
    process is gone; an old-style one (``.<name>.<random>.tmp``, for destination ``name`` only) when
    it is older than a minute."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    import time

    now = time.time()
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        stale = False
        match = _TEMP_PATTERN.match(entry.name)
        if match is not None:
            stale = not _process_alive(int(match.group(1)))
        elif name is not None and entry.name.startswith(f".{name}.") and entry.name.endswith(".tmp"):
            try:
                stale = now - entry.stat(follow_symlinks=False).st_mtime > _LEGACY_STALE_SECONDS
            except OSError:
                stale = False
        if stale and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def open_temp(dest: Path) -> tuple[int, str]:
    """Create the temporary file for a write to ``dest`` (exclusive, mode 0600): ``(fd, path)``."""
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    return fd, str(tmp)


def atomic_write(
    dest: str | os.PathLike[str],
    data: bytes,
    *,
    overwrite: bool = False,
    protected: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """Write ``data`` to ``dest`` under the write policy (module docstring); return the path.

    Keeps an existing file's permission bits (new files get 0644). Raises
    :class:`~sim_arena_gym.trace.errors.TraceWriteError`."""
    path = check_destination(dest, overwrite=overwrite, protected=protected)
    where = str(path)
    remove_stale_temp_files(path.parent, path.name)
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp_name = open_temp(path)
    except OSError as exc:
        raise TraceWriteError(f"cannot write the trace file: {exc.strerror or exc}", file=where) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise TraceWriteError(f"cannot write the trace file: {exc.strerror or exc}", file=where) from None
        raise
    try:  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def read_bounded(path: str | os.PathLike[str], max_bytes: int | None = None) -> bytes:
    """The bytes of ``path``, at most ``max_bytes`` (default: :data:`~sim_arena_gym.limits.MAX_TRACE_BYTES`
    in force). A regular file's size is checked before reading; a stream is read only up to one byte
    past the limit. Raises :class:`TraceLimitError` over the limit and ``OSError`` when unreadable."""
    limit = MAX_TRACE_BYTES.value() if max_bytes is None else max_bytes
    where = os.fspath(path)
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", where)
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise TraceLimitError(
                "the file is too large: " + MAX_TRACE_BYTES.exceeded(info.st_size, limit),
                file=where,
                limit=MAX_TRACE_BYTES.name,
            )
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TraceLimitError(
            "the stream is too large: " + MAX_TRACE_BYTES.exceeded(len(data), limit),
            file=where,
            limit=MAX_TRACE_BYTES.name,
        )
    return data
