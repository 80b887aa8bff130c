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
"""

from __future__ import annotations

import gzip
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

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

STANDIN_SEED = 0
STANDIN_TEST_FRACTION = 0.2
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
# Readers
# --------------------------------------------------------------------------


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read a Keras-style .npz (keys x_train, y_train, x_test, y_test) safely."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in NPZ_KEYS if key not in data.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {', '.join(missing)} (has {data.files})")
            arrays = {key: data[key] for key in NPZ_KEYS}
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except ValueError as error:
        if str(path) in str(error):
            raise
        # allow_pickle=False refuses object arrays with a ValueError of its own.
        raise ValueError(f"{path}: not a plain numeric .npz ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    return _check_arrays(arrays, str(path))


def _open_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: broken or truncated gzip data ({error})") from None
    if path.suffix == ".gz":
        raise ValueError(f"{path}: named .gz but is not gzip data")
    return raw


def read_idx(path: Path) -> np.ndarray:
    """Read one idx file (gzipped or not) into a uint8 array; see yann.lecun.com/exdb/mnist."""
    path = Path(path)
    data = _open_maybe_gzip(path)
    if len(data) < 8:
        raise ValueError(f"{path}: too short to be an idx file ({len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise ValueError(
            f"{path}: wrong idx magic number 0x{magic:08x} "
            f"(expected 0x{IDX_IMAGES_MAGIC:08x} for images or 0x{IDX_LABELS_MAGIC:08x} for labels)"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated idx header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: idx header promises {expected} bytes for shape {dims}, "
            f"file holds {len(data) - header} (truncated or corrupt)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _find_idx(folder: Path, stem: str) -> Path:
    # Accept "train-images-idx3-ubyte" and LeCun's mirror spelling "train-images.idx3-ubyte".
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
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
        try:
            return done(read_path(Path(path)), f"{title} from {path}")
        except ValueError as error:
            warnings.append(f"Could not use the configured file: {error}")

    if use_keras:
        try:
            cached = _from_keras_cache(name)
            if cached is not None:
                return done(*cached)
        except ValueError as error:
            warnings.append(f"Keras' cached copy is unusable: {error}")
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
