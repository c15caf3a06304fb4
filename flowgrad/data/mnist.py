"""MNIST's IDX files: a validating reader and the train/test loader.

The IDX format (LeCun et al.) is a 4-byte magic number ``00 00 <type> <ndim>``, then
``ndim`` big-endian uint32 sizes, then the values in row-major order, big-endian.  Files
may be gzipped.  Every header field and the data size are checked, so a truncated or
foreign file gives one clear error instead of a misshapen array.

MNIST itself is not bundled and cannot be downloaded by flowgrad: get the four files
(``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``) from a mirror of http://yann.lecun.com/exdb/mnist/ (for
example https://ossci-datasets.s3.amazonaws.com/mnist/) and point ``data_dir`` or
``$FLOWGRAD_DATA`` at their folder.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

# IDX type byte -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

MNIST_HELP = ("get train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
              "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from a mirror of "
              "http://yann.lecun.com/exdb/mnist/ (e.g. https://ossci-datasets.s3.amazonaws.com/"
              "mnist/) into one folder and pass --data-dir FOLDER or set FLOWGRAD_DATA")


class DataError(ValueError):
    """A data file is missing, unreadable or not what it claims to be."""


def read_idx(path: str) -> np.ndarray:
    """The array stored in the IDX file ``path`` (gzipped or raw), in native byte order."""
    if not os.path.isfile(path):
        raise DataError(f"IDX file not found: {path}")
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e}); the file is damaged or not gzip data, "
                        "download it again") from None
    return parse_idx(raw, path)


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decodes IDX bytes; raises :class:`DataError` naming ``name`` when they are invalid."""
    if len(raw) < 4:
        raise DataError(f"{name}: not an IDX file (only {len(raw)} bytes; the header alone "
                        "is 4 bytes or more)")
    zero, type_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise DataError(f"{name}: not an IDX file (bad magic number 0x{raw[:4].hex()}; "
                        "expected 00 00 <type 08/09/0B/0C/0D/0E> <ndim>)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated IDX header ({len(raw)} bytes, {header} needed "
                        f"for {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataError(f"{name}: IDX data {what}: header says shape {tuple(dims)} "
                        f"({expected} bytes) but {got} bytes follow")
    arr = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return arr.reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str, array: np.ndarray, compress: bool | None = None) -> None:
    """Writes ``array`` as an IDX file (gzipped when ``path`` ends in .gz)."""
    arr = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    native = arr.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}")
    body = struct.pack(">HBB", 0, codes[native], arr.ndim)
    body += struct.pack(f">{arr.ndim}I", *arr.shape)
    body += arr.astype(_IDX_TYPES[codes[native]]).tobytes()
    if compress if compress is not None else path.endswith(".gz"):
        body = gzip.compress(body)
    with open(path, "wb") as f:
        f.write(body)


def _find(data_dir: str, stem: str) -> str | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz",
                 stem.replace("-idx", ".idx")):
        p = os.path.join(data_dir, name)
        if os.path.isfile(p):
            return p
    return None


def mnist_dir(data_dir: str | None = None) -> str:
    """The folder to read MNIST from: ``data_dir``, else ``$FLOWGRAD_DATA`` (and its
    ``mnist`` sub-folder when the files are there)."""
    d = data_dir or os.environ.get("FLOWGRAD_DATA")
    if not d:
        raise DataError(f"MNIST files not found: no data folder given; {MNIST_HELP}")
    if not os.path.isdir(d):
        raise DataError(f"MNIST data folder does not exist: {d}; {MNIST_HELP}")
    sub = os.path.join(d, "mnist")
    if _find(d, _MNIST_FILES["train_images"]) is None and os.path.isdir(sub):
        return sub
    return d


def load_mnist(data_dir: str | None = None):
    """``((x_train, y_train), (x_test, y_test))``: float32 images in [0, 1] of shape
    (N, 28, 28) and int64 labels, read from MNIST's four IDX files."""
    d = mnist_dir(data_dir)
    arrays = {}
    for key, stem in _MNIST_FILES.items():
        p = _find(d, stem)
        if p is None:
            raise DataError(f"MNIST file {stem}[.gz] not found in {d}; {MNIST_HELP}")
        arrays[key] = read_idx(p)
    out = []
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3:
            raise DataError(f"MNIST {split} images must be a 3-D IDX array (N, rows, cols), "
                            f"got shape {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"MNIST {split} labels must be 1-D with one label per image: "
                            f"{len(x)} images but labels of shape {y.shape}")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise DataError(f"MNIST {split} labels must be digits 0-9, found {int(y.min())}.."
                            f"{int(y.max())}")
        out.append((x.astype(np.float32) / 255.0, y.astype(np.int64)))
    return tuple(out)
