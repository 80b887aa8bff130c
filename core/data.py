"""Loading MNIST (and Fashion-MNIST) from wherever it can be found.

Sources are tried in order and the first that works wins:

1. an explicit path from configuration (``MNIST_PATH`` / ``FASHION_MNIST_PATH``):
   a Keras-style ``.npz`` or a folder holding the four original idx files;
2. ``keras.datasets`` (its local cache first, read without importing
   TensorFlow; then ``load_data()``, which downloads when online);
3. for MNIST only, scikit-learn's bundled 8x8 digits, rebuilt as 28x28
   images the way MNIST was made: a small offline stand-in.

Every array handed out is read-only, so a dataset can be shared by all the
sessions of a server without one changing another's data.

Files are read header first and bounded (``MAX_IMAGES_PER_SPLIT``,
``MAX_FILE_BYTES``); pipes and devices are never opened for reading. What the
pages show (``provenance``, ``warnings``) names files by base name only.
"""

from __future__ import annotations

import gzip
import logging
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core import config
from core.preprocess import IMAGE_SHAPE, NUM_CLASSES, centre_like_mnist, crop_to_ink, fit_in_box

DATASETS = ("mnist", "fashion_mnist")
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# The original file names (LeCun's site, Zalando's repo, Debian's package);
# each may also be gzipped (".gz").
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

#: MNIST has 60,000 + 10,000 images; a file claiming more than this per split is
#: refused from its header, before anything is read or decompressed.
MAX_IMAGES_PER_SPLIT = 100_000
#: No dataset file (npz or idx) may be larger than this on disk (MNIST's npz: 11 MB).
MAX_FILE_BYTES = 512 * 2**20

STANDIN_SEED = 0
STANDIN_TEST_FRACTION = 0.2
_log = logging.getLogger(__name__)

HOW_TO_GET_MNIST = (
    "To use the real MNIST, set MNIST_PATH to a Keras-style mnist.npz "
    "(or run once with internet access so keras.datasets can download it)."
)


class DatasetUnavailable(RuntimeError):
    """No source could provide the dataset; ``str()`` says what was tried."""


# eq=False: comparing datasets field by field would compare whole arrays (and fail).
@dataclass(frozen=True, repr=False, eq=False)
class Dataset:
    """Train and test images (uint8, (N, 28, 28)) with labels (uint8, (N,)), read-only."""

    name: str
    title: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    provenance: str
    is_standin: bool = False
    warnings: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return (
            f"Dataset({self.title}: train {self.x_train.shape}, test {self.x_test.shape}, "
            f"{self.provenance!r})"
        )


# --------------------------------------------------------------------------
# Validation shared by every source
# --------------------------------------------------------------------------


def _check_arrays(arrays: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Return the four arrays as read-only uint8 after checking shapes, dtypes and labels."""
    checked = {}
    for key in NPZ_KEYS:
        array = np.asarray(arrays[key])
        if key.startswith("x"):
            if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
                raise ValueError(
                    f"{source}: {key} has shape {array.shape}, expected (N, 28, 28) images"
                )
            if array.dtype != np.uint8:
                raise ValueError(f"{source}: {key} has dtype {array.dtype}, expected uint8 pixels")
        else:
            if array.ndim != 1:
                raise ValueError(f"{source}: {key} has shape {array.shape}, expected (N,) labels")
            if not np.issubdtype(array.dtype, np.integer):
                raise ValueError(f"{source}: {key} has dtype {array.dtype}, expected integer labels")
            if array.size and (array.min() < 0 or array.max() >= NUM_CLASSES):
                raise ValueError(
                    f"{source}: {key} has label values {array.min()}..{array.max()}, "
                    f"expected 0..{NUM_CLASSES - 1}"
                )
            array = array.astype(np.uint8, copy=False)
        checked[key] = array
    for split in ("train", "test"):
        n_x, n_y = len(checked[f"x_{split}"]), len(checked[f"y_{split}"])
        if n_x != n_y:
            raise ValueError(f"{source}: {n_x} {split} images but {n_y} {split} labels")
        if n_x == 0:
            raise ValueError(f"{source}: the {split} split is empty")
    for array in checked.values():
        array.setflags(write=False)
    return checked


# --------------------------------------------------------------------------
# Readers: headers first, then only the bytes the header promises (bounded)
# --------------------------------------------------------------------------


def _open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading, or ValueError when it is missing, not a regular file or too large.

    O_NONBLOCK so that a FIFO does not block the open; fstat on the opened
    descriptor, so nothing can be swapped in between the check and the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot be opened ({error.strerror or error})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path}: not a regular file (a pipe, device or socket is never read)")
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(
                f"{path}: {info.st_size / 2**20:,.0f} MB, more than the {MAX_FILE_BYTES / 2**20:,.0f} MB "
                "a dataset file may have"
            )
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_split_size(count: int, where: str, items: str) -> None:
    """Refuse a header that claims more than MNIST-sized data (``where``: the file and what in it)."""
    if count > MAX_IMAGES_PER_SPLIT:
        raise ValueError(f"{where} claims {count:,} {items}, more than the {MAX_IMAGES_PER_SPLIT:,} a split may have")


def _check_header(key: str, shape: tuple[int, ...], dtype: np.dtype, source: str) -> None:
    """Refuse an array from its .npy header alone: wrong shape or dtype, or more than MNIST-sized."""
    if dtype.hasobject:
        raise ValueError(f"{source}: {key} holds pickled (object) data, which is never loaded")
    if key.startswith("x"):
        if len(shape) != 3 or shape[1:] != IMAGE_SHAPE:
            raise ValueError(f"{source}: {key} has shape {shape}, expected (N, 28, 28) images")
        if dtype != np.uint8:
            raise ValueError(f"{source}: {key} has dtype {dtype}, expected uint8 pixels")
    else:
        if len(shape) != 1:
            raise ValueError(f"{source}: {key} has shape {shape}, expected (N,) labels")
        if not np.issubdtype(dtype, np.integer):
            raise ValueError(f"{source}: {key} has dtype {dtype}, expected integer labels")
    _check_split_size(shape[0], f"{source}: {key}", "items")


def _read_npz_member(archive: zipfile.ZipFile, key: str, source: str) -> np.ndarray:
    with archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
        _check_header(key, shape, dtype, source)
    # The header was fine: read_array reads it again, then exactly the bytes it promises.
    with archive.open(f"{key}.npy") as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read a Keras-style .npz (keys x_train, y_train, x_test, y_test) safely.

    Each array's .npy header is checked before its data is decompressed, so a
    small file that claims a billion images is refused at once.
    """
    path = Path(path)
    with _open_regular(path) as file:
        try:
            if file.read(6) == b"\x93NUMPY":
                raise ValueError(
                    f"{path}: a single .npy array, not a .npz; save the four arrays with "
                    "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
                )
            file.seek(0)
            with zipfile.ZipFile(file) as archive:
                names = archive.namelist()
                missing = [key for key in NPZ_KEYS if f"{key}.npy" not in names]
                if missing:
                    has = [name.removesuffix(".npy") for name in names[:8]] + (["..."] if len(names) > 8 else [])
                    raise ValueError(f"{path}: missing arrays {', '.join(missing)} (has {has})")
                arrays = {key: _read_npz_member(archive, key, str(path)) for key in NPZ_KEYS}
        except zipfile.BadZipFile as error:
            raise ValueError(f"{path}: not a valid .npz / zip file ({error})") from None
        except ValueError as error:
            if str(path) in str(error):
                raise
            # NumPy's own complaints about a .npy header or its data.
            raise ValueError(f"{path}: not a plain numeric .npz ({error})") from None
        except (OSError, EOFError, KeyError, NotImplementedError, RuntimeError, zlib.error, struct.error) as error:
            # NotImplementedError: a compression method Python cannot read; RuntimeError: encrypted.
            raise ValueError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from None
    return _check_arrays(arrays, str(path))


def _read_exactly(stream: BinaryIO, n: int) -> bytearray:
    """Up to ``n`` bytes (fewer only at the end of the stream), read into one buffer without copies."""
    buffer = bytearray(n)
    filled = 0
    with memoryview(buffer) as view:
        while filled < n:
            got = stream.readinto(view[filled:])
            if not got:
                break
            filled += got
    del buffer[filled:]
    return buffer


def _read_idx_stream(stream: BinaryIO, path: Path) -> np.ndarray:
    start = _read_exactly(stream, 4)
    if len(start) < 4:
        raise ValueError(f"{path}: too short to be an idx file ({len(start)} bytes)")
    (magic,) = struct.unpack(">I", start)
    if magic not in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise ValueError(
            f"{path}: wrong idx magic number 0x{magic:08x} "
            f"(expected 0x{IDX_IMAGES_MAGIC:08x} for images or 0x{IDX_LABELS_MAGIC:08x} for labels)"
        )
    ndim = magic & 0xFF
    raw_dims = _read_exactly(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise ValueError(f"{path}: truncated idx header")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    if ndim == 3 and dims[1:] != IMAGE_SHAPE:
        raise ValueError(f"{path}: idx header claims images of shape {dims}, expected (N, 28, 28)")
    _check_split_size(dims[0], f"{path}: idx header", "images" if ndim == 3 else "labels")
    expected = int(np.prod(dims))
    body = _read_exactly(stream, expected)
    if len(body) != expected or stream.read(1):
        held = f"{len(body)}" if len(body) != expected else "more"
        raise ValueError(
            f"{path}: idx header promises {expected} bytes for shape {dims}, "
            f"file holds {held} (truncated or corrupt)"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """Read one idx file (gzipped or not) into a uint8 array; see yann.lecun.com/exdb/mnist.

    The header is read first; only the bytes it promises are decompressed, and a
    header claiming more than MNIST-sized data is refused before any of them.
    """
    path = Path(path)
    with _open_regular(path) as file:
        is_gzip = file.read(2) == b"\x1f\x8b"
        file.seek(0)
        if not is_gzip:
            if path.suffix == ".gz":
                raise ValueError(f"{path}: named .gz but is not gzip data")
            try:
                return _read_idx_stream(file, path)
            except OSError as error:
                raise ValueError(f"{path}: cannot be read ({error})") from None
        try:
            with gzip.GzipFile(fileobj=file, mode="rb") as stream:
                return _read_idx_stream(stream, path)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{path}: broken or truncated gzip data ({error})") from None


def _find_idx(folder: Path, stem: str) -> Path:
    # Accept "train-images-idx3-ubyte" and LeCun's mirror spelling "train-images.idx3-ubyte".
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (folder / name, folder / f"{name}.gz"):
            # exists(), not is_file(): a pipe or folder by that name is refused by read_idx, with a reason.
            if candidate.exists():
                return candidate
    raise ValueError(f"{folder}: no {stem}[.gz] file in this folder")


def read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """Read the four original idx files from a folder."""
    folder = Path(folder)
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = _find_idx(folder, stem)
        array = read_idx(path)
        wanted = 3 if key.startswith("x") else 1
        if array.ndim != wanted:
            raise ValueError(f"{path}: has {array.ndim} dimensions, expected {wanted} for {key}")
        arrays[key] = array
    return _check_arrays(arrays, str(folder))


def read_path(path: Path) -> dict[str, np.ndarray]:
    """A .npz file or a folder of idx files."""
    path = Path(path)
    if path.is_dir():
        return read_idx_folder(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    return read_npz(path)


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


def _keras_cache_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(Path(os.environ["KERAS_HOME"]) / "datasets")
    dirs.append(Path.home() / ".keras" / "datasets")
    return dirs


def _from_keras_cache(name: str) -> tuple[dict[str, np.ndarray], str] | None:
    """Keras' download cache, read with NumPy so no TensorFlow import is needed."""
    for folder in _keras_cache_dirs():
        if name == "mnist" and (folder / "mnist.npz").is_file():
            return read_npz(folder / "mnist.npz"), "MNIST via keras.datasets (cached)"
        if name == "fashion_mnist" and (folder / "fashion-mnist").is_dir():
            return (
                read_idx_folder(folder / "fashion-mnist"),
                "Fashion-MNIST via keras.datasets (cached)",
            )
    return None


def _from_keras_download(name: str) -> tuple[dict[str, np.ndarray], str]:
    """``keras.datasets.<name>.load_data()``: downloads when online (imports TensorFlow)."""
    import keras

    module = getattr(keras.datasets, name)
    (x_train, y_train), (x_test, y_test) = module.load_data()
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _check_arrays(arrays, f"keras.datasets.{name}"), f"{TITLES[name]} via keras.datasets"


def standin_arrays(*, seed: int = STANDIN_SEED) -> dict[str, np.ndarray]:
    """scikit-learn's 1,797 bundled 8x8 digits, rebuilt as 28x28 MNIST-style images.

    Each digit is cropped to its ink, fitted in a 20x20 box and centred by its
    centre of mass (LeCun's recipe), then split train/test with a fixed seed,
    stratified by label.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.stack(
        [
            centre_like_mnist(fit_in_box(crop_to_ink(image / 16.0)))
            for image in digits.images
        ]
    )
    images = np.clip(np.rint(images / images.max(axis=(1, 2), keepdims=True) * 255), 0, 255)
    images = images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=STANDIN_TEST_FRACTION, random_state=seed, stratify=labels
    )
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _check_arrays(arrays, "scikit-learn digits")


def _provenance(title: str, path: Path) -> str:
    """What the pages show about a file source: its kind and base name, never the server's folders."""
    kind = "the idx folder" if path.is_dir() else "the file"
    return f"{title} from {kind} {path.resolve().name}"


def _without_folders(error: Exception, *paths: Path) -> str:
    """``error``'s message with each of ``paths`` cut to its base name (the full one goes to the log)."""
    message = str(error)
    for path in paths:
        path = Path(path)
        if path.name and str(path) != path.name:
            message = message.replace(str(path), path.name)
    return message


def load_dataset(
    name: str = "mnist", *, path: Path | str | None = None, use_keras: bool | None = None
) -> Dataset:
    """Load ``name`` ("mnist" or "fashion_mnist") from the first source that works.

    ``path`` overrides the configured path (``MNIST_PATH`` / ``FASHION_MNIST_PATH``);
    ``use_keras`` overrides ``PLAYGROUND_KERAS_DATASETS``. Sources that fail add a
    line to ``Dataset.warnings``; MNIST always loads (the offline stand-in last),
    Fashion-MNIST raises :class:`DatasetUnavailable` when nothing provides it.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if path is None:
        path = config.mnist_path() if name == "mnist" else config.fashion_mnist_path()
    if use_keras is None:
        use_keras = config.use_keras_datasets()
    title = TITLES[name]
    warnings: list[str] = []

    def done(arrays, provenance, is_standin=False):
        return Dataset(
            name=name, title=title, class_names=CLASS_NAMES[name], provenance=provenance,
            is_standin=is_standin, warnings=tuple(warnings), **arrays,
        )

    if path is not None:
        path = Path(path)
        try:
            return done(read_path(path), _provenance(title, path))
        except ValueError as error:
            _log.warning("%s: configured file refused: %s", title, error)
            warnings.append(f"Could not use the configured file: {_without_folders(error, path)}")

    if use_keras:
        try:
            cached = _from_keras_cache(name)
            if cached is not None:
                return done(*cached)
        except ValueError as error:
            _log.warning("%s: keras cache refused: %s", title, error)
            warnings.append(f"Keras' cached copy is unusable: {_without_folders(error, *_keras_cache_dirs())}")
        try:
            return done(*_from_keras_download(name))
        except Exception as error:  # noqa: BLE001 - any download failure means "try the next source"
            warnings.append(f"keras.datasets.{name}.load_data() failed: {type(error).__name__}: {error}")

    if name == "mnist":
        provenance = (
            "Offline stand-in: scikit-learn's 1,797 8x8 digits rebuilt as 28x28 images "
            "(not the real MNIST). " + HOW_TO_GET_MNIST
        )
        return done(standin_arrays(), provenance, is_standin=True)
    raise DatasetUnavailable(
        f"{title} is not available here. Set FASHION_MNIST_PATH to a folder of its idx files "
        "(Debian: apt-get install dataset-fashion-mnist) or go online once. "
        + " ".join(warnings)
    )
