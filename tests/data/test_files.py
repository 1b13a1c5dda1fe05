"""Writing files without ever costing the user one.

References: the previous content of the destination, byte for byte, after a
write that failed (a simulated full disk, ENOSPC); the folder's listing (no
temporary file left); the user's path named in every message.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from kmix.data import atomic_write, check_output, write_table
from kmix.data import files as files_module
from kmix.exceptions import DataError


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fsync fails as on a full filesystem (after the bytes went to the page cache)."""

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files_module.os, "fsync", fsync)


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    atomic_write(target, "new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_full_disk_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.csv"
    target.write_text("the user's results\n")
    _full_disk(monkeypatch)
    with pytest.raises(DataError, match=rf"cannot write the table {target}: no space left"):
        write_table(target, [[1, 2], [3, 4]], ["a", "b"])
    assert target.read_text() == "the user's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_permissions_of_an_existing_file_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    atomic_write(target, "new\n")
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d, "it is a directory; give a file name"),
        (lambda d: d / "missing" / "x.csv", r"directory .*missing does not exist"),
        (lambda d: d / "plain.txt" / "x.csv", r"plain\.txt is not a directory"),
    ],
    ids=["a directory", "a missing folder", "a file as folder"],
)
def test_unwritable_destinations_are_named(tmp_path: Path, make, match) -> None:
    (tmp_path / "plain.txt").write_text("")
    target = make(tmp_path)
    with pytest.raises(DataError, match=match) as info:
        atomic_write(target, "x")
    assert str(target) in str(info.value)


def test_permission_denied_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated: as root the sandbox grants every permission."""

    def deny(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files_module.os, "open", deny)
    with pytest.raises(DataError, match=r"cannot write the file .*x\.csv: permission denied"):
        atomic_write(tmp_path / "x.csv", "x")
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    with pytest.raises(DataError, match=r"--out .*d\.csv is also the data file"):
        check_output(data, option="--out", inputs=[("data file", data)])
    # the same file under another spelling of its path
    other = tmp_path / "sub" / ".." / "d.csv"
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError, match="is also the data file"):
        check_output(other, option="--out", inputs=[("data file", data)])
    assert check_output(tmp_path / "m.json", option="--out", inputs=[("data file", data)])


def test_an_existing_folder_is_never_said_to_be_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reference: the folder exists; the system's own reason is reported (as for /proc)."""

    def refuse(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))

    monkeypatch.setattr(files_module.os, "open", refuse)
    with pytest.raises(DataError) as info:
        atomic_write(tmp_path / "x.csv", "x")
    assert "No such file or directory" in str(info.value)
    assert "does not exist" not in str(info.value)


def test_a_symbolic_link_is_followed_not_replaced(tmp_path: Path) -> None:
    """Reference: the link and its target before and after; the link must stay a link."""
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    atomic_write(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_devices_and_pipes_are_written_in_place(tmp_path: Path) -> None:
    """A rename would replace /dev/null (or a pipe) with a regular file: these are written
    where they are. Judged without writing to the device itself."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert files_module._in_place(fifo)
    assert files_module._in_place(Path("/dev/null"))
    plain = tmp_path / "plain.csv"
    plain.write_text("x")
    assert not files_module._in_place(plain) and not files_module._in_place(tmp_path / "new.csv")


def test_a_terminated_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reference: the folder's listing; the command line turns SIGTERM into an exception
    that is no Exception (like KeyboardInterrupt), and the write cleans up on it."""
    from kmix.cli.app import _Terminated

    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def killed(fd: int) -> None:
        raise _Terminated

    monkeypatch.setattr(files_module.os, "fsync", killed)
    with pytest.raises(_Terminated):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
