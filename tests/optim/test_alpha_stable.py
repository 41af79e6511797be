"""noise=alpha_stable (issue 12): the torch CMS samplers against scipy.stats.levy_stable (its
S1 parameterisation: quantiles of our draws through scipy's numerically integrated cdf, and a
two-sample KS test against scipy's own sampler), the three noise types (per_neuron, per_entry,
subgaussian) and their one alpha = 2 convention, the layers they touch, seed streams, lr scaling,
sigma = 0 as noise=none, the schema's errors and Hydra composition."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from htsweep.errors import ConfigError
from htsweep.loop import build_run, step
from htsweep.models.torch_module import TorchModule, on_meta
from htsweep.models.two_layer import TwoLayer, TwoLayerConfig
from htsweep.optim import make_perturbation
from htsweep.optim.perturbations import PERTURBATIONS, stable
from htsweep.optim.perturbations.alpha_stable import (
    AlphaStable,
    AlphaStableConfig,
    NoiseType,
    draw_noise,
    layer_generator,
)
from htsweep.optim.perturbations.stable import (
    cms_kanter,
    cms_symmetric,
    positive_stable,
    subgaussian_mixing,
    subgaussian_scale,
    symmetric_stable,
)
from htsweep.seeding import stream_seed
from htsweep.train import preflight, user_error
from tests.helpers import small_spec, spec

N = 200_000
PROBS = np.array([0.005, 0.02, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.98, 0.995])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_law(x: np.ndarray, cdf, what: str, sds: float = 5.0) -> None:
    """The reference cdf at the sample's quantiles is each probability to within ``sds``
    binomial standard deviations (plus 1e-4 for the cdf's own integration error)."""
    q = np.quantile(x, PROBS)
    F = cdf(q)
    tol = sds * np.sqrt(PROBS * (1 - PROBS) / x.size) + 1e-4
    bad = np.abs(F - PROBS) > tol
    assert not bad.any(), f"{what}: cdf at quantiles {dict(zip(PROBS[bad], F[bad]))}"


# --- the samplers against scipy ------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 1.75, 1.9, 2.0])
def test_symmetric_stable_matches_levy_stable(alpha):
    x = symmetric_stable(alpha, N, gen(1)).numpy()
    assert np.isfinite(x).all()
    assert_law(x, lambda q: stats.levy_stable.cdf(q, alpha, 0.0), f"SaS({alpha})")
    ref = stats.levy_stable.rvs(alpha, 0.0, size=N, random_state=np.random.default_rng(7))
    assert stats.ks_2samp(x, ref).pvalue > 1e-3


def test_symmetric_special_cases_are_cauchy_and_normal_with_variance_two():
    assert_law(symmetric_stable(1.0, N, gen(2)).numpy(), stats.cauchy.cdf, "alpha=1")
    x = symmetric_stable(2.0, N, gen(3)).numpy()
    assert_law(x, stats.norm(scale=math.sqrt(2.0)).cdf, "alpha=2")
    assert x.var() == pytest.approx(2.0, rel=0.02)


@pytest.mark.parametrize("alpha", [0.5, 0.75, 0.875, 0.95])
def test_positive_stable_matches_levy_stable_s1(alpha):
    x = positive_stable(alpha, N, gen(4)).numpy()
    assert (x >= 0).all() and np.isfinite(x).all()
    assert_law(x, lambda q: stats.levy_stable.cdf(q, alpha, 1.0), f"S1({alpha}, beta=1)")
    ref = stats.levy_stable.rvs(alpha, 1.0, size=N, random_state=np.random.default_rng(8))
    assert stats.ks_2samp(x, ref).pvalue > 1e-3


@pytest.fixture
def parameterization():
    """Set scipy's levy_stable parameterisation for one test (a class attribute), then restore it."""
    before = stats.levy_stable.parameterization

    def use(name: str):
        stats.levy_stable.parameterization = name
        return stats.levy_stable

    yield use
    stats.levy_stable.parameterization = before


@pytest.mark.parametrize("alpha", [0.5, 0.875])
def test_positive_stable_is_s1_which_is_s0_shifted_by_tan(alpha, parameterization):
    """Where the parameterisations differ (beta != 0, alpha != 1): S1(alpha, 1, 1, 0) is
    S0(alpha, 1, 1, tan(pi alpha / 2)) (Nolan).  The draws follow S1 explicitly, the shifted S0,
    and not the unshifted S0, whose support would reach below 0."""
    x = positive_stable(alpha, N, gen(4)).numpy()
    assert_law(x, lambda q: parameterization("S1").cdf(q, alpha, 1.0), f"S1({alpha})")
    shift = math.tan(math.pi * alpha / 2)
    assert_law(x, lambda q: parameterization("S0").cdf(q, alpha, 1.0, loc=shift), f"S0({alpha}) + tan")
    with pytest.raises(AssertionError):
        assert_law(x, lambda q: parameterization("S0").cdf(q, alpha, 1.0), f"S0({alpha}) unshifted")


@pytest.mark.parametrize("alpha", [0.02, 0.3, 0.5, 0.875, 0.999])
def test_positive_stable_is_never_negative_or_nan(alpha):
    x = positive_stable(alpha, 1_000_000, gen(5))
    assert not torch.isnan(x).any() and bool((x >= 0).all())


def test_endpoints_of_the_uniforms_give_no_nan_and_no_negative_positive_draw():
    """U = 0, 1/2, the largest float64 below 1, the smallest step, and 1 (which torch.rand never
    gives) in either role (angle, exponential): V stays inside (-pi/2, pi/2), E > 0."""
    u = torch.tensor([0.0, 0.5, 1 - 2.0**-53, 2.0**-53, 1.0], dtype=torch.float64)
    pairs = [(u, u), (u, u.flip(0)), (u, torch.full_like(u, 0.5))]
    for alpha in (0.01, 0.05, 0.1, 0.5, 0.9, 1.0, 1.3, 1.75, 1.999):
        for a, b in pairs:
            assert not torch.isnan(cms_symmetric(alpha, a.clone(), b.clone())).any(), alpha
    for alpha in (0.005, 0.05, 0.3, 0.7, 0.9999):
        for a, b in pairs:
            k = cms_kanter(alpha, a.clone(), b.clone())
            assert not torch.isnan(k).any() and bool((k >= 0).all()), alpha


def test_the_log_domain_for_small_alpha_agrees_with_the_product_form(monkeypatch):
    u, w = torch.rand(2, 10_000, generator=gen(11), dtype=torch.float64)
    for alpha in (0.15, 0.6, 1.4):
        product = cms_symmetric(alpha, u.clone(), w.clone())
        monkeypatch.setattr(stable, "LOG_DOMAIN_BELOW", alpha + 0.01)
        logs = cms_symmetric(alpha, u.clone(), w.clone())
        monkeypatch.undo()
        assert torch.allclose(logs, product, rtol=1e-9, atol=0), alpha


def test_blocks_do_not_change_the_law_and_are_deterministic(monkeypatch):
    monkeypatch.setattr(stable, "BLOCK", 4096)  # 50 blocks
    x = symmetric_stable(1.5, N, gen(6))
    assert torch.equal(x, symmetric_stable(1.5, N, gen(6)))
    assert_law(x.numpy(), lambda q: stats.levy_stable.cdf(q, 1.5, 0.0), "blocked")
    assert symmetric_stable(1.5, (3, 5), gen(6), dtype=torch.float32).dtype == torch.float32


def test_bad_alpha_for_a_sampler_is_an_error():
    with pytest.raises(ValueError, match=r"positive_stable: alpha must be in \(0, 1\), got 1.0"):
        positive_stable(1.0, 3, gen())
    with pytest.raises(ValueError, match=r"symmetric_stable: alpha must be in \(0, 2\], got 2.5"):
        symmetric_stable(2.5, 3, gen())


# --- the subgaussian convention ------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.8, 1.5, 1.75])
def test_subgaussian_mixing_is_the_documented_positive_stable_law(alpha):
    """A ~ levy_stable(alpha/2, 1, scale=2 cos(pi alpha / 4)^(2/alpha)) (S1)."""
    A = subgaussian_mixing(alpha, N, gen(9)).numpy()
    scale = 2 * math.cos(math.pi * alpha / 4) ** (2 / alpha)
    assert subgaussian_scale(alpha) == pytest.approx(scale, rel=1e-15)
    assert (A >= 0).all()
    assert_law(A, lambda q: stats.levy_stable.cdf(q, alpha / 2, 1.0, scale=scale), f"A({alpha})")


def unit_noise(kind: NoiseType, alpha: float, shape, seed: int = 0, t: int = 0, layer: str = "W") -> torch.Tensor:
    cfg = AlphaStableConfig(type=kind, alpha=alpha, sigma=1.0)
    return draw_noise(cfg, shape, layer_generator(seed, t, layer, torch.device("cpu")), torch.float64, torch.device("cpu"))


@pytest.mark.parametrize("alpha", [0.8, 1.5, 1.75])
def test_subgaussian_marginals_are_sas_with_scale_one(alpha):
    noise = unit_noise(NoiseType.subgaussian, alpha, (N, 3)).numpy()
    for j in range(2):
        assert_law(noise[:, j], lambda q: stats.levy_stable.cdf(q, alpha, 0.0), f"marginal {j} at {alpha}")
    # sub-Gaussian structure: one A per row, so the ratio of two entries of a row is g1 / g2,
    # a standard Cauchy whatever alpha is (not so for i.i.d. entries unless alpha = 1)
    assert_law(noise[:, 0] / noise[:, 1], stats.cauchy.cdf, "ratio within a row")
    iid = unit_noise(NoiseType.per_entry, alpha, (N, 2)).numpy()
    with pytest.raises(AssertionError):
        assert_law(iid[:, 0] / iid[:, 1], stats.cauchy.cdf, "iid ratio")


@pytest.mark.parametrize("kind", list(NoiseType))
def test_alpha_two_is_normal_with_variance_two_for_every_type(kind):
    shape = (100_000, 2) if kind is NoiseType.per_neuron else (400, 500)
    x = unit_noise(kind, 2.0, shape)
    values = x[:, 0] if kind is NoiseType.per_neuron else x.flatten()
    assert float(values.var()) == pytest.approx(2.0, rel=0.03)
    assert_law(values.numpy(), stats.norm(scale=math.sqrt(2.0)).cdf, f"{kind.value} at alpha=2")
    if kind is NoiseType.subgaussian:
        assert torch.equal(subgaussian_mixing(2.0, 7, gen()), torch.full((7,), 2.0, dtype=torch.float64))


def test_per_entry_marginals_and_per_neuron_rows():
    x = unit_noise(NoiseType.per_entry, 1.75, (500, 400)).numpy().ravel()
    assert_law(x, lambda q: stats.levy_stable.cdf(q, 1.75, 0.0), "per_entry")
    rows = unit_noise(NoiseType.per_neuron, 1.75, (N, 4))
    assert torch.equal(rows, rows[:, :1].expand_as(rows))  # constant along each row
    assert_law(rows[:, 0].numpy(), lambda q: stats.levy_stable.cdf(q, 1.75, 0.0), "per_neuron")


# --- the perturbation on models ----------------------------------------------------------------


def conv_net() -> nn.Module:
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(2, 6, 3), act=nn.ReLU(), flat=nn.Flatten(), fc=nn.Linear(6 * 4, 5), out=nn.Linear(5, 3),
    ))  # fmt: skip


def noise_of(kind, alpha=1.5, sigma=0.1, lr_scaling=True) -> AlphaStableConfig:
    return AlphaStableConfig(type=kind, alpha=alpha, sigma=sigma, lr_scaling=lr_scaling)


@pytest.mark.parametrize("kind", list(NoiseType))
def test_conv_and_linear_hidden_layers_get_noise_per_filter_and_the_output_layer_none(kind):
    model = TorchModule(on_meta(conv_net))
    assert model.hidden == ("conv", "fc")
    params = {k: v.to(torch.float32) for k, v in model.init(0).items()}
    before = {k: v.clone() for k, v in params.items()}
    added = make_perturbation(noise_of(kind), model, seed=3).apply_(params, t=2, lr=0.5)
    assert set(added) == {"conv", "fc"}
    for layer in ("conv", "fc"):
        W, N = params[f"{layer}.weight"], added[layer]
        assert N.shape == W.shape and N.dtype == torch.float32 and bool((N != 0).all())
        assert torch.equal(W, before[f"{layer}.weight"] + N)
        flat = N.reshape(N.shape[0], -1)
        if kind is NoiseType.per_neuron:  # one value per filter / row, over (in, k, k)
            assert torch.equal(flat, flat[:, :1].expand_as(flat)) and flat[:, 0].unique().numel() == N.shape[0]
        else:
            assert flat[0].unique().numel() == flat.shape[1]
    for name in ("out.weight", "out.bias", "conv.bias", "fc.bias"):
        assert torch.equal(params[name], before[name]), name
    # each layer its own stream: the conv noise is noise/2/conv of seed 3
    gen_conv = torch.Generator().manual_seed(stream_seed(3, "noise/2/conv"))
    expect = draw_noise(noise_of(kind), (6, 2, 3, 3), gen_conv, torch.float32, torch.device("cpu"), scale=0.1 * 0.5 ** (1 / 1.5))
    assert torch.equal(added["conv"], expect)


def test_two_layer_readout_is_untouched_and_w_gets_the_noise():
    model = TwoLayer(TwoLayerConfig(h=40), 30)
    params = model.init(0)
    a, W = params["a"].clone(), params["W"].clone()
    added = make_perturbation(noise_of(NoiseType.subgaussian), model, seed=0).apply_(params, t=0, lr=1.0)
    assert set(added) == {"W"} and torch.equal(params["a"], a)
    assert torch.equal(params["W"], W + added["W"]) and not torch.equal(params["W"], W)


@pytest.mark.parametrize("kind", list(NoiseType))
def test_same_seed_and_step_same_noise_other_step_or_seed_other_noise(kind):
    model = TwoLayer(TwoLayerConfig(h=20), 10)

    def added(seed, t):
        params = model.init(0)
        return AlphaStable(noise_of(kind), model, seed).apply_(params, t, lr=0.1)["W"]

    first = added(0, 5)
    assert torch.equal(first, added(0, 5))  # a fresh object (a resumed run) draws the same numbers
    assert not torch.equal(first, added(0, 6)) and not torch.equal(first, added(1, 5))


@pytest.mark.parametrize("alpha", [0.8, 1.75, 2.0])
def test_lr_scaling_multiplies_the_same_draw_by_lr_to_the_one_over_alpha(alpha):
    model = TwoLayer(TwoLayerConfig(h=20), 10)

    def added(lr, lr_scaling=True, sigma=0.3):
        params = {k: v.to(torch.float64) for k, v in model.init(0).items()}
        return AlphaStable(noise_of(NoiseType.per_entry, alpha, sigma, lr_scaling), model, 0).apply_(params, 4, lr)["W"]

    unit = added(1.0)
    assert torch.allclose(added(0.01), unit * 0.01 ** (1 / alpha), rtol=1e-12, atol=0)
    assert torch.allclose(added(7.0), unit * 7.0 ** (1 / alpha), rtol=1e-12, atol=0)
    assert torch.equal(added(0.01, lr_scaling=False), unit)
    assert torch.allclose(added(1.0, sigma=0.6), 2 * unit, rtol=1e-12, atol=0)


def test_sigma_zero_adds_nothing_and_a_run_is_bit_identical_to_no_noise():
    model = TwoLayer(TwoLayerConfig(h=20), 10)
    params = model.init(0)
    before = {k: v.clone() for k, v in params.items()}
    assert AlphaStable(noise_of(NoiseType.subgaussian, sigma=0.0), model, 0).apply_(params, 0, lr=1.0) == {}
    assert all(torch.equal(params[k], before[k]) for k in params)

    def three_steps(*overrides):
        built = build_run(small_spec(*overrides), torch.device("cpu"), torch.float64)
        state = built.initial
        for _ in range(3):
            state, _ = step(state, built.dynamics, built.data.train)
        return state

    plain, zero = three_steps(), three_steps("noise=alpha_stable", "noise.sigma=0")
    assert torch.equal(plain.params["W"], zero.params["W"]) and zero.noise is None
    noisy = three_steps("noise=alpha_stable", "noise.sigma=0.05", "noise.type=per_entry")
    assert not torch.equal(plain.params["W"], noisy.params["W"]) and set(noisy.noise) == {"W"}


def test_the_loop_adds_exactly_the_returned_noise_from_stream_noise_t_w():
    built = build_run(small_spec("optimizer=gd", "lr=0.2", "noise=alpha_stable", "noise.sigma=0.01"),
                      torch.device("cpu"), torch.float64)  # fmt: skip
    state = built.initial
    state, _ = step(state, built.dynamics, built.data.train)
    W1 = state.params["W"].clone()
    new, _ = step(state, built.dynamics, built.data.train)  # update t = 1
    gen_w = torch.Generator().manual_seed(stream_seed(0, "noise/1/W"))
    expect = draw_noise(AlphaStableConfig(sigma=0.01), tuple(W1.shape), gen_w, torch.float64, torch.device("cpu"),
                        scale=0.01 * 0.2 ** (1 / 1.75))  # fmt: skip
    assert torch.equal(new.noise["W"], expect)
    assert torch.allclose(new.params["W"], W1 + new.update["W"] + expect, rtol=0, atol=1e-14)


# --- configuration -------------------------------------------------------------------------------


def test_hydra_composes_the_option_with_its_defaults_and_overrides():
    cfg = spec(["noise=alpha_stable", "noise.alpha=1.5", "noise.sigma=0.1"])
    assert isinstance(cfg.noise, AlphaStableConfig)
    assert (cfg.noise.type, cfg.noise.alpha, cfg.noise.sigma, cfg.noise.lr_scaling) == (NoiseType.subgaussian, 1.5, 0.1, True)
    cfg = spec(["noise=alpha_stable", "noise.type=per_neuron", "noise.lr_scaling=false"])
    assert cfg.noise.type is NoiseType.per_neuron and cfg.noise.lr_scaling is False and cfg.noise.sigma == 0.0
    assert PERTURBATIONS["alpha_stable"].schema is AlphaStableConfig


@pytest.mark.parametrize("kwargs,message", [
    ({"alpha": 0.0}, "noise.alpha: must be in (0, 2], got 0.0"),
    ({"alpha": -1.0}, "noise.alpha: must be in (0, 2], got -1.0"),
    ({"alpha": 2.5}, "noise.alpha: must be in (0, 2], got 2.5"),
    ({"sigma": -0.1}, "noise.sigma: must be >= 0, got -0.1"),
    ({"type": "cauchy"}, "noise.type: Invalid value 'cauchy', expected one of [per_neuron, per_entry, subgaussian]"),
    ({"alpha": math.nan}, "noise.alpha: must be a finite number, got nan"),
])  # fmt: skip
def test_bad_values_are_one_line_config_errors_naming_the_field(kwargs, message):
    with pytest.raises(ConfigError) as info:
        AlphaStableConfig(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("args,message", [
    (["noise.alpha=2.5"], "noise.alpha: must be in (0, 2], got 2.5"),
    (["noise.alpha=0"], "noise.alpha: must be in (0, 2], got 0.0"),
    (["noise.sigma=-1"], "noise.sigma: must be >= 0, got -1.0"),
    (["noise.type=cauchy"], "noise.type: Invalid value 'cauchy', expected one of [per_neuron, per_entry, subgaussian]"),
])  # fmt: skip
def test_bad_command_lines_stop_with_one_line(args, message):
    with pytest.raises(Exception) as info:
        preflight(["noise=alpha_stable", *args, "device=cpu", "progress=false"])
    assert user_error(info.value) == message


def test_a_model_without_hidden_layers_is_an_error_naming_noise():
    with pytest.raises(ConfigError) as info:  # at start-up (htsweep.config's cross-group checks)
        spec(["data=digits", "model=mlp", "loss=cross_entropy", "model.depth=0", "noise=alpha_stable"])
    assert str(info.value) == ("noise: alpha_stable needs a model with hidden layers (it never perturbs the output "
                               "layer); model=mlp with depth=0 has none")  # fmt: skip
    ok = spec(["data=digits", "model=mlp", "loss=cross_entropy", "noise=alpha_stable"])
    assert ok.noise.incompatibility(ok.model, ok.data) is None
    default = spec(["noise=alpha_stable"])
    assert default.noise.incompatibility(default.model, default.data) is None
    flat = TorchModule(on_meta(lambda: nn.Sequential(nn.Flatten(), nn.Linear(4, 3))))
    with pytest.raises(ConfigError, match="^noise: alpha_stable needs a model with hidden layers"):
        make_perturbation(AlphaStableConfig(sigma=1.0), flat, seed=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("kind", list(NoiseType))
def test_on_a_gpu_draws_on_the_device_reproducibly_with_the_same_law(kind):
    model = TwoLayer(TwoLayerConfig(h=4000), 50)
    params = {k: v.to("cuda", torch.float32) for k, v in model.init(0).items()}
    perturbation = AlphaStable(noise_of(kind, alpha=1.5, sigma=1.0, lr_scaling=False), model, 0)
    first = perturbation.apply_(params, 3, lr=1.0)["W"]
    assert first.device.type == "cuda" and first.dtype == torch.float32
    assert torch.equal(first, perturbation.apply_(params, 3, lr=1.0)["W"])
    values = (first[:, 0] if kind is NoiseType.per_neuron else first.flatten()).double().cpu().numpy()
    assert_law(values, lambda q: stats.levy_stable.cdf(q, 1.5, 0.0), f"cuda {kind.value}", sds=6.0)


@pytest.mark.parametrize("lr_scaling", [True, False])
def test_a_noise_to_weight_ratio_sets_the_accumulated_noise_scale(lr_scaling):
    """noise.ratio = r: after T null-optimiser steps, W_T - W_0 has the scale r std_0 (alpha = 2:
    entry std sqrt(2) r std_0, the Gaussian member of the convention)."""
    from htsweep.loop import run

    r, T = 0.5, 20
    cfg = small_spec("optimizer=none", "noise=alpha_stable", "noise.alpha=2", "noise.type=per_entry", f"noise.ratio={r}",
                     f"noise.lr_scaling={str(lr_scaling).lower()}", f"steps={T}", "lr=0.3", "probe.at=[20]",
                     "model.param=mean_field")  # fmt: skip
    res = run(cfg)
    std0 = 1.0 / math.sqrt(60)  # mean-field W_0 entry std, d = 60
    delta = [row for row in res.log.rows if row["step"] == T][0]["delta_w_frobenius"] / math.sqrt(90 * 60)
    assert delta == pytest.approx(math.sqrt(2) * r * std0, rel=0.03)


def test_ratio_and_sigma_are_exclusive_and_the_ratio_is_not_negative():
    with pytest.raises(ConfigError, match=r"^noise.ratio: set noise.sigma or noise.ratio, not both"):
        spec(["noise=alpha_stable", "noise.sigma=0.1", "noise.ratio=0.5"])
    with pytest.raises(ConfigError, match=r"^noise.ratio: must be >= 0"):
        spec(["noise=alpha_stable", "noise.ratio=-1"])


def test_the_update_probe_reports_the_step_with_and_without_the_noise():
    """Without a constraint W_1 - W_0 = M_0 + N_0: the noisy step's norms are those of the whole
    move, the optimiser's own step and the noise are reported beside them."""
    from htsweep.loop import run

    rows = run(small_spec("noise=alpha_stable", "noise.alpha=1.5", "noise.sigma=0.3", "steps=2", "optimizer=gd",
                          "lr=5")).log.rows  # fmt: skip
    first = [r for r in rows if r["step"] == 1][0]
    assert first["update_noisy_frobenius"] == pytest.approx(first["delta_w_frobenius"], rel=1e-12)
    assert first["update_noisy_spectral"] == pytest.approx(first["delta_w_spectral"], rel=1e-9)
    assert first["noise_frobenius"] > 0 and first["update_frobenius"] > 0
    assert first["update_noisy_frobenius"] != pytest.approx(first["update_frobenius"], rel=1e-3)
    quiet = run(small_spec("steps=2", "optimizer=gd", "lr=5")).log.rows
    assert all("noise_frobenius" not in r or r["noise_frobenius"] != r["noise_frobenius"] for r in quiet)
