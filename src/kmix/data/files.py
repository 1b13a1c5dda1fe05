"""Writing files so that a failure never costs the user a file.

Every file kmix writes (tables, model files) goes through :func:`atomic_write`:
the text goes to a temporary file in the destination's folder, is flushed to
disk (``fsync``) and then renamed over the destination, so a full disk, a
signal or a permission problem leaves the previous file as it was and no
temporary file behind. :func:`check_output` refuses an output that would
overwrite an input or cannot be written, before any long work starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from ..exceptions import DataError

__all__ = ["atomic_write", "check_output"]

PathLike = str | os.PathLike[str]


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def _folder_problem(target: Path) -> str | None:
    """Why ``target`` cannot be written, judged from its folder (None if it can)."""
    parent = target.parent
    if target.is_dir():
        return "it is a directory; give a file name"
    if not parent.exists():
        return f"directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if target.exists() and not os.access(target, os.W_OK):
        return "the file exists and is read-only"
    if not target.exists() and not os.access(parent, os.W_OK | os.X_OK):
        return f"no permission to create files in {parent}"
    return None


def _in_place(target: Path) -> bool:
    """Whether ``target`` must be written where it is: not a regular file (a device such as
    /dev/null, a pipe, /dev/stdout), or a file in a folder where no new file can be made."""
    if target.exists() and not target.is_file():
        return True
    return target.exists() and not os.access(target.parent, os.W_OK | os.X_OK)


def atomic_write(path: PathLike, text: str, *, what: str = "file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file, fsync and rename.

    A symbolic link is followed (the file it points to is replaced, the link
    stays). Devices and pipes (``/dev/null``, ``/dev/stdout``), and files in a
    folder where no new file can be created, are written in place: there the
    rename cannot be had.

    Parameters
    ----------
    path : str or path-like
        Destination.
    text : str
        The whole content.
    what : str
        What the file is, for messages (``"table"``, ``"model file"``).

    Returns
    -------
    pathlib.Path
        The destination.

    Raises
    ------
    DataError
        Naming ``path`` and the reason (missing folder, a directory, no
        permission, no space left); the previous file at ``path``, if any, is
        unchanged and no temporary file is left (a signal that ends the
        process: see :func:`kmix.cli.main`, which turns SIGTERM into a clean exit).
    """
    target = Path(path)
    problem = _folder_problem(target)
    if problem is not None:
        raise DataError(f"cannot write the {what} {target}: {problem}")
    real = Path(os.path.realpath(target))
    data = text.encode("utf-8", errors="surrogateescape")
    if _in_place(real):
        try:
            with open(real, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise DataError(f"cannot write the {what} {target}: {_reason(exc)}") from None
        return target
    tmp = real.with_name(f".{real.name}.{secrets.token_hex(6)}.tmp")
    try:
        # 0o666 under the umask, as a plain open() would create the file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        if real.exists():
            with contextlib.suppress(OSError):  # (file systems without modes)
                os.chmod(tmp, real.stat().st_mode & 0o7777)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, real)
    except OSError as exc:
        raise DataError(
            f"cannot write the {what} {target}: {_reason(exc)}; the previous {target.name} "
            "(if any) is unchanged"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path: PathLike, *, option: str, inputs: Iterable[tuple[str, PathLike | None]] = ()
) -> Path:
    """Refuse an output that would replace an input or cannot be written; before the work.

    Parameters
    ----------
    path : str or path-like
        The output the user named.
    option : str
        How the user named it (``"--out"``), for messages.
    inputs : iterable of (name, path)
        The files the command reads (and other outputs it writes), by the
        name the user gave them; None entries are skipped.

    Raises
    ------
    DataError
        The output is one of the inputs, or its folder is missing or not writable.
    """
    target = Path(path)
    for name, other in inputs:
        if other is None:
            continue
        source = Path(other)
        if _same_file(target, source) or target.resolve() == source.resolve():
            raise DataError(
                f"{option} {target} is also the {name}; writing it would destroy that file. "
                f"Choose another file for {option}"
            )
    problem = _folder_problem(target)
    if problem is not None:
        raise DataError(f"cannot write {option} {target}: {problem}")
    return target
