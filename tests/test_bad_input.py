"""Bad command lines: each stops with exit status 2, one line on stderr naming the field and
what is allowed, and nothing written (a table; extend it with every new option)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from htsweep.train import preflight, user_error

S = ["device=cpu", "progress=false"]
# (command line, the start of the one-line message after "htsweep: error: ")
BAD = [
    # types
    (["lr=abc"], "lr: Value 'abc' of type 'str' could not be converted to Float"),
    (["steps=1.5"], "steps: Value '1.5' of type 'float' could not be converted to Integer"),
    (["seed=x"], "seed: Value 'x' of type 'str' could not be converted to Integer"),
    (["data.n=ten"], "data.n: Value 'ten' of type 'str' could not be converted to Integer"),
    (["probe.esd=maybe"], "probe.esd: Value 'maybe' is not a valid bool"),
    (["dtype=float16"], "dtype: Invalid value 'float16', expected one of [float32, float64]"),
    (["device=tpu"], "device: Invalid value 'tpu', expected one of [auto, cpu, cuda]"),
    (["data.teacher=cubic"], "data.teacher: Invalid value 'cubic'"),
    (["model.activation=swish"], "model.activation: Invalid value 'swish'"),
    (["model.param=ntk2"], "model.param: Invalid value 'ntk2', expected one of [ntk, mean_field]"),
    (["probe.overlaps=some"], "probe.overlaps: Invalid value 'some', expected one of [none, summary, full]"),
    (["probe.feature_scale=all"], "probe.feature_scale: Invalid value 'all', expected one of [paper, paper_code, both]"),
    (["probe.randomize=maybe"], "probe.randomize: Value 'maybe' is not a valid bool"),
    (["probe.delta_esd=sometimes"], "probe.delta_esd: Value 'sometimes' is not a valid bool"),
    (["readout.method=foo"], "readout.method: Invalid value 'foo', expected one of [auto, ridge, logistic, squared_hinge, pinv]"),
    # ranges
    (["lr=-1"], "lr: must be > 0, got -1.0"),
    (["lr=0"], "lr: must be > 0, got 0.0"),
    (["steps=-2"], "steps: must be an integer >= 0, got -2"),
    (["data.n=0"], "data.n: must be an integer >= 1, got 0"),
    (["data.n_test=0"], "data.n_test: must be an integer >= 1, got 0"),
    (["data.d=0"], "data.d: must be an integer >= 1, got 0"),
    (["model.h=0"], "model.h: must be an integer >= 1, got 0"),
    (["data.label_noise_std=-0.1"], "data.label_noise_std: must be >= 0, got -0.1"),
    (["readout.reg_lambda=0"], "readout.reg_lambda: must be > 0, got 0.0"),
    (["probe.every=0"], "probe.every: must be an integer >= 1, got 0"),
    (["probe.overlap_k=0"], "probe.overlap_k: must be an integer >= 1, got 0"),
    (["checkpoint.every=-1"], "checkpoint.every: must be an integer >= 0, got -1"),
    (["resume.claim_stale_after_s=0"], "resume.claim_stale_after_s: must be > 0, got 0.0"),
    (["optimizer.beta1=1"], "optimizer.beta1: must be in [0, 1), got 1.0"),
    (["optimizer.beta2=-0.5"], "optimizer.beta2: must be in [0, 1), got -0.5"),
    (["optimizer.eps=-1"], "optimizer.eps: must be >= 0, got -1.0"),
    (["lr_schedule=step", "lr_schedule.gamma=0"], "lr_schedule.gamma: must be > 0, got 0.0"),
    (["lr_schedule=step", "lr_schedule.step_size=0"], "lr_schedule.step_size: must be an integer >= 1, got 0"),
    (["probe.phase.tw_level=0.5"], "probe.phase.tw_level: must be one of [0.9, 0.95, 0.99, 0.999], got 0.5"),
    (["probe.phase.bulk_trim=0.6"], "probe.phase.bulk_trim: must be in [0, 0.5), got 0.6"),
    (["probe.phase.tail_trim=0.5"], "probe.phase.tail_trim: must be in [0, tail_fraction = 0.1), got 0.5"),
    (["probe.phase.dominant_gap=1"], "probe.phase.dominant_gap: must be >= spike_ratio (1.5), got 1.0"),
    # NaN / inf
    (["lr=inf"], "lr: must be a finite number, got inf"),
    (["lr=nan"], "lr: must be a finite number, got nan"),
    (["readout.reg_lambda=inf"], "readout.reg_lambda: must be a finite number, got inf"),
    (["data.label_noise_std=nan"], "data.label_noise_std: must be a finite number, got nan"),
    (["optimizer.eps=inf"], "optimizer.eps: must be a finite number, got inf"),
    # unknown groups, options and keys
    (["optimizer=rmsprop"], "optimizer: unknown option 'rmsprop'; allowed: adam, gd, none, sgd"),
    (["model=vgg"], "model: unknown option 'vgg'; allowed: mlp, resnet18, two_layer, vgg11"),
    (["data=imagenet"], "data: unknown option 'imagenet'; allowed: cifar10, digits, mnist, multi_index, single_index"),
    (["loss=mae"], "loss: unknown option 'mae'; allowed: bce, cross_entropy, hinge, mse"),
    (["weight_norm=columns"], "weight_norm: unknown option 'columns'; allowed: frobenius, none, rows, sigma_rows"),
    (["noise=levy"], "noise: unknown option 'levy'; allowed: alpha_stable, none"),
    (["activation=swish"], "activation: unknown option 'swish'"),
    (["+experiment=nosuch"], "experiment: unknown option 'nosuch'"),
    (["nosuchkey=1"], "nosuchkey: Key 'nosuchkey' not in 'Config'"),
    (["+foo=1"], "foo: unknown key: no schema defines it"),
    (["data.foo=1"], "data.foo: Key 'foo' not in 'SingleIndexConfig'"),
    (["optimizer=gd", "+optimizer.beta1=0.9"], "optimizer.beta1: unknown key for optimizer=gd; its keys: lr_scaling, name"),
    # contradictory options
    (["optimizer.name=gd"], "optimizer.name: is 'gd' but the selected option is 'adam'; choose an option with optimizer=gd"),
    (["+experiment=fig5"], "experiment: fig5 is a sweep over optimizer, lr, seed; add -m to run it"),
    (["loss=bce"], "data.teacher: bernoulli labels need one teacher link with values in [0, 1] (sigmoid); got softplus"),
    (["loss=hinge", "readout.method=logistic"],
     "readout.method: logistic needs labels in [0, 1] (loss=bce, or data.labels=soft or bernoulli); got labels=sign "
     "with loss=hinge; allowed here: auto, ridge, squared_hinge, pinv"),
    (["data=spiked", "readout.method=squared_hinge"],
     "readout.method: squared_hinge needs sign labels (loss=hinge, or data.labels=sign); got labels=real with loss=mse; "
     "allowed here: auto, ridge, pinv"),
    # structured inputs and gradient anatomy (issue 10)
    (["data=spiked", "data.nu=-0.5"], "data.nu: must be >= 0 (zeta = n^nu), got -0.5"),
    (["data=spiked", "data.alpha=-1"], "data.alpha: must be >= 0 (bulk eigenvalues i^-alpha), got -1.0"),
    (["data=spiked", "data.zeta=0"], "data.zeta: must be > 0 (or null for zeta = n^nu), got 0.0"),
    (["data=spiked", "data.q_beta_overlap=1.5"], "data.q_beta_overlap: must be in [-1, 1] (a cosine), got 1.5"),
    (["data=spiked", "data.q=beta", "data.q_beta_overlap=0.5"], "data.q_beta_overlap: conflicts with q=beta"),
    (["data=spiked", "data.q=maybe"], "data.q: Invalid value 'maybe', expected one of [random, beta]"),
    (["data=spiked", "data.d=1"], "data.d: must be an integer >= 2, got 1"),
    (["data=spiked", "data.labels=maybe"], "data.labels: Invalid value 'maybe', expected one of [auto, real, soft, bernoulli, sign]"),
    (["data=spiked_cov", "data.mu_beta_overlap=2"], "data.mu_beta_overlap: must be in [-1, 1] (a cosine), got 2.0"),
    (["data=spiked_cov", "data.r=-1"], "data.r: must be >= 0 (kappa = d^r), got -1.0"),
    (["data=multi_index", "data.teachers=[]"], "data.teachers: must list at least one link"),
    (["loss=hinge", "data.labels=real"], "data.labels: loss=hinge needs labels auto, sign; got real"),
    (["model.output_scale=0"], "model.output_scale: must be ntk, mf or a finite number > 0, got 0"),
    (["model.output_scale=-0.5"], "model.output_scale: must be ntk, mf or a finite number > 0, got -0.5"),
    (["model.output_scale=big"], "model.output_scale: must be ntk, mf or a number > 0, got 'big'"),
    (["model.a_init=uniform"], "model.a_init: Invalid value 'uniform', expected one of [gaussian, rademacher, notebook]"),
    (["optimizer.lr_scaling=gamma"], "optimizer.lr_scaling: Invalid value 'gamma', expected one of [none, inverse_gamma]"),
    (["weight_norm=sigma_rows", "weight_norm.sigma=true"], "weight_norm.sigma: Invalid value 'True', expected one of [empirical, known]"),
    (["probe.subspace_r=-1"], "probe.subspace_r: must be an integer >= 0, got -1"),
    (["probe.save_weights_every=-1"], "probe.save_weights_every: must be an integer >= 0, got -1"),
    (["probe.alignment=maybe"], "probe.alignment: Value 'maybe' is not a valid bool"),
    # alpha-stable iterate noise (issue 12)
    (["noise=alpha_stable", "noise.alpha=2.5"], "noise.alpha: must be in (0, 2], got 2.5"),
    (["noise=alpha_stable", "noise.alpha=0"], "noise.alpha: must be in (0, 2], got 0.0"),
    (["noise=alpha_stable", "noise.sigma=-1"], "noise.sigma: must be >= 0, got -1.0"),
    (["noise=alpha_stable", "noise.type=cauchy"],
     "noise.type: Invalid value 'cauchy', expected one of [per_neuron, per_entry, subgaussian]"),
    (["noise=alpha_stable", "noise.lr_scaling=maybe"], "noise.lr_scaling: Value 'maybe' is not a valid bool"),
    (["noise=alpha_stable", "noise.alpha=inf"], "noise.alpha: must be a finite number, got inf"),
    (["data=digits", "model=mlp", "loss=cross_entropy", "model.depth=0", "noise=alpha_stable"],
     "noise: alpha_stable needs a model with hidden layers (it never perturbs the output layer); model=mlp with depth=0 has none"),
    (["optimizer=sgd", "optimizer.batch_size=0"], "optimizer.batch_size: must be an integer >= 1, got 0"),
    (["optimizer=sgd", "optimizer.batch_size=2001"], "optimizer.batch_size: must be <= data.n=2000, got 2001"),
    (["stop.train_accuracy=0.95"], "stop.train_accuracy: needs a classification loss (cross_entropy, bce, hinge), got loss=mse"),
    (["stop.train_loss=-1"], "stop.train_loss: must be >= 0 (or null), got -1.0"),
    (["probe.compress_rho=0"], "probe.compress_rho: must be in (0, 1), got 0.0"),
    (["probe.compress_rho=1"], "probe.compress_rho: must be in (0, 1), got 1.0"),
    # image data sources (issue 11)
    (["data=digits", "model=vgg11", "loss=cross_entropy"],
     "data.image_size: model=vgg11 needs images whose height and width are multiples of 32"),
    (["data=digits", "model=mlp", "loss=cross_entropy", "train.chunk_size=0"],
     "train.chunk_size: must be an integer >= 1 (or null: the whole set at once), got 0"),
    (["data=digits", "model=vgg11", "loss=cross_entropy", "data.image_size=32", "probe.layers=[features.0,foo]"],
     "probe.layers: no layer 'foo' in model=vgg11; its layers: features.0, features.3,"),
    (["probe.layers=[V]"], "probe.layers: no layer 'V' in model=two_layer; its layers: W"),
    (["data=digits", "model=resnet18", "loss=mse"], "loss: model=resnet18 needs loss=cross_entropy, got loss=mse"),
    (["data=digits", "loss=cross_entropy"], "data: model=two_layer needs a teacher-student source"),
    (["data=cifar10", "model=mlp", "loss=cross_entropy", "data.root=/nonexistent"],
     "data.root: expected /nonexistent/cifar-10-batches-py/data_batch_1 (the 'CIFAR-10 python version' archive from "
     "https://www.cs.toronto.edu/~kriz/cifar.html, unpacked); set data.root or HTSWEEP_DATA"),
    (["data=mnist", "model=mlp", "loss=cross_entropy", "data.root=/nonexistent"],
     "data.root: expected /nonexistent/MNIST/raw/train-images-idx3-ubyte[.gz] (or in /nonexistent or /nonexistent/mnist)"),
    (["data=svhn", "model=mlp", "loss=cross_entropy", "data.root=/nonexistent"],
     "data.root: expected /nonexistent/train_32x32.mat (SVHN format 2 (cropped digits) from http://ufldl.stanford.edu/housenumbers/)"),
    (["data=mnist", "data.n=0"], "data.n: must be an integer >= 1 (or null), got 0"),
    (["data=cifar10", "data.n_test=0"], "data.n_test: must be an integer >= 1 (or null), got 0"),
    (["data=svhn", "data.n_holdout=-1"], "data.n_holdout: must be an integer >= 0, got -1"),
    (["data=digits", "data.image_size=0"], "data.image_size: must be an integer >= 1 (or null), got 0"),
    (["data=mnist", "data.pad_to=20"], "data.pad_to: must be >= the image size (mnist's 28x28) or null, got 20"),
    (["data=digits", "data.image_size=32", "data.pad_to=16"], "data.pad_to: must be >= the image size (image_size=32) or null, got 16"),
    (["data=digits", "data.test_fraction=1.5"], "data.test_fraction: must be in (0, 1), got 1.5"),
    (["data=digits", "data.n=5000"], "data.n: must be <= 1438 (the 1438 training images available), got 5000"),
    (["data=digits", "data.n_test=400"], "data.n_test: must be <= 359 (the test images available), got 400"),
    (["data=cifar10", "data.normalize=maybe"], "data.normalize: Value 'maybe' is not a valid bool"),
    (["data=digits", "data.root=/tmp"], "data.root: Key 'root' not in 'DigitsConfig'"),
    # probe.at lists
    (["probe.at=[-1]"], "probe.at: steps must be >= 0, got [-1]"),
    (["probe.at=[100]"], "probe.at: steps must be <= steps=10, got [100]"),
    (["probe.at=abc"], "probe.at: Invalid value assigned: str is not a ListConfig, list or tuple"),
    # sizes that cannot fit
    (["data.n=100000000", "model.h=100000"], "memory: n=100000000, d=1000, h=100000 (float32) need about"),
    # a bad point inside a sweep, and a bad experiment grid
    (["-m", "lr=0.1,-1"], "lr: must be > 0, got -1.0"),
    (["-m", "+experiment=fig3", "hydra.sweeper.params.lr='0.1,-1'"], "lr: must be > 0, got -1.0"),
    # launcher values
    (["-m", "hydra/launcher=nosuch", "lr=1"], "hydra/launcher: unknown option 'nosuch'"),
    (["-m", "hydra/launcher=slurm", "hydra.launcher.timeout_min=abc", "lr=1"], "hydra.launcher.timeout_min: Value 'abc'"),
]
IDS = [" ".join(args) for args, _ in BAD]


def test_the_table_is_large_and_distinct():
    assert len(BAD) >= 40 and len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("args,expected", BAD, ids=IDS)
def test_preflight_message(args, expected):
    with pytest.raises(Exception) as info:
        preflight([*args, *S])
    msg = user_error(info.value)
    assert msg is not None and "\n" not in msg, msg
    assert msg.startswith(expected), msg


@pytest.mark.slow
@pytest.mark.parametrize("args,expected", BAD, ids=IDS)
def test_command_line_exits_2_with_one_line_and_writes_nothing(args, expected, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "htsweep.train", *args, *S], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"htsweep: error: {expected}"), proc.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
