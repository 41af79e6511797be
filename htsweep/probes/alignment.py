"""The alignment probe: gradient anatomy under structured inputs (seed 001, Sonthalia, Murray &
Montufar, "Low Rank Gradients and Where to Find Them", NeurIPS 2025) and the one-step
random-matrix predictions (Benaych-Georges & Nadakuditi 2012), for the two-layer model.

Notation (htsweep's orientation, G = dL/dW is h x d): X the n x d training inputs, r_i =
dl/df(x_i) the per-sample loss derivative at W_t (the residual r = 2 (f - y) for MSE),
D = sigma'(c X W^T) (n x h), c the pre-activation scale, g the output scale, kappa = c g / n:

    G = kappa [(r a^T) o D]^T X.

**Gradient decomposition** (the notes' section 1.2, seed 001's get_S1 / get_S2_small / get_E
transposed).  With the input law x = x_B + zeta z q (htsweep.data.base.GaussianLaw), X_B =
X - zeta z q^T, mu_j = E_x[sigma'(c w_j^T x)] (the exact Gaussian integral over
w_j^T x ~ N(0, w_j^T Sigma w_j): htsweep.activations.gaussian_mean_derivative) and
D_perp = D - 1 mu^T, M = (r a^T) o D_perp:

    S1  = kappa (a o mu) (X_B^T r)^T         residue spike, rank one, input vector X_B^T r
    S1' = kappa zeta (z^T r) (a o mu) q^T    rank one, input vector q
    S2  = kappa zeta (M^T z) q^T             data spike, rank one, input vector q
    E   = kappa M^T X_B                      the bulk

G = S1 + S1' + S2 + E is an identity; ``decomp_err`` = ||G - S1 - S1' - S2 - E||_F / ||G||_F
measures it at the run's float precision (G is the loop's own gradient, E one more GEMM).
Columns: ``decomp_s1``, ``decomp_s1p``, ``decomp_s2``, ``decomp_e`` (operator norms; the
rank-one ones in closed form, ||E||_2 by Lanczos) and their ratios to ||E||
(``decomp_s1_e``, ``decomp_s1p_e``, ``decomp_s2_e``).

**Gradient** (v1(A) = top right singular vector, in input space): ``grad_norm`` ||G||_2,
``grad_s2_s1``, ``grad_s3_s1``, ``grad_eff_rank`` exp(H(s / sum s)) (Roy & Vetterli 2007);
``grad_data_align`` |<v1(G), q>|; ``grad_residue_align`` |<v1(G), X_B^T r>| / ||X_B^T r||;
``grad_residue_align_full`` the same with X^T r; ``grad_label_align`` with X^T y;
``grad_init_align`` |<v1(G_t), v1(G_0)>|.  G's spectrum comes from its smaller Gram in the
run's dtype, one tridiagonal reduction for all singular values and the top three vectors.

**Weights**: ``energy`` = ||W Q||_F / ||W||_F with Q an orthonormal basis of span(X^T y, q) (the
notebook's "proportion in rank 2 subspace"; a random row scores sqrt(2/d)), ``w_q_align`` |<v1(W), q>| (|<v1(W), beta>| is the spectrum probe's ``sim_w_beta``),
``w_eff_rank``; ``sim_w_beta_sigma`` the same overlap in the inputs' geometry,
|<v1(W Sigma^(1/2)), Sigma^(1/2) beta>| normalised (:meth:`AlignmentProbe.sigma_overlap`; seed
003: under a spiked Sigma the Euclidean v1(W) follows the high-variance direction, and under
``weight_norm=sigma_rows`` rows along the spike shrink by sqrt(1 + kappa)).  The notebook's code builds the basis from X_B^T y instead (quirk Q4 of the
notes); X^T y - X_B^T y = zeta (z^T y) q lies in span(q), so both spans are the same plane and
the two energies are equal.

**One-step BBP predictions** (GD; the notes' section 3, Benaych-Georges & Nadakuditi 2012):
with W_0 = sigma_W sqrt(m) X_0, X_0 of i.i.d. N(0, 1/m) entries, m = max(h, d),
c_r = min(h, d) / m, the first step adds -lr s1(G_0) u v^T.  Because v correlates with W_0^T u
(:func:`bbp_predictions`), the spike strength is ``bbp_theta`` = theta_eff with
theta_eff^2 = ||W_0^T u - lr s1 v||^2 / (sigma_W^2 m) - d / m (about lr s1 / (sigma_W sqrt(m))
minus a constant).  Above ``bbp_theta_c`` = c_r^(1/4) an outlier separates:
``bbp_lambda_max_pred`` = sigma_W^2 m (1 + theta^2)(c_r + theta^2) / theta^2 (below: the edge
sigma_W^2 (sqrt(h) + sqrt(d))^2); ``bbp_overlap_pred`` predicts sim(W_1, beta) from the BGN
overlap of the top input-side vector; ``bbp_lr_c`` is the learning rate at which theta_eff =
theta_c.  Constants of the run (from G_0 and W_0), on every row; NaN for other optimisers.

Skipped for a model without the two-layer structure or data without a known Gaussian law.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from htsweep import activations
from htsweep.linalg import lanczos_svd
from htsweep.probes.base import ESD_CACHE, Built, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped
from htsweep.probes.spectrum import TOP_SVD
from htsweep.spectral import eigvalsh, spectrum_and_top_svd
from htsweep.spectral.esd import _small_gram

LAYER = "W"
BBP_COLUMNS = ("bbp_theta", "bbp_theta_c", "bbp_lambda_max_pred", "bbp_overlap_pred", "bbp_lr_c")


def effective_rank(sq_singular: Tensor, size: int, eps: float) -> float:
    """exp(H(p)), p = s / sum s over the singular values s = sqrt(eigenvalues) above the
    rank tolerance size * eps * lambda_max (Roy & Vetterli 2007)."""
    lam = sq_singular.to(torch.float64).clamp_min(0.0)
    if lam.numel() == 0 or float(lam.max()) <= 0.0:
        return math.nan
    lam = lam[lam > size * eps * float(lam.max())]
    s = lam.sqrt()
    p = s / s.sum()
    return float(torch.exp(-(p * p.log()).sum()))


def orthonormal_basis(*vectors: Tensor) -> Tensor:
    """An orthonormal basis (d x k) of the span of the non-zero ``vectors`` (Householder QR)."""
    cols = [v for v in vectors if v is not None and float(torch.linalg.vector_norm(v)) > 0.0]
    Q, _ = torch.linalg.qr(torch.stack(cols, dim=1))
    return Q


def cosine(u: Tensor, v: Optional[Tensor]) -> float:
    """|<u, v>| / (||u|| ||v||), NaN without v or for a zero vector."""
    if v is None:
        return math.nan
    nu, nv = float(torch.linalg.vector_norm(u)), float(torch.linalg.vector_norm(v))
    if nu == 0.0 or nv == 0.0:
        return math.nan
    return abs(float(torch.dot(u.to(torch.float64), v.to(torch.float64)))) / (nu * nv)


def bbp_predictions(lr: float, s1: float, u: Tensor, v: Tensor, W0: Tensor, sigma_w: float,
                    beta: Optional[Tensor]) -> Row:  # fmt: skip
    """The rank-one BBP predictions for W_1 = W_0 - lr s1 u v^T (module docstring): u, v the
    top singular pair of G_0 (unit, hidden and input side), W_0 h x d with N(0, sigma_w^2)
    entries.

    G_0's hidden-side vector u is (close to) a / ||a||, and v follows X^T r, which correlates with
    W_0^T a through the network's output at W_0, so the perturbation is not independent of
    W_0.  Splitting W_0 along u makes it exact: W_1 = (I - u u^T) W_0 + u b^T with
    b = W_0^T u - lr s1 v, so W_1^T W_1 = W_0^T (I - u u^T) W_0 + b b^T, a rank-one additive
    perturbation of a Wishart matrix whose law sees only ||b||.  In the BGN model (normalised
    units, W = sigma_w sqrt(m) X) the same split gives b = g + theta a with ||g||^2 -> d / m, so
    theta_eff^2 = ||b||^2 / (sigma_w^2 m) - d / m plays theta's role, and the top input-side
    vector's overlap with b / ||b|| is the BGN overlap times sqrt(d / m + theta^2) / theta."""
    h, d = W0.shape[-2], W0.shape[-1]
    m = max(h, d)
    c = min(h, d) / m
    scale = sigma_w * sigma_w * m
    w_u = (W0.T @ u).to(torch.float64)
    v = v.to(torch.float64)
    A = float(w_u @ w_u) / scale - d / m
    B = s1 * float(w_u @ v) / scale
    C = s1 * s1 / scale
    theta_c = c**0.25
    theta = math.sqrt(max(A - 2.0 * lr * B + lr * lr * C, 0.0))
    disc = B * B - C * (A - theta_c * theta_c)
    lr_c = (B + math.sqrt(disc)) / C if C > 0 and disc >= 0 else math.nan
    if theta > theta_c:
        t2 = theta * theta
        lam = scale * (1 + t2) * (c + t2) / t2
        sq = 1 - c * (1 + t2) / (t2 * (t2 + c)) if d <= h else 1 - (c + t2) / (t2 * (t2 + 1))
        b = w_u - lr * s1 * v
        along = cosine(b, beta.to(torch.float64)) if beta is not None else math.nan
        overlap = min(1.0, math.sqrt(max(sq, 0.0)) * math.sqrt(d / m + t2) / theta) * along
    else:
        lam = sigma_w * sigma_w * (math.sqrt(h) + math.sqrt(d)) ** 2
        overlap = 0.0
    return {"bbp_theta": theta, "bbp_theta_c": theta_c, "bbp_lambda_max_pred": lam, "bbp_overlap_pred": overlap,
            "bbp_lr_c": lr_c}  # fmt: skip


class AlignmentProbe:
    name = "alignment"
    want_parts = True  # r and D from the loop's gradient pass at W_t (no second forward GEMM)

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        model, data = setup.model, setup.data
        train, law = data.train, data.law
        dev, dt = train.X.device, train.X.dtype
        self.X, self.y = train.X, train.y
        self.zeta = float(law.zeta) if law.q is not None else 0.0
        self.q = None if law.q is None else law.q.to(dev, dt)
        self.z = None if train.z is None else train.z.to(dev, dt)
        self.beta = None if data.beta is None else data.beta.to(dev, dt)
        self.law = law
        self.bulk_var = law.bulk_var.to(dev, dt)
        Xty = self.X.T @ self.y
        self.Xty = Xty
        self.Q = orthonormal_basis(Xty, self.q)
        self._initial: Optional[Tuple[Tensor, Row]] = None
        self.full_spectrum = bool(setup.probe.grad_spectrum)

    # ---------------------------------------------------------------------------- G_0

    def initial(self) -> Tuple[Tensor, Row]:
        """v1(G_0) and the BBP constants, computed once from W_0 (a function of the run's
        setup only, so a resumed run recomputes the same numbers)."""
        if self._initial is None:
            s = self.setup
            _, grads = s.model.loss_and_grad(s.params0, s.data.train, s.loss)
            G0 = grads[LAYER].to(torch.float64)
            S, V = lanczos_svd(G0, 1)
            s1 = float(S[0])
            v1 = V[:, 0].to(self.X.dtype)
            if s.optimizer == "gd" and s1 > 0:
                u = (G0 @ V[:, 0]) / s1
                row = bbp_predictions(s.lr, s1, u, V[:, 0], s.params0[LAYER].to(torch.float64),
                                      s.model.init_std(LAYER), self.beta)  # fmt: skip
            else:
                row = dict.fromkeys(BBP_COLUMNS, math.nan)
            self._initial = (v1, row)
        return self._initial

    # ---------------------------------------------------------------------------- parts

    def quadratic_form(self, W: Tensor) -> Tensor:
        """w_j^T Sigma w_j per row, in W's dtype on its device (GaussianLaw.quadratic_form
        without the float64 copy of W), returned as float64 for the quadrature."""
        out = (W * W) @ self.bulk_var
        if self.q is not None:
            out = out + (self.zeta * (W @ self.q)) ** 2
        return out.to(torch.float64)

    def _parts(self, W: Tensor, a: Tensor, given: Optional[Dict[str, Tensor]] = None) -> Dict[str, Any]:
        """r, mu and M = (r a^T) o D_perp at W (module docstring); r and D from the loop's
        gradient pass when ``given`` holds them (they are then consumed), else one forward
        pass here."""
        model = self.setup.model
        if given and "r" in given and "D" in given:
            r, D = given["r"], given.pop("D")
        else:
            P = model.preactivation(W, self.X)  # c X W^T, n x h
            S, D = activations.value_and_grad(model.act, P)
            del P
            f = S.mul_(model.out_scale) @ a
            del S
            _, r = self.setup.loss.mean_and_dvalue(f, self.y)
        std = (model.preact_scale**2 * self.quadratic_form(W)).sqrt()
        mu = activations.gaussian_mean_derivative(model.act, std).to(W.device, W.dtype)
        M = D.sub_(mu).mul_(r.unsqueeze(1)).mul_(a)
        return {"r": r, "mu": mu, "M": M}

    def _decomposition(self, G: Tensor, W: Tensor, a: Tensor, given: Optional[Dict[str, Tensor]] = None) -> Tuple[Row, Tensor]:
        model, n = self.setup.model, self.X.shape[0]
        parts = self._parts(W, a, given)
        r, mu, M = parts["r"], parts["mu"], parts["M"]
        kappa = model.preact_scale * model.out_scale / n
        am = a * mu
        Xtr = self.X.T @ r
        E = M.T @ self.X  # h x d, then times kappa and minus the spike part
        if self.q is not None:
            zr = float(torch.dot(self.z, r))
            Mtz = M.T @ self.z
            XBtr = Xtr - self.zeta * zr * self.q
            E.sub_(torch.outer(Mtz, self.q), alpha=self.zeta)
        else:
            zr, Mtz, XBtr = 0.0, torch.zeros_like(a), Xtr
        E.mul_(kappa)
        norm_am = float(torch.linalg.vector_norm(am))
        s1 = abs(kappa) * norm_am * float(torch.linalg.vector_norm(XBtr))
        s1p = abs(kappa) * self.zeta * abs(zr) * norm_am
        s2 = abs(kappa) * self.zeta * float(torch.linalg.vector_norm(Mtz))
        e = float(lanczos_svd(E, 1, tol=1e-6)[0][0])
        # the residual of the identity, G - E - S1 - S1' - S2, the three rank-one terms as one
        # h x 3 by 3 x d product
        left = torch.stack([am, am, Mtz], dim=1)
        q = self.q if self.q is not None else torch.zeros_like(XBtr)
        right = torch.stack([XBtr, (self.zeta * zr) * q, self.zeta * q], dim=0).mul_(kappa)
        R = torch.addmm(E, left, right).neg_().add_(G)
        err = float(torch.linalg.matrix_norm(R)) / float(torch.linalg.matrix_norm(G))
        ratio = (lambda x: x / e if e > 0 else math.nan)  # noqa: E731
        row = {"decomp_s1": s1, "decomp_s1p": s1p, "decomp_s2": s2, "decomp_e": e,
               "decomp_s1_e": ratio(s1), "decomp_s1p_e": ratio(s1p), "decomp_s2_e": ratio(s2), "decomp_err": err}  # fmt: skip
        return row, {"Xtr": Xtr, "XBtr": XBtr}

    def _gradient(self, G: Tensor, residues: Dict[str, Tensor]) -> Row:
        """||G||_2, s2/s1, s3/s1 and v1(G) by Lanczos (G's top triplets stand apart: a few
        steps); the effective rank needs every singular value (probe.grad_spectrum)."""
        S, V = lanczos_svd(G, 3, tol=1e-6)
        v1 = V[:, 0].to(G.dtype)
        s1 = float(S[0])
        ratio = (lambda i: float(S[i]) / s1 if S.numel() > i and s1 > 0 else math.nan)  # noqa: E731
        v10, _ = self.initial()
        eff_rank = math.nan
        if self.full_spectrum:  # all singular values: G's smaller Gram, one eigensolve
            eigs = eigvalsh(_small_gram(G, G.dtype)[0]).to(torch.float64)
            eff_rank = effective_rank(eigs, max(G.shape), torch.finfo(G.dtype).eps)
        return {
            "grad_norm": s1,
            "grad_s2_s1": ratio(1),
            "grad_s3_s1": ratio(2),
            "grad_eff_rank": eff_rank,
            "grad_data_align": cosine(v1, self.q),
            "grad_residue_align": cosine(v1, residues["XBtr"]),
            "grad_residue_align_full": cosine(v1, residues["Xtr"]),
            "grad_label_align": cosine(v1, self.Xty),
            "grad_init_align": cosine(v1, v10),
        }

    def sigma_overlap(self, W: Tensor, v1: Optional[Tensor] = None) -> float:
        """|<v1(W L), L^T beta>| / ||L^T beta|| with L L^T = Sigma: sim(W, beta) in the geometry
        of the inputs, where a neuron's relevant overlap is w^T Sigma beta / (||w||_Sigma
        ||beta||_Sigma) (seed 003).  For Sigma = D + zeta^2 q q^T, L = D^(1/2) (I + c p p^T) with
        p = D^(-1/2) q / ||D^(-1/2) q|| and c = sqrt(1 + zeta^2 ||D^(-1/2) q||^2) - 1, so W L costs
        O(h d); v1 by Lanczos.  NaN without a teacher."""
        if self.beta is None:
            return math.nan
        root = self.bulk_var.sqrt()
        WL, bL = W * root, self.beta * root
        if self.q is not None:
            p = self.q / root
            norm_p = float(torch.linalg.vector_norm(p))
            p = p / norm_p
            c = math.sqrt(1.0 + (self.zeta * norm_p) ** 2) - 1.0
            WL = WL + c * torch.outer(WL @ p, p)
            bL = bL + c * torch.dot(p, bL) * p
        _, V = lanczos_svd(WL, 1, tol=1e-7, start=v1)  # v1(W) is a close start for v1(W L)
        return cosine(V[:, 0].to(W.dtype), bL)

    def _weights(self, view: ProbeView, W: Tensor) -> Row:
        svd = view.cache.get((TOP_SVD, LAYER))
        eigs = view.cache.get((ESD_CACHE, LAYER))
        if svd is None or eigs is None:
            spec, svd = spectrum_and_top_svd(W, 1)
            eigs = spec.eigs
        v1 = svd.V[:, 0].to(W.dtype)
        norm_w = float(torch.linalg.matrix_norm(W))
        return {
            "energy": float(torch.linalg.matrix_norm(W @ self.Q)) / norm_w,
            "w_q_align": cosine(v1, self.q),
            "sim_w_beta_sigma": self.sigma_overlap(W, v1),
            "w_eff_rank": effective_rank(eigs, max(W.shape), torch.finfo(torch.float64).eps),
        }

    def __call__(self, view: ProbeView) -> ProbeOutput:
        s = self.setup
        W, a = view.params[LAYER], view.params["a"]
        parts = view.parts
        if view.grads is not None:
            G = view.grads[LAYER]
        else:  # the last step: the loop computed the loss only
            parts = {}
            G = s.model.loss_and_grad(view.params, s.data.train, s.loss, keep=parts)[1][LAYER]
        row, residues = self._decomposition(G, W, a, parts)
        row.update(self._gradient(G, residues))
        row.update(self._weights(view, W))
        row.update(self.initial()[1])
        return ProbeOutput(layer_values={LAYER: row})


def applies(setup: ProbeSetup) -> Optional[str]:
    wanted = setup.probe.alignment
    if wanted is False:
        return "disabled (probe.alignment=false)"
    if setup.data.law is None:
        return "the data have no known Gaussian law (the decomposition integrates over it)"
    if not all(hasattr(setup.model, k) for k in ("preactivation", "out_scale", "act")):
        return "needs the two-layer model's closed form (model=two_layer)"
    if wanted is None and setup.data.law.q is None:
        return "off by default for inputs without a spike (probe.alignment=true turns it on)"
    return None


def build(setup: ProbeSetup) -> Built:
    why = applies(setup)
    return Skipped(why) if why is not None else AlignmentProbe(setup)
