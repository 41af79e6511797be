"""The image sources (digits, mnist, cifar10, svhn): tiny files in each real on-disk format,
read back through the shared pipeline (htsweep.data.images), and the one-line errors of a
missing or malformed file."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from htsweep.data import images, make_data
from htsweep.data.cifar10 import Cifar10Config
from htsweep.data.digits import DigitsConfig
from htsweep.data.images import stratified
from htsweep.data.mnist import MnistConfig
from htsweep.data.svhn import SvhnConfig
from htsweep.errors import ConfigError
from htsweep.seeding import generator
from htsweep.train import preflight

RAW = {"train": 53, "test": 21}  # images per split in the tiny files


def pixels(n: int, shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def labels(n: int) -> np.ndarray:
    """Imbalanced classes: class c about twice as often as class c + 5."""
    return np.array([i % 15 if i % 15 < 10 else i % 15 - 10 for i in range(n)], dtype=np.int64)


# --- writers of each real format ----------------------------------------------------------------


def write_idx(path: Path, values: np.ndarray, gz: bool = False) -> Path:
    data = b"\x00\x00\x08" + bytes([values.ndim]) + struct.pack(f">{values.ndim}i", *values.shape)
    data += values.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def write_mnist(root: Path, folder: str = "MNIST/raw", gz: bool = False) -> dict:
    out = root / folder
    out.mkdir(parents=True, exist_ok=True)
    raw = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        X, y = pixels(RAW[split], (28, 28), seed=len(split)), labels(RAW[split])
        raw[split] = (X, y)
        write_idx(out / f"{prefix}-images-idx3-ubyte", X, gz)
        write_idx(out / f"{prefix}-labels-idx1-ubyte", y, gz)
    return raw


def write_cifar(root: Path) -> dict:
    out = root / "cifar-10-batches-py"
    out.mkdir(parents=True)
    sizes = {f"data_batch_{i}": 9 + i for i in range(1, 6)} | {"test_batch": RAW["test"]}
    raw = {}
    for k, (name, n) in enumerate(sizes.items()):
        data, y = pixels(n, (3072,), seed=k), labels(n)
        raw[name] = (data, y)
        batch = {"batch_label": name, "data": data, "labels": y.tolist(), "filenames": [f"{i}.png" for i in range(n)]}
        (out / name).write_bytes(pickle.dumps(batch, protocol=2))
    return raw


def write_svhn(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    raw = {}
    for split in ("train", "test"):
        n = RAW[split]
        X, y = pixels(n, (32, 32, 3), seed=n).transpose(1, 2, 3, 0), labels(n)  # (32, 32, 3, N)
        y_mat = np.where(y == 0, 10, y).reshape(-1, 1).astype(np.uint8)  # digit 0 is label 10
        scipy.io.savemat(str(root / f"{split}_32x32.mat"), {"X": X, "y": y_mat})
        raw[split] = (X, y)
    return raw


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def one_line_error(call, *paths) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    msg = str(info.value)
    assert info.value.field_name == "data.root" and "\n" not in msg and "HTSWEEP_DATA" in msg, msg
    for p in paths:
        assert str(p) in msg, msg
    return msg


# --- each reader ---------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["MNIST/raw", ".", "mnist"])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files_plain_or_gz_in_each_layout(tmp_path, folder, gz):
    raw = write_mnist(tmp_path, folder, gz)
    data = make_data(MnistConfig(root=str(tmp_path), pad_to=None, normalize=False), seed=0)
    assert data.train.X.shape == (RAW["train"], 1, 28, 28) and data.test.X.shape == (RAW["test"], 1, 28, 28)
    assert data.train.X.dtype == torch.float64 and data.train.y.dtype == torch.float64
    assert torch.equal(data.train.X[:, 0], torch.from_numpy(raw["train"][0] / 255.0))
    assert torch.equal(data.test.y, torch.from_numpy(raw["test"][1]).double())
    assert data.num_classes == 10 and data.beta is None and data.law is None


def test_mnist_is_padded_to_32_by_default_with_zeros_at_the_border(tmp_path):
    raw = write_mnist(tmp_path)
    data = make_data(MnistConfig(root=str(tmp_path), normalize=False), seed=0)
    X = data.train.X
    assert X.shape == (RAW["train"], 1, 32, 32) and data.input_shape == (1, 32, 32) and data.d == 1024
    assert torch.equal(X[:, 0, 2:30, 2:30], torch.from_numpy(raw["train"][0] / 255.0))
    border = X.clone()
    border[:, :, 2:30, 2:30] = 0
    assert not border.any()


def test_cifar10_reads_the_pickles_channel_major(tmp_path):
    raw = write_cifar(tmp_path)
    data = make_data(Cifar10Config(root=str(tmp_path), normalize=False), seed=0)
    n_train = sum(9 + i for i in range(1, 6))
    assert data.train.X.shape == (n_train, 3, 32, 32) and data.test.X.shape == (RAW["test"], 3, 32, 32)
    batch2, y2 = raw["data_batch_2"]
    i, c, h, w = 10 + 4, 2, 5, 7  # image 4 of data_batch_2 (after the 10 of data_batch_1), blue
    assert data.train.X[i, c, h, w] == batch2[4, c * 1024 + h * 32 + w] / 255.0
    assert data.train.y[i] == y2[4]
    test_raw, test_y = raw["test_batch"]
    assert torch.equal(data.test.X.reshape(RAW["test"], -1), torch.from_numpy(test_raw / 255.0))
    assert torch.equal(data.test.y, torch.from_numpy(test_y).double())


def test_svhn_reads_the_mat_files_and_maps_label_10_to_0(tmp_path):
    raw = write_svhn(tmp_path)
    data = make_data(SvhnConfig(root=str(tmp_path), normalize=False), seed=0)
    X, y = raw["train"]
    assert data.train.X.shape == (RAW["train"], 3, 32, 32)
    n, c, h, w = 6, 1, 3, 30
    assert data.train.X[n, c, h, w] == X[h, w, c, n] / 255.0
    assert torch.equal(data.train.y, torch.from_numpy(y).double())
    assert (data.train.y == 0).any() and data.train.y.max() == 9


def test_digits_end_to_end_needs_no_files():
    data = make_data(DigitsConfig(), seed=0)
    assert data.train.X.shape == (1438, 1, 8, 8) and data.test.X.shape == (359, 1, 8, 8)
    assert data.holdout.X.shape == (0, 1, 8, 8) and data.holdout.y.shape == (0,)
    assert data.num_classes == 10 and data.input_shape == (1, 8, 8) and data.beta is None
    y = torch.cat([data.train.y, data.test.y])
    assert torch.equal(y, y.round()) and set(y.long().tolist()) == set(range(10))
    again, other = make_data(DigitsConfig(), seed=0), make_data(DigitsConfig(), seed=1)
    assert torch.equal(again.test.X, data.test.X) and not torch.equal(other.test.X, data.test.X)
    moved = data.to(torch.device("cpu"), torch.float32)
    assert moved.num_classes == 10 and moved.holdout.X.shape == (0, 1, 8, 8) and moved.train.X.dtype == torch.float32


def test_digits_resized_to_32_for_vgg():
    data = make_data(DigitsConfig(image_size=32, normalize=False, n=30), seed=0)
    assert data.train.X.shape == (30, 1, 32, 32)
    assert 0.0 <= float(data.train.X.min()) and float(data.train.X.max()) <= 1.0


def test_resizing_is_bilinear(tmp_path):
    raw = write_mnist(tmp_path)
    raw["train"][0][:] = 200  # a constant image stays constant; a ramp stays a ramp
    raw["train"][0][:3] = np.arange(28, dtype=np.uint8)[None, None, :] * 8
    write_idx(tmp_path / "MNIST/raw/train-images-idx3-ubyte", raw["train"][0])
    up = make_data(MnistConfig(root=str(tmp_path), image_size=56, pad_to=None, normalize=False), seed=0).train.X
    down = make_data(MnistConfig(root=str(tmp_path), image_size=14, pad_to=None, normalize=False), seed=0).train.X
    assert up.shape[-2:] == (56, 56) and down.shape[-2:] == (14, 14)
    assert torch.allclose(up[3:], torch.full_like(up[3:], 200 / 255))
    assert torch.allclose(down[3:], torch.full_like(down[3:], 200 / 255))
    row = up[0, 0, 10, 2:-2] * 255 / 8  # inside, bilinear interpolation of 0, 1, 2, ... is x / 2 - 1/4
    assert torch.allclose(row, torch.arange(2, 54, dtype=torch.float64) / 2 - 0.25)


def test_normalisation_uses_the_training_statistics_for_every_split(tmp_path):
    write_cifar(tmp_path)
    plain = make_data(Cifar10Config(root=str(tmp_path), normalize=False), seed=0)
    data = make_data(Cifar10Config(root=str(tmp_path)), seed=0)
    mean, std = data.train.X.mean(dim=(0, 2, 3)), data.train.X.std(dim=(0, 2, 3), unbiased=False)
    assert torch.allclose(mean, torch.zeros(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(std, torch.ones(3, dtype=torch.float64))
    m0 = plain.train.X.mean(dim=(0, 2, 3))[:, None, None]
    s0 = plain.train.X.std(dim=(0, 2, 3), unbiased=False)[:, None, None]
    assert torch.allclose(data.test.X, (plain.test.X - m0) / s0)


# --- subsets, hold-out and sizes ---------------------------------------------------------------------


def _assert_proportional(y_pool: torch.Tensor, chosen: torch.Tensor, k: int) -> None:
    pool, got = torch.bincount(y_pool, minlength=10), torch.bincount(y_pool[chosen], minlength=10)
    assert chosen.numel() == k and torch.all((got - k * pool / y_pool.numel()).abs() < 1), (got, pool)


def test_stratified_subsets_are_proportional_seeded_and_disjoint_from_the_rest():
    y = torch.from_numpy(labels(1000))
    for k in (0, 1, 7, 333, 999, 1000):
        chosen, rest = stratified(y, k, generator(0, "s"))
        _assert_proportional(y, chosen, k)
        assert torch.equal(torch.sort(torch.cat([chosen, rest])).values, torch.arange(1000))
    a, b, c = (stratified(y, 100, generator(s, "s"))[0] for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_train_test_and_holdout_subsets(tmp_path):
    write_mnist(tmp_path)
    cfg = MnistConfig(root=str(tmp_path), n=20, n_test=9, n_holdout=11, normalize=False)
    data = make_data(cfg, seed=3)
    assert (data.train.m, data.test.m, data.holdout.m) == (20, 9, 11)
    y = torch.from_numpy(labels(RAW["train"]))
    hold = stratified(y, 11, generator(3, "images/holdout"))[0]
    _assert_proportional(y, hold, 11)
    assert torch.equal(data.holdout.y, y[hold].double())
    rows = {tuple(x.flatten().tolist()) for x in data.train.X}
    assert not rows & {tuple(x.flatten().tolist()) for x in data.holdout.X}  # moved, not copied
    y_test = torch.from_numpy(labels(RAW["test"]))
    _assert_proportional(y_test, stratified(y_test, 9, generator(3, "images/test"))[0], 9)
    assert torch.equal(data.test.y, y_test[stratified(y_test, 9, generator(3, "images/test"))[0]].double())
    again = make_data(cfg, seed=3)
    assert torch.equal(again.train.X, data.train.X) and not torch.equal(make_data(cfg, seed=4).train.X, data.train.X)


def test_digits_subset_class_counts_are_proportional():
    data = make_data(DigitsConfig(n=100, normalize=False), seed=0)
    full = make_data(DigitsConfig(normalize=False), seed=0)
    got = torch.bincount(data.train.y.long(), minlength=10)
    pool = torch.bincount(full.train.y.long(), minlength=10)
    assert got.sum() == 100 and torch.all((got - 100 * pool / pool.sum()).abs() < 1)


@pytest.mark.parametrize(
    "kwargs,field",
    [({"n": 0}, "data.n"), ({"n_test": 0}, "data.n_test"), ({"n_holdout": -1}, "data.n_holdout"),
     ({"image_size": 0}, "data.image_size"), ({"pad_to": 7}, "data.pad_to"), ({"image_size": 16, "pad_to": 12}, "data.pad_to"),
     ({"test_fraction": 0.0}, "data.test_fraction"), ({"test_fraction": 1.5}, "data.test_fraction"),
     ({"n": 1439}, "data.n"), ({"n": 1000, "n_holdout": 439}, "data.n"), ({"n_holdout": 1438}, "data.n_holdout"),
     ({"n_test": 360}, "data.n_test")],
)  # fmt: skip
def test_bad_digits_values_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        DigitsConfig(**kwargs)
    assert info.value.field_name == field


def test_mnist_pad_to_below_28_and_n_above_the_files_are_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"data.pad_to: must be >= the image size \(mnist's 28x28\)"):
        MnistConfig(pad_to=20)
    MnistConfig(image_size=16, pad_to=20)  # resized first
    write_mnist(tmp_path)
    with pytest.raises(ConfigError, match=rf"data.n: must be <= {RAW['train']} \(the {RAW['train']} training images"):
        MnistConfig(root=str(tmp_path), n=1000).check_files()
    write_cifar(tmp_path)
    with pytest.raises(ConfigError, match=r"data.n: must be <= 50 \(the 60 training images available less n_holdout=10\)"):
        make_data(Cifar10Config(root=str(tmp_path), n=55, n_holdout=10), seed=0)


def test_root_is_the_option_else_htsweep_data_else_data(monkeypatch, tmp_path):
    monkeypatch.delenv("HTSWEEP_DATA", raising=False)
    assert Cifar10Config().resolved_root() == Path("data")
    monkeypatch.setenv("HTSWEEP_DATA", str(tmp_path))
    assert Cifar10Config().resolved_root() == tmp_path
    assert Cifar10Config(root="/elsewhere").resolved_root() == Path("/elsewhere")


# --- missing and malformed files ---------------------------------------------------------------------


def test_mnist_missing_and_malformed_files(tmp_path):
    cfg = MnistConfig(root=str(tmp_path))
    one_line_error(cfg.check_files, tmp_path / "MNIST/raw/train-images-idx3-ubyte", "yann.lecun.com")
    write_mnist(tmp_path, gz=True)
    cfg.check_files()
    labels_gz = tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz"
    labels_gz.unlink()
    one_line_error(cfg.check_files, tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte")
    write_mnist(tmp_path)  # plain files now sit beside the gz ones and are found first
    truncate(tmp_path / "MNIST/raw/train-images-idx3-ubyte")
    assert "truncated" in one_line_error(cfg.check_files, tmp_path / "MNIST/raw/train-images-idx3-ubyte")
    write_mnist(tmp_path)
    path = tmp_path / "MNIST/raw/t10k-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x03" + path.read_bytes()[4:])  # float type code
    assert "expected an IDX header of unsigned bytes" in one_line_error(cfg.check_files, path)
    write_mnist(tmp_path)
    write_idx(tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte", labels(RAW["test"] - 1))  # counts disagree
    one_line_error(cfg.check_files, tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte")
    write_mnist(tmp_path)
    write_idx(tmp_path / "MNIST/raw/train-labels-idx1-ubyte", labels(RAW["train"]) + 3)  # labels up to 12
    assert "labels in 0..9" in one_line_error(lambda: make_data(cfg, seed=0), tmp_path / "MNIST/raw/train-labels-idx1-ubyte")


def test_mnist_truncated_gz_file(tmp_path):
    write_mnist(tmp_path, gz=True)
    path = tmp_path / "MNIST/raw/train-images-idx3-ubyte.gz"
    truncate(path)
    one_line_error(lambda: make_data(MnistConfig(root=str(tmp_path)), seed=0), path)


def test_cifar10_missing_and_malformed_files(tmp_path):
    cfg = Cifar10Config(root=str(tmp_path))
    msg = one_line_error(cfg.check_files, tmp_path / "cifar-10-batches-py/data_batch_1")
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in msg
    write_cifar(tmp_path)
    cfg.check_files()
    (tmp_path / "cifar-10-batches-py/test_batch").unlink()
    one_line_error(cfg.check_files, tmp_path / "cifar-10-batches-py/test_batch")
    write_cifar(tmp_path / "again")
    cfg = Cifar10Config(root=str(tmp_path / "again"))
    path = tmp_path / "again/cifar-10-batches-py/data_batch_3"
    truncate(path)
    assert "truncated" in one_line_error(cfg.check_files, path)
    path.write_bytes(pickle.dumps({"data": np.zeros((4, 1024), np.uint8), "labels": [0] * 4}, protocol=2))
    assert "N x 3072 uint8" in one_line_error(lambda: make_data(cfg, seed=0), path)
    path.write_bytes(pickle.dumps({"labels": [0]}))
    one_line_error(lambda: make_data(cfg, seed=0), path)


def test_cifar10_unpickles_arrays_only(tmp_path):
    write_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py/data_batch_1"
    path.write_bytes(pickle.dumps({"data": Path("x"), "labels": []}))  # any class but numpy's
    assert "unexpected object" in one_line_error(lambda: make_data(Cifar10Config(root=str(tmp_path)), seed=0), path)


def test_svhn_missing_and_malformed_files(tmp_path):
    cfg = SvhnConfig(root=str(tmp_path))
    msg = one_line_error(cfg.check_files, tmp_path / "train_32x32.mat")
    assert "ufldl.stanford.edu/housenumbers" in msg
    write_svhn(tmp_path)
    cfg.check_files()
    truncate(tmp_path / "test_32x32.mat")
    one_line_error(cfg.check_files, tmp_path / "test_32x32.mat")
    (tmp_path / "test_32x32.mat").write_bytes(b"not a mat file at all" * 10)
    one_line_error(cfg.check_files, tmp_path / "test_32x32.mat")
    scipy.io.savemat(str(tmp_path / "test_32x32.mat"), {"X": np.zeros((28, 28, 1, 3), np.uint8), "y": np.ones((3, 1))})
    assert "expected X 32x32x3xN" in one_line_error(cfg.check_files, tmp_path / "test_32x32.mat")
    scipy.io.savemat(str(tmp_path / "test_32x32.mat"), {"X": np.zeros((32, 32, 3, 3), np.uint8), "y": np.zeros((3, 1))})
    assert "labels y in 1..10" in one_line_error(lambda: make_data(cfg, seed=0), tmp_path / "test_32x32.mat")


# --- the pre-flight -----------------------------------------------------------------------------------


def test_preflight_checks_the_files_of_every_sweep_point(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    S = ["model=mlp", "loss=cross_entropy", "device=cpu", "progress=false"]
    write_cifar(tmp_path / "good")
    preflight(["data=cifar10", f"data.root={tmp_path / 'good'}", *S])
    monkeypatch.setenv("HTSWEEP_DATA", str(tmp_path / "good"))
    preflight(["data=cifar10", *S])
    with pytest.raises(ConfigError, match=r"data.root: expected .*bad/cifar-10-batches-py/data_batch_1"):
        preflight(["-m", "data=cifar10", f"data.root={tmp_path / 'good'},{tmp_path / 'bad'}", *S])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good"]  # nothing written


def test_image_sources_skip_the_teacher_label_cross_check():
    from htsweep.config import make_spec

    for name in ("digits", "mnist", "cifar10", "svhn"):
        spec = make_spec([f"data={name}", "model=mlp", "loss=cross_entropy"])
        assert not hasattr(spec.data, "labels") and not hasattr(spec.data, "teacher_links")
    assert images.NUM_CLASSES == 10
