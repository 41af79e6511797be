"""htsweep.activations: every sigma and sigma' against a reference written from elementary
functions and differentiated by torch autograd (float64), the fused tanh/sigmoid backward and
the in-place forward."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special

from htsweep import activations
from htsweep.activations import Activation, gaussian_mean_derivative, value_and_grad

ALL = list(Activation)
FUSED = [Activation.tanh, Activation.sigmoid]


def reference(act: Activation, z: torch.Tensor) -> torch.Tensor:
    """sigma(z) from exp / log / erf, not from the kernels the module calls."""
    if act is Activation.tanh:
        e = torch.exp(2.0 * z)
        return (e - 1.0) / (e + 1.0)
    if act is Activation.sigmoid:
        return 1.0 / (1.0 + torch.exp(-z))
    if act is Activation.softplus:
        return torch.log1p(torch.exp(z))  # |z| <= 8 below: no overflow
    if act is Activation.relu:
        return torch.where(z > 0, z, torch.zeros_like(z))
    if act is Activation.identity:
        return 1.0 * z
    if act is Activation.erf:
        return torch.special.erf(z)
    if act is Activation.he2:  # probabilists' Hermite polynomials He_k, by their recurrence
        return z * z - 1.0  # He_2 = z He_1 - 1 He_0
    if act is Activation.he3:
        return z * (z * z - 1.0) - 2.0 * z  # He_3 = z He_2 - 2 He_1
    raise AssertionError(f"no reference for {act}")


def grid(n: int = 2001) -> torch.Tensor:
    """[-8, 8] without 0 (relu' is not defined there; tested separately)."""
    z = torch.linspace(-8.0, 8.0, n, dtype=torch.float64)
    return z[z != 0]


def reference_value_and_grad(act: Activation, z: torch.Tensor):
    z = z.clone().requires_grad_(True)
    s = reference(act, z)
    (ds,) = torch.autograd.grad(s.sum(), z)
    return s.detach(), ds


def test_every_activation_has_a_value_and_a_derivative():
    assert {a.value for a in ALL} == {"tanh", "relu", "sigmoid", "softplus", "identity", "erf", "he2", "he3"}
    z = torch.tensor([0.3, -1.2], dtype=torch.float64)
    for act in ALL:
        s, ds = activations.value_and_grad(act, z)
        assert s.shape == z.shape and ds.shape == z.shape and s.dtype == ds.dtype == torch.float64


@pytest.mark.parametrize("act", ALL, ids=lambda a: a.value)
def test_value_and_grad_match_autograd_float64(act):
    z = grid()
    ref_s, ref_ds = reference_value_and_grad(act, z)
    s, ds = activations.value_and_grad(act, z)
    torch.testing.assert_close(s, ref_s, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(ds, ref_ds, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(activations.value(act, z), ref_s, rtol=1e-13, atol=1e-15)


def test_closed_form_derivatives_at_known_points():
    """A few exact numbers: sigma'(0) for the smooth ones and the erf constant."""
    z0 = torch.zeros(1, dtype=torch.float64)
    expected = {
        Activation.tanh: (0.0, 1.0),
        Activation.sigmoid: (0.5, 0.25),
        Activation.softplus: (math.log(2.0), 0.5),
        Activation.identity: (0.0, 1.0),
        Activation.erf: (0.0, 2.0 / math.sqrt(math.pi)),
    }
    for act, (v, dv) in expected.items():
        s, ds = activations.value_and_grad(act, z0)
        assert float(s) == pytest.approx(v, abs=1e-15) and float(ds) == pytest.approx(dv, rel=1e-15)
    z = np.linspace(-3, 3, 13)
    s, _ = activations.value_and_grad(Activation.erf, torch.from_numpy(z))
    np.testing.assert_allclose(s.numpy(), special.erf(z), rtol=1e-14, atol=1e-16)


def test_relu_derivative_at_zero_is_zero():
    z = torch.tensor([-1.0, -0.0, 0.0, 1e-300, 2.0], dtype=torch.float64)
    s, ds = activations.value_and_grad(Activation.relu, z)
    assert s.tolist() == [0.0, 0.0, 0.0, 1e-300, 2.0]
    assert ds.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("act", ALL, ids=lambda a: a.value)
def test_grad_from_value_flags_exactly_tanh_and_sigmoid(act):
    assert activations.grad_from_value(act) == (act in FUSED)


@pytest.mark.parametrize("act", FUSED, ids=lambda a: a.value)
def test_fused_backward_is_g_times_sigma_prime(act):
    """scale_by_grad_from_value_(s = sigma(z), g) = g * sigma'(z), written over s, with g an
    (n, 1) column broadcast over the h columns (the training step's per-sample residuals)."""
    g_ = torch.Generator().manual_seed(0)
    z = 3.0 * torch.randn(50, 7, generator=g_, dtype=torch.float64)
    g = torch.randn(50, 1, generator=g_, dtype=torch.float64)
    _, ref_ds = reference_value_and_grad(act, z)
    s = activations.value(act, z).clone()
    ptr = s.data_ptr()
    out = activations.scale_by_grad_from_value_(act, s, g)
    assert out.data_ptr() == ptr and s.data_ptr() == ptr  # in place: one n x h buffer
    torch.testing.assert_close(out, g * ref_ds, rtol=1e-12, atol=1e-15)
    # same numbers with a full-size g
    s2 = activations.value(act, z).clone()
    torch.testing.assert_close(activations.scale_by_grad_from_value_(act, s2, g.expand(50, 7).clone()), out)


@pytest.mark.parametrize("act", FUSED, ids=lambda a: a.value)
def test_fused_backward_float32(act):
    g_ = torch.Generator().manual_seed(1)
    z = 3.0 * torch.randn(40, 5, generator=g_, dtype=torch.float64)
    g = torch.randn(40, 1, generator=g_, dtype=torch.float64)
    _, ref_ds = reference_value_and_grad(act, z)
    s32 = activations.value(act, z.float())
    out = activations.scale_by_grad_from_value_(act, s32, g.float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), g * ref_ds, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("act", ALL, ids=lambda a: a.value)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_inplace_value_equals_value(act, dtype):
    g_ = torch.Generator().manual_seed(2)
    z = 4.0 * torch.randn(30, 11, generator=g_, dtype=torch.float64).to(dtype)
    expected = activations.value(act, z)
    z_work = z.clone()
    out = activations.value_(act, z_work)
    assert out.dtype == dtype
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    if act not in (Activation.softplus, Activation.he2, Activation.he3):  # the others have in-place kernels
        assert out.data_ptr() == z_work.data_ptr()
    else:  # softplus allocates, and leaves its input alone
        torch.testing.assert_close(z_work, z, rtol=0, atol=0)


@pytest.mark.parametrize("act", list(Activation))
def test_gaussian_mean_derivative_is_the_exact_gaussian_integral(act):
    """mu = E[sigma'(s xi)] against adaptive quadrature (scipy.integrate.quad, split at the
    kinks / poles' scale) for s from 0.05 to 40: the trapezoidal rule is spectrally accurate."""
    from scipy import integrate

    std = torch.tensor([0.05, 0.5, 1.0, 3.0, 15.0, 40.0], dtype=torch.float64)
    mu = gaussian_mean_derivative(act, std)
    for s, m in zip(std.tolist(), mu.tolist()):
        def integrand(x: float) -> float:
            _, ds = value_and_grad(act, torch.tensor([s * x], dtype=torch.float64))
            return float(ds[0]) * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)

        pts = sorted({0.0, *(k * math.pi / (2 * s) * sgn for k in (1, 2) for sgn in (-1, 1))})
        ref = integrate.quad(integrand, -12, 12, points=pts, limit=2000, epsabs=1e-15, epsrel=1e-13)[0]
        assert m == pytest.approx(ref, abs=1e-11, rel=1e-10), (act, s)
