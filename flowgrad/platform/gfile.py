"""``tf.gfile``: TF1's file-system helpers on the local file system.

Failures raise ``tf.errors.NotFoundError`` / ``AlreadyExistsError`` /
``FailedPreconditionError`` / ``PermissionDeniedError`` as TF's do, so TF1 code that catches
them keeps working.  The lower-case names of ``tf.io.gfile`` are provided too.
"""

from __future__ import annotations

import contextlib
import errno
import glob as _glob
import os
import shutil
from typing import Iterator

from flowgrad.framework import errors


def _translate(e: OSError, path: str) -> errors.OpError:
    msg = f"{path}; {e.strerror or e}"
    if isinstance(e, FileNotFoundError) or e.errno == errno.ENOENT:
        return errors.NotFoundError(None, None, msg)
    if isinstance(e, FileExistsError) or e.errno == errno.EEXIST:
        return errors.AlreadyExistsError(None, None, msg)
    if isinstance(e, PermissionError):
        return errors.PermissionDeniedError(None, None, msg)
    if isinstance(e, IsADirectoryError | NotADirectoryError) or e.errno == errno.ENOTEMPTY:
        return errors.FailedPreconditionError(None, None, msg)
    return errors.UnknownError(None, None, msg)


@contextlib.contextmanager
def _os_errors(path: str) -> Iterator[None]:
    try:
        yield
    except errors.OpError:
        raise
    except OSError as e:
        raise _translate(e, path) from e


class GFile:
    """A file object (``tf.gfile.GFile`` / ``Open`` / ``FastGFile``); opened lazily like TF's,
    text in ``'r'``/``'w'``/``'a'`` modes, bytes in the ``'b'`` modes."""

    def __init__(self, name, mode: str = "r") -> None:
        if mode.replace("b", "").replace("+", "") not in ("r", "w", "a"):
            raise errors.InvalidArgumentError(None, None, f"mode {mode!r} is not supported; "
                                              "use r, rb, w, wb, a or ab")
        self.name = os.fspath(name)
        self.mode = mode
        self._f = None
        if "r" in mode and not os.path.exists(self.name):
            raise errors.NotFoundError(None, None, f"{self.name}; No such file or directory")

    def _file(self):
        if self._f is None:
            with _os_errors(self.name):
                self._f = open(self.name, self.mode,  # noqa: SIM115 - closed by close()
                               **({} if "b" in self.mode else {"encoding": "utf-8"}))
        return self._f

    def read(self, n: int = -1):
        return self._file().read(n)

    def readline(self):
        return self._file().readline()

    def readlines(self):
        return self._file().readlines()

    def write(self, data) -> None:
        f = self._file()
        if "b" in self.mode and isinstance(data, str):
            data = data.encode("utf-8")
        elif "b" not in self.mode and isinstance(data, bytes | bytearray):
            data = data.decode("utf-8")
        f.write(data)

    def seek(self, offset=None, whence: int = 0, position=None):
        pos = position if offset is None else offset
        return self._file().seek(pos, whence)

    def tell(self) -> int:
        return self._file().tell()

    def size(self) -> int:
        return Stat(self.name).length

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __iter__(self):
        return iter(self._file())

    def __next__(self):
        return next(self._file())

    def __enter__(self) -> "GFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


Open = GFile
FastGFile = GFile


def Exists(filename) -> bool:  # noqa: N802 - TF's names
    """True if the path exists (file or directory)."""
    return os.path.exists(os.fspath(filename))


def IsDirectory(dirname) -> bool:  # noqa: N802
    return os.path.isdir(os.fspath(dirname))


def MakeDirs(dirname) -> None:  # noqa: N802
    """Creates a directory and its parents; an existing directory is fine."""
    with _os_errors(os.fspath(dirname)):
        os.makedirs(os.fspath(dirname), exist_ok=True)


def MkDir(dirname) -> None:  # noqa: N802
    """Creates one directory; raises AlreadyExistsError if it exists."""
    with _os_errors(os.fspath(dirname)):
        os.mkdir(os.fspath(dirname))


def DeleteRecursively(dirname) -> None:  # noqa: N802
    """Deletes a directory tree (or a file); NotFoundError if missing."""
    path = os.fspath(dirname)
    with _os_errors(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def Remove(filename) -> None:  # noqa: N802
    """Deletes a file; NotFoundError if missing."""
    with _os_errors(os.fspath(filename)):
        os.remove(os.fspath(filename))


def Rename(oldname, newname, overwrite: bool = False) -> None:  # noqa: N802
    """Renames a file; AlreadyExistsError if ``newname`` exists and not ``overwrite``."""
    old, new = os.fspath(oldname), os.fspath(newname)
    if not overwrite and os.path.exists(new):
        raise errors.AlreadyExistsError(None, None, f"{new}; File already exists")
    with _os_errors(old):
        os.replace(old, new)


def Copy(oldpath, newpath, overwrite: bool = False) -> None:  # noqa: N802
    """Copies a file; AlreadyExistsError if ``newpath`` exists and not ``overwrite``."""
    old, new = os.fspath(oldpath), os.fspath(newpath)
    if not overwrite and os.path.exists(new):
        raise errors.AlreadyExistsError(None, None, f"{new}; File already exists")
    with _os_errors(old):
        shutil.copyfile(old, new)


def ListDirectory(dirname) -> list[str]:  # noqa: N802
    """The entries of a directory (names only, no ``.``/``..``); NotFoundError if missing."""
    path = os.fspath(dirname)
    if not os.path.isdir(path):
        raise errors.NotFoundError(None, None, f"Could not find directory {path}")
    with _os_errors(path):
        return os.listdir(path)


def Glob(filename) -> list[str]:  # noqa: N802
    """Paths matching a pattern (a string or a list of patterns)."""
    patterns = [filename] if isinstance(filename, str | os.PathLike) else list(filename)
    out: list[str] = []
    for p in patterns:
        out.extend(sorted(_glob.glob(os.fspath(p))))
    return out


class FileStatistics:
    """What ``Stat`` returns: ``length`` (bytes), ``mtime_nsec``, ``is_directory``."""

    def __init__(self, length: int, mtime_nsec: int, is_directory: bool) -> None:
        self.length, self.mtime_nsec, self.is_directory = length, mtime_nsec, is_directory

    def __repr__(self) -> str:
        return (f"FileStatistics(length={self.length}, mtime_nsec={self.mtime_nsec}, "
                f"is_directory={self.is_directory})")


def Stat(filename) -> FileStatistics:  # noqa: N802
    path = os.fspath(filename)
    with _os_errors(path):
        st = os.stat(path)
    return FileStatistics(st.st_size, st.st_mtime_ns, os.path.isdir(path))


def Walk(top, in_order: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:  # noqa: N802
    """Yields ``(dirname, subdirs, files)`` for the tree under ``top`` (top-down when
    ``in_order``, else bottom-up); nothing if ``top`` does not exist."""
    yield from os.walk(os.fspath(top), topdown=in_order)


# tf.io.gfile's lower-case names
exists, isdir, makedirs, mkdir = Exists, IsDirectory, MakeDirs, MkDir
rmtree, remove, rename, copy = DeleteRecursively, Remove, Rename, Copy
listdir, glob, stat, walk = ListDirectory, Glob, Stat, Walk
