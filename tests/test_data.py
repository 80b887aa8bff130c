"""core.data: every source, every bad file, the offline fallback. No Streamlit."""

from __future__ import annotations

import gzip
import os
import resource
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from core import data
from core.data import DatasetUnavailable, load_dataset, read_idx, read_idx_folder, read_npz
from core.preprocess import flatten, one_hot, scale
from helpers import idx_bytes, small_arrays, write_idx_folder

# --- the real MNIST ---------------------------------------------------------


def test_real_mnist_from_npz(mnist_path):
    ds = load_dataset("mnist", path=mnist_path)  # its speed: benchmarks/bench_data.py
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_train.ndim == 3
    assert ds.x_test.shape == (10000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.uint8
    assert ds.y_train[8] == 1 and ds.y_test[11] == 6 and ds.y_test[0] == 7
    assert list(ds.y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(ds.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(ds.x_train.mean() - 33.318421) < 1e-5
    # The file's base name only: the server's folders are nobody's business.
    assert ds.provenance == f"MNIST from the file {mnist_path.name}" and not ds.is_standin


def test_arrays_are_read_only(digits):
    for array in (digits.x_train, digits.y_train, digits.x_test, digits.y_test):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[0] = 0


# --- idx folders ------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dotted", [False, True])
def test_idx_folder(tmp_path, gz, dotted):
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays, gz=gz, dotted=dotted)
    loaded = read_idx_folder(folder)
    for key in data.NPZ_KEYS:
        np.testing.assert_array_equal(loaded[key], arrays[key])


def test_mnist_from_idx_folder_via_load_dataset(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", small_arrays())
    ds = load_dataset("mnist", path=folder, use_keras=False)
    assert ds.x_train.shape == (30, 28, 28) and ds.provenance == "MNIST from the idx folder idx"


def test_fashion_mnist_from_idx_folder(tmp_path, monkeypatch):
    folder = write_idx_folder(tmp_path / "fashion", small_arrays())
    monkeypatch.setenv("FASHION_MNIST_PATH", str(folder))
    ds = load_dataset("fashion_mnist", use_keras=False)
    assert ds.title == "Fashion-MNIST"
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert len(ds.class_names) == 10


def test_fashion_mnist_unavailable_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetUnavailable, match="FASHION_MNIST_PATH"):
        load_dataset("fashion_mnist", use_keras=False)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar10")


# --- bad files: a ValueError that names the file and the problem ------------------


def save_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_object_array_refused(tmp_path):
    arrays = small_arrays()
    arrays["y_train"] = np.array([object()] * 30, dtype=object)
    path = save_npz(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match="evil.npz"):
        read_npz(path)


def test_npz_missing_keys(tmp_path):
    arrays = small_arrays()
    del arrays["y_test"]
    path = save_npz(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ValueError, match=r"partial.npz.*missing arrays y_test"):
        read_npz(path)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("x_train", np.zeros((30, 28, 27), np.uint8), "shape"),
        ("x_train", np.zeros((30, 28, 28), np.float32), "dtype"),
        ("y_train", np.full(30, 10, np.uint8), "label values"),
        ("y_train", np.full(30, -1, np.int64), "label values"),
        ("y_train", np.zeros((30, 1), np.uint8), "shape"),
        ("y_test", np.zeros(9, np.uint8), "10 test images but 9 test labels"),
    ],
)
def test_npz_bad_arrays(tmp_path, key, value, message):
    arrays = small_arrays()
    arrays[key] = value
    path = save_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message) as info:
        read_npz(path)
    assert "bad.npz" in str(info.value)


def test_not_a_zip(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="mnist.npz"):
        read_npz(path)


def test_truncated_npz(tmp_path):
    good = save_npz(tmp_path / "good.npz", **small_arrays())
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:500])
    with pytest.raises(ValueError, match="cut.npz"):
        read_npz(cut)


def test_truncated_gzip(tmp_path):
    raw = gzip.compress(idx_bytes(small_arrays()["x_train"]))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated gzip"):
        read_idx(path)


def test_gz_name_but_not_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(idx_bytes(small_arrays()["x_train"]))
    with pytest.raises(ValueError, match="not gzip"):
        read_idx(path)


def test_wrong_magic(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(small_arrays()["x_train"], magic=0x12345678))
    with pytest.raises(ValueError, match="magic number 0x12345678"):
        read_idx(path)


def test_truncated_idx_body(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(small_arrays()["x_train"])[:-100])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(path)


def test_idx_wrong_dimensions(tmp_path):
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays, gz=False)
    # A labels file where the images should be.
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(arrays["y_train"]))
    with pytest.raises(ValueError, match="1 dimensions, expected 3"):
        read_idx_folder(folder)


def test_idx_images_wrong_size(tmp_path):
    arrays = small_arrays()
    arrays["x_test"] = np.zeros((10, 32, 32), np.uint8)
    folder = write_idx_folder(tmp_path / "idx", arrays)
    with pytest.raises(ValueError, match=r"shape \(10, 32, 32\)"):
        read_idx_folder(folder)


def test_idx_folder_missing_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", small_arrays())
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match="no t10k-labels-idx1-ubyte"):
        read_idx_folder(folder)


# --- the order of sources -----------------------------------------------------


def test_bad_configured_file_falls_back_with_a_message(tmp_path, monkeypatch):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"garbage")
    monkeypatch.setenv("MNIST_PATH", str(bad))
    ds = load_dataset("mnist", use_keras=False)
    assert ds.is_standin
    assert any("broken.npz" in w for w in ds.warnings)


def test_keras_cache_is_read_without_tensorflow(tmp_path, monkeypatch):
    cache = tmp_path / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    save_npz(cache / "mnist.npz", **small_arrays())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("MNIST_PATH", raising=False)
    ds = load_dataset("mnist", use_keras=True)
    assert ds.provenance == "MNIST via keras.datasets (cached)"
    assert ds.x_train.shape == (30, 28, 28)


def test_keras_download_failure_is_caught(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(data.Path, "home", lambda: tmp_path / "nohome")

    def offline(name):
        raise OSError("Name or service not known")

    monkeypatch.setattr(data, "_from_keras_download", offline)
    ds = load_dataset("mnist", path=None, use_keras=True)
    assert ds.is_standin
    assert any("load_data() failed" in w and "Name or service" in w for w in ds.warnings)


def test_configured_path_wins_over_keras(tmp_path, monkeypatch):
    path = save_npz(tmp_path / "mine.npz", **small_arrays())
    monkeypatch.setattr(data, "_from_keras_cache", lambda name: pytest.fail("keras tried first"))
    ds = load_dataset("mnist", path=path, use_keras=True)
    assert ds.provenance == "MNIST from the file mine.npz"


# --- the offline stand-in -----------------------------------------------------


def test_offline_standin_is_built_like_mnist(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    ds = load_dataset("mnist", use_keras=False)
    assert ds.is_standin and "stand-in" in ds.provenance and "MNIST_PATH" in ds.provenance
    assert ds.x_train.shape == (1437, 28, 28) and ds.x_test.shape == (360, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.x_train.max() == 255
    assert set(np.unique(ds.y_train)) == set(range(10))
    for image in ds.x_train[:50]:
        cy, cx = ndimage.center_of_mass(image.astype(float))
        assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1
        rows = np.flatnonzero(image.any(axis=1))
        cols = np.flatnonzero(image.any(axis=0))
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert max(height, width) == 20  # fitted in a 20x20 box, touching it on the long side
    # The same seed gives the same split.
    again = data.standin_arrays()
    np.testing.assert_array_equal(again["y_test"], ds.y_test)


# --- the book's preprocessing steps -----------------------------------------------


def test_scale_and_flatten():
    images = small_arrays()["x_train"]
    scaled = scale(images)
    assert scaled.dtype == np.float32 and scaled.min() >= 0 and scaled.max() <= 1
    assert np.allclose(scaled * 255, images)
    flat = flatten(scaled)
    assert flat.shape == (30, 784)
    np.testing.assert_array_equal(flat[3, 28:56], scaled[3, 1])  # row by row
    with pytest.raises(ValueError, match="uint8"):
        scale(images.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        flatten(flat)


def test_one_hot_matches_keras_to_categorical():
    from keras.utils import to_categorical

    labels = np.array([7, 2, 1, 0, 4, 1, 4, 9, 5, 9], dtype=np.uint8)
    np.testing.assert_array_equal(one_hot(labels), to_categorical(labels, num_classes=10))
    assert one_hot(labels)[0].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    with pytest.raises(ValueError, match="0..9"):
        one_hot(np.array([10]))


# --- hostile or careless files: refused from their headers, quickly, never blocking ----------

ROOT = Path(__file__).resolve().parent.parent


def test_single_npy_refused_with_a_message(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"x\.npy: a single \.npy array, not a \.npz"):
        read_npz(path)
    ds = load_dataset("mnist", path=path, use_keras=False)
    assert ds.is_standin and any("x.npy: a single .npy array" in w for w in ds.warnings)


def test_random_bytes_npz_is_not_a_zip(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=r"random\.npz: not a valid \.npz / zip file") as info:
        read_npz(path)
    assert "pickled" not in str(info.value)


def test_object_array_named_as_pickled_data(tmp_path):
    arrays = small_arrays()
    arrays["y_train"] = np.array([object()] * 30, dtype=object)
    path = save_npz(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match=r"evil\.npz: y_train holds pickled \(object\) data"):
        read_npz(path)


def _grown_mb_in_subprocess(code: str, *args: str) -> tuple[str, float]:
    """Run ``code`` in a fresh interpreter; its stdout and how much its peak memory grew (MB)."""
    script = textwrap.dedent(
        """
        import resource, sys
        from core import data
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        """
    ) + textwrap.dedent(code) + textwrap.dedent(
        """
        print("GROWN_MB", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return result.stdout, float(result.stdout.split("GROWN_MB")[1])


def test_gzip_bomb_refused_from_its_header(tmp_path):
    folder = write_idx_folder(tmp_path / "bomb", small_arrays())
    bomb = folder / "train-images-idx3-ubyte.gz"
    # 2 GB of zeros, about 2 MB compressed: gzip members may follow one another, so one
    # compressed 64 MB block is written 32 times (compressing 2 GB would take a minute).
    block = gzip.compress(bytes(64 << 20))
    with open(bomb, "wb") as stream:
        stream.write(gzip.compress(struct.pack(">IIII", data.IDX_IMAGES_MAGIC, 10**9, 28, 28)))
        for _ in range(32):
            stream.write(block)
    assert bomb.stat().st_size < 4 << 20
    stdout, grown_mb = _grown_mb_in_subprocess(
        """
        try:
            data.read_path(sys.argv[1])
        except ValueError as error:
            print("REFUSED", error)
        """,
        str(folder),
    )
    assert "REFUSED" in stdout
    assert "train-images-idx3-ubyte.gz: idx header claims 1,000,000,000 images" in stdout
    assert grown_mb < 200, stdout


def test_npz_bomb_refused_from_its_header(tmp_path):
    """An .npz whose x_train.npy header claims 10^9 images (the data: zeros, deflated)."""
    import zipfile

    path = tmp_path / "bomb.npz"
    arrays = small_arrays()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in data.NPZ_KEYS:
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                if key == "x_train":
                    header = {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)}
                    np.lib.format.write_array_header_2_0(member, header)
                    member.write(bytes(16 << 20))  # the header is what counts
                else:
                    np.lib.format.write_array(member, arrays[key])
    with pytest.raises(ValueError, match=r"bomb\.npz: x_train claims 1,000,000,000 items"):
        read_npz(path)


def test_idx_header_bound_is_the_named_constant(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_IMAGES_PER_SPLIT", 29)
    folder = write_idx_folder(tmp_path / "idx", small_arrays(n_train=30))
    with pytest.raises(ValueError, match="30 images, more than the 29"):
        read_idx_folder(folder)


def test_trailing_data_after_idx_body(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(small_arrays()["x_train"]) + b"extra"))
    with pytest.raises(ValueError, match="file holds more"):
        read_idx(path)


@pytest.mark.parametrize("kind", ["npz", "idx"])
def test_fifo_refused_without_blocking(tmp_path, kind):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    if kind == "npz":
        target = tmp_path / "mnist.npz"
    else:
        target = write_idx_folder(tmp_path / "idx", small_arrays()) / "train-images-idx3-ubyte"
        (target.parent / "train-images-idx3-ubyte.gz").unlink()
    os.mkfifo(target)
    outcome = {}

    def load():
        try:
            data.read_path(target if kind == "npz" else target.parent)
        except ValueError as error:
            outcome["error"] = str(error)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # unblock the reader so the test process can exit
        with open(os.open(target, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        pytest.fail("loading blocked on a FIFO")
    assert f"{target.name}: not a regular file" in outcome["error"]


def test_warnings_shown_to_users_hide_the_server_folders(tmp_path):
    bad = tmp_path / "deep" / "broken.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"garbage")
    ds = load_dataset("mnist", path=bad, use_keras=False)
    assert any("broken.npz: not a valid .npz" in w for w in ds.warnings)
    assert not any(str(tmp_path) in w for w in ds.warnings)


def test_idx_folder_provenance_names_the_folder_only(tmp_path):
    folder = write_idx_folder(tmp_path / "fashion", small_arrays())
    ds = load_dataset("fashion_mnist", path=folder, use_keras=False)
    assert ds.provenance == "Fashion-MNIST from the idx folder fashion"
