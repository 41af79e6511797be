"""The compressibility probe: how much of each hidden layer can be pruned, and the tail index
of its weights (Barsbey et al. NeurIPS 2021; Wan, Barsbey, Zaidi & Simsekli ICML 2024,
``analyze.py``; shared/notes/ht_noise.md sections 3, 5, 6).  Opt-in: ``probe.compress``.

Layers are the model's hidden layers (``model.hidden``: the two-layer W; every Conv2d / Linear
of a torch model but the output layer), restricted to ``probe.layers`` when it names some.
A layer's weight is read as a matrix whose **rows are neurons**: W itself (h x d), a Linear's
(out x in), a Conv2d's (out x in k k) reshape (one row per filter; htsweep.spectral.conv.as_matrix).

Per layer and probe step (columns of the layer's row):

``compress_fraction``: the fraction of neurons prunable at relative squared Frobenius error rho
    (``probe.compress_rho``, default 0.1), the ``mce`` rule of the ICML 2024 code with its
    default metric ``fro_squared``: sort the rows by L2 norm ascending, c_k = (sum of the k
    smallest squared norms) / ||W||_F^2, prune the largest prefix with c_k <= rho (a boundary
    hit exactly counts as prunable; a zero matrix is wholly prunable).  Pruning a neuron
    zeroes its incoming row, so this is also the fraction of the layer's weights zeroed.
``compress_fraction_centred``: the same on W minus its column-wise median (Barsbey 2021's
    median-centred weights).
``compress_test_loss`` / ``compress_test_accuracy``: the network (output layer as trained) on
    the test split with the ``compress_fraction`` neurons pruned: the ICML code's reported
    test loss / accuracy of the pruned model (accuracy NaN for a regression loss).
``tail_alpha_entries``, ``tail_alpha_rows``, ``tail_alpha_norms``: the Mohammadi et al. block-sum
    tail index (htsweep.spectral.tails.mohammadi_alpha: median over K1, capped at 2) of, with
    Wc = W minus its column-wise median (Barsbey 2021's ``alpha_estimation``): every entry of
    Wc minus their global median (scalars); the rows of Wc (vectors in R^cols, the
    multivariate estimator); the row norms of Wc minus their median (scalars).  Samples are
    taken in a fixed seeded order, the same at every step: the entries in the permutation of
    stream ``compress/<layer>/entries``, the rows in that of ``compress/<layer>/rows``
    (htsweep.seeding.generator(seed, ...)) - block sums of neighbouring entries of one row
    would otherwise share that neuron's scale.
``tail_hill_entries``: Hill's estimate on |entries| (the same centred entries) with
    k = ceil(sqrt(N)) top order statistics (htsweep.spectral.tails.hill_alpha).

Pruning curves (``probe.compress_curves``, default on), in arrays.npz under
``<kind>/<layer>/<step>`` (htsweep.records.array_key), each a float64 array of shape (11, 3):
one row per nominal ratio r = 0, 0.1, ..., 1.0; columns ``[fraction, test_loss,
test_accuracy]``: the fraction actually pruned (count / total, count = round(r total), half
up: equal to r whenever r total is an integer, e.g. h = 1500), the training loss's mean on
the test split and the accuracy (cross_entropy: argmax; bce / hinge: 1 - the 0-1 error; NaN for
mse).  Kinds (:data:`KINDS`):

``prune_neuron_kept``: the count smallest-norm neurons (raw row norms) pruned, the output
    layer as trained.  Two-layer: row i of W and a_i zeroed, i.e. the prediction
    g sum_{i kept} a_i s(c w_i^T x) (zeroing a_i matters when s(0) != 0: a pruned row alone
    would still add a_i s(0) g); torch models: the layer's weight row (filter) and its bias
    entry zeroed (a BatchNorm after it is left as it is, so with BatchNorm the channel then
    outputs the BatchNorm's constant, not 0).
``prune_neuron_refit``: two-layer only: the same neurons pruned and the readout refitted on the
    kept hold-out features (readout.method; htsweep.probes.readout), the minimiser of the same
    objective (1/n) sum_i l(z_i^T a, y_i) + (lambda / h) ||a||^2 with the pruned a_i fixed at
    0 (h the unpruned width: the features keep their 1/sqrt(h) scale), evaluated on the test
    features.  The ridge readout (mse) uses one Cholesky factor for all ratios: with the
    neurons ordered by descending norm every kept set is a leading block of the h x h system,
    whose Cholesky factor is the leading block of the whole one.  r = 1 is the zero readout.
    Torch models have no readout to refit: the loss and accuracy columns are NaN.
``prune_magnitude``: the count = round(r N) smallest-|w| entries of the layer (N entries,
    ties broken by position) zeroed, the rest of the network as trained.
``prune_singular``: the layer's matrix replaced by its best rank-k approximation keeping the
    k = R - round(r R) largest singular values (R = min(rows, cols)); one float64 eigensolve
    of the smaller Gram matrix per layer and step, the truncations built incrementally.

Cost per layer and probe step: two medians and the tail estimators on the CPU (O(N log N)),
one argsort of |W|, one eigensolve of the smaller Gram, and 34 evaluations of the network on
the test split (11 per curve but the refit, plus the ``compress_test_*`` one); the two-layer
model evaluates the neuron curves from one test feature matrix and fits the refit curve from
the hold-out Gram (shared with the readout probe when it leaves its moments in
``view.cache[(READOUT_MOMENTS, scale)]``).  For a deep network the curves cost ~34 test-set
forward passes per hidden layer: ``probe.compress_curves=false`` keeps only the columns.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import scipy.linalg
from scipy.linalg import lapack
from torch import Tensor

from htsweep import activations, readouts
from htsweep.data import labels as label_kinds
from htsweep.losses import MSE
from htsweep.models.two_layer import TwoLayer
from htsweep.models.base import Params
from htsweep.probes.base import READOUT_MOMENTS, Built, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped, analysed_matrices
from htsweep.probes.network import accuracy, zero_one_error
from htsweep.probes.readout import feature_scales
from htsweep.readouts.solve import spd_solve
from htsweep.seeding import generator
from htsweep.linalg import gram
from htsweep.spectral.conv import as_matrix
from htsweep.spectral.tails import hill_alpha, mohammadi_alpha

DEFAULT_RHO = 0.1  # probe.compress_rho
STEPS = 10  # the ratio grid r = i / STEPS, i = 0..STEPS
RATIOS: Tuple[float, ...] = tuple(i / STEPS for i in range(STEPS + 1))
NEURON_KEPT = "prune_neuron_kept"  # arrays.npz kinds (module docstring)
NEURON_REFIT = "prune_neuron_refit"
MAGNITUDE = "prune_magnitude"
SINGULAR = "prune_singular"
KINDS = (NEURON_KEPT, NEURON_REFIT, MAGNITUDE, SINGULAR)
CURVE_COLUMNS = ("fraction", "test_loss", "test_accuracy")  # the columns of each curve array
# view.cache key prefix under which the readout probe may leave its hold-out moments
# (readouts.Moments) for a feature scale: (READOUT_MOMENTS, scale), set by the readout probe


# --- rules ----------------------------------------------------------------------------------


def prune_count(i: int, total: int, steps: int = STEPS) -> int:
    """round(i / steps * total), half up, in integer arithmetic (no 0.3 * 10 = 3.0000000000000004)."""
    return (2 * int(i) * int(total) + int(steps)) // (2 * int(steps))


def mce_count(norms: Any, rho: float) -> int:
    """How many rows the ``mce`` rule prunes (module docstring): the largest k with
    (sum of the k smallest squared ``norms``) / (sum of all) <= rho; every row when all are 0."""
    sq = np.sort(np.square(np.asarray(torch.as_tensor(norms, dtype=torch.float64).cpu())))
    total = float(sq.sum())
    if total == 0.0:
        return int(sq.size)
    return int(np.count_nonzero(np.cumsum(sq) / total <= rho))


def column_median(M: np.ndarray) -> np.ndarray:
    """The median of each column of M (over the rows, i.e. over neurons), float64."""
    return np.median(np.asarray(M, dtype=np.float64), axis=0)


def mce_fraction(W: Tensor, rho: float, centred: bool = False) -> float:
    """``compress_fraction`` (``centred``: ``compress_fraction_centred``) of a weight."""
    M = as_matrix(torch.as_tensor(W)).detach().to("cpu", torch.float64).numpy()
    if centred:
        M = M - column_median(M)
    return mce_count(np.linalg.norm(M, axis=1), rho) / M.shape[0]


def magnitude_pruned(W: Tensor, counts: Sequence[int]) -> Iterator[Tuple[int, Tensor]]:
    """(count, W with its ``count`` smallest-|w| entries zeroed) for ascending ``counts``, ties
    at the threshold broken by position (the first ones in row-major order go first).  One
    multi-quantile partition of |w| (no full sort); each yielded tensor is overwritten by the
    next."""
    flat = W.detach().reshape(-1).clone()
    mags = flat.abs().to("cpu", torch.float64).numpy()
    n = mags.size
    kth = sorted({int(c) - 1 for c in counts if 0 < c <= n})
    part = np.partition(mags, kth) if kth else mags
    done = 0
    for c in counts:
        c = int(c)
        if c < done:
            raise ValueError("counts must be ascending")
        if c > done:
            t = part[c - 1]  # the c-th smallest |w|
            below = np.flatnonzero(mags < t)
            ties = np.flatnonzero(mags == t)[: c - below.size]
            flat[torch.from_numpy(np.concatenate([below, ties])).to(flat.device)] = 0
        done = c
        yield c, flat.view(W.shape)


def _gram_eigenbasis(M: Tensor, k: Optional[int] = None) -> Tuple[bool, Tensor, Tensor]:
    """(wide, U, C) of the matrix M in float64: B = M (rows <= cols, ``wide``) or M^T, U the
    top-``k`` (default all) eigenvectors of B B^T by descending eigenvalue (B's left singular
    vectors) and C = U^T B (row j = s_j v_j^T), so that B_j = U[:, :j] C[:j] is B's best
    rank-j approximation.  One eigensolve of the smaller Gram matrix (on the CPU LAPACK's
    divide-and-conquer ?syevd, through SciPy)."""
    A = M.detach().to(torch.float64)
    wide = A.shape[0] <= A.shape[1]
    B = A if wide else A.mT
    R = B.shape[0]
    k = R if k is None else max(0, min(int(k), R))
    if k == 0:
        return wide, B.new_zeros(R, 0), B.new_zeros(0, B.shape[1])
    G = gram(A.mT.contiguous()) if wide else gram(A.contiguous())  # B B^T
    if G.device.type == "cpu":  # ?syevd: faster here than ?syevr when most vectors are wanted
        _, vecs = scipy.linalg.eigh(G.numpy(), driver="evd", check_finite=False)
        vecs = torch.from_numpy(vecs)
    else:
        vecs = torch.linalg.eigh(G)[1]
    U = vecs[:, R - k :].flip(-1)
    return wide, U, U.mT @ B


def singular_truncations(M: Tensor, keeps: Sequence[int]) -> Iterator[Tuple[int, Tensor]]:
    """(k, best rank-k approximation of the matrix M, float64) for ascending ``keeps``
    (:func:`_gram_eigenbasis`; built by adding rank-k blocks, each yielded tensor is
    overwritten by the next)."""
    wide, U, C = _gram_eigenbasis(M, max(keeps, default=0))
    acc = torch.zeros(U.shape[0], C.shape[1], dtype=torch.float64, device=U.device)
    done = 0
    for k in keeps:
        if k < done:
            raise ValueError("keeps must be ascending")
        if k > done:
            acc.addmm_(U[:, done:k], C[done:k])
        done = k
        yield k, (acc if wide else acc.mT)


def _inverse_cholesky_factor(G: Tensor) -> Optional[Tensor]:
    """L^{-1} for G = L L^T (L lower triangular), or None when G is not numerically positive
    definite.  On the CPU LAPACK ?potrf and ?trtri (as htsweep.readouts.solve), else torch."""
    if G.device.type == "cpu":
        L, info = lapack.dpotrf(G.numpy(), lower=1, clean=1)
        if info != 0:
            return None
        Linv, info = lapack.dtrtri(L, lower=1)
        return torch.from_numpy(np.ascontiguousarray(Linv)) if info == 0 else None
    L, info = torch.linalg.cholesky_ex(G)
    if int(info) != 0:
        return None
    return torch.linalg.solve_triangular(L, torch.eye(G.shape[0], dtype=G.dtype, device=G.device), upper=False)


def nested_ridge(mom: readouts.Moments, reg_lambda: float, h: int, desc: Tensor, keeps: Sequence[int]) -> Tensor:
    """Ridge readouts (h x K, float64, zero on pruned neurons) on the leading ``keeps[i]``
    neurons of ``desc`` (indices by descending norm), penalty (lambda n / h) with the unpruned
    h (module docstring); a keep of 0 is the zero readout.

    With G = L L^T the permuted system, the system of the leading m neurons is
    L_m L_m^T (L_m = L[:m, :m]) and L_m^{-1} = (L^{-1})[:m, :m], so
    a_m = (L^{-T})[:m, :m] (L^{-1} b)[:m]: one Cholesky, one triangular inverse and one
    h x h x K product for every ratio.  LDL^T per keep when Cholesky fails; FloatingPointError
    on non-finite moments or solutions."""
    if not (bool(torch.isfinite(mom.gram).all()) and bool(torch.isfinite(mom.zy).all())):
        raise FloatingPointError("compress refit: non-finite features (Z^T Z or Z^T y)")
    G = mom.gram[desc][:, desc]
    G.diagonal().add_(reg_lambda * mom.n / h)
    b = mom.zy[desc]
    K = len(keeps)
    m_col = torch.tensor([int(m) for m in keeps], device=G.device)
    inside = (torch.arange(h, device=G.device).unsqueeze(1) < m_col.unsqueeze(0)).to(torch.float64)  # h x K
    Linv = _inverse_cholesky_factor(G)
    if Linv is not None:
        w = Linv @ b
        A_desc = (Linv.mT @ (w.unsqueeze(1) * inside)) * inside
    else:
        A_desc = torch.zeros(h, K, dtype=torch.float64, device=G.device)
        for i, m in enumerate(keeps):
            if m > 0:
                A_desc[:m, i] = spd_solve(G[:m, :m].clone(), b[:m].clone(), "compress refit")
    if not bool(torch.isfinite(A_desc).all()):
        raise FloatingPointError("compress refit: the h x h system is numerically singular")
    out = torch.zeros(h, K, dtype=torch.float64, device=G.device)
    out[desc] = A_desc
    return out


# --- tails ----------------------------------------------------------------------------------


def tail_indices(Mc: np.ndarray, entry_perm: Optional[np.ndarray] = None, row_perm: Optional[np.ndarray] = None) -> Row:
    """The ``tail_*`` columns of a median-centred matrix Mc = W - column median (module
    docstring), samples in the given orders (None: as stored)."""
    entries = Mc.reshape(-1)
    entries = entries - np.median(entries)
    norms = np.linalg.norm(Mc, axis=1)
    norms = norms - np.median(norms)
    rows = Mc
    if entry_perm is not None:
        entries = entries[entry_perm]
    if row_perm is not None:
        rows, norms = rows[row_perm], norms[row_perm]
    return {
        "tail_alpha_entries": mohammadi_alpha(entries),
        "tail_alpha_rows": mohammadi_alpha(rows),
        "tail_alpha_norms": mohammadi_alpha(norms),
        "tail_hill_entries": hill_alpha(entries),
    }


# --- the probe ------------------------------------------------------------------------------


def _weight_key(params: Params, W: Tensor) -> str:
    """The parameter name of the matrix W (``model.matrices`` returns the dict's tensors)."""
    for key, value in params.items():
        if value is W:
            return key
    raise KeyError("compress: a hidden layer's matrix is not one of the parameters")


class CompressProbe:
    name = "compress"

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.rho = float(getattr(setup.probe, "compress_rho", DEFAULT_RHO))
        self.curves = bool(getattr(setup.probe, "compress_curves", True))
        self.seed = 0 if setup.seed is None else int(setup.seed)
        self.loss = setup.loss if setup.loss is not None else MSE()
        self.multiclass = self.loss.name == "cross_entropy"
        self.two_layer = isinstance(setup.model, TwoLayer)
        self.method = readouts.resolve(setup.readout.method, self.loss.name)
        self.labels = label_kinds.natural(self.loss.name)

    # --- helpers --------------------------------------------------------------------------

    def _perm(self, layer: str, what: str, n: int) -> np.ndarray:
        """The fixed permutation of stream ``compress/<layer>/<what>`` (drawn again at every
        step rather than kept: a deep network's entry permutations would hold ~8 bytes per
        weight)."""
        return torch.randperm(n, generator=generator(self.seed, f"compress/{layer}/{what}")).numpy()

    def _score(self, f: Tensor, y: Tensor) -> Tuple[float, float]:
        """(the training loss's mean, accuracy) of the network's outputs f on labels y."""
        value = float(self.loss.mean(f, y))
        if self.multiclass:
            return value, accuracy(f, y)
        if self.loss.classification:
            return value, 1.0 - zero_one_error(f, y)
        return value, math.nan

    def _evaluate(self, params: Params) -> Tuple[float, float]:
        test = self.setup.data.test
        return self._score(self.setup.model.predict(params, test.X), test.y)

    # --- curves ---------------------------------------------------------------------------

    def _two_layer_neurons(
        self, view: ProbeView, order: Tensor, counts: List[int], n_mce: int
    ) -> Tuple[np.ndarray, np.ndarray, Tuple[float, float]]:
        """The kept and refit neuron curves (losses, accuracies: (K, 2) each) and the
        compress_test_* pair, from one test feature matrix: pruning neuron i is zeroing a_i
        (with its row of W; the same prediction whatever s(0))."""
        model: TwoLayer = self.setup.model  # type: ignore[assignment]
        data, params = self.setup.data, view.params
        W, a = params["W"], params["a"]
        h = W.shape[0]
        desc = order.flip(0).to(W.device)
        rank = torch.empty(h, dtype=torch.long, device=W.device)
        rank[desc] = torch.arange(h, device=W.device)  # position by descending norm
        keeps = [h - c for c in counts]
        kept_all = torch.tensor(keeps + [h - n_mce], device=W.device)
        mask = (rank.unsqueeze(1) < kept_all.unsqueeze(0)).to(a.dtype)  # h x (K + 1)
        Zt = model.features(params, data.test.X, 1.0)  # s(c X W^T) / sqrt(h)
        F = (Zt @ (a.unsqueeze(1) * mask)).mul_(model.out_scale * math.sqrt(h))
        scores = [self._score(F[:, i], data.test.y) for i in range(F.shape[1])]
        kept = np.array(scores[:-1], dtype=np.float64)
        refit = np.full((len(counts), 2), np.nan)
        if self.curves:
            refit = self._refit(view, Zt, desc, keeps)
        return kept, refit, scores[-1]

    def _refit(self, view: ProbeView, Zt: Tensor, desc: Tensor, keeps: List[int]) -> np.ndarray:
        model, data, params = self.setup.model, self.setup.data, view.params
        reg = float(self.setup.readout.reg_lambda)
        scale = feature_scales(self.setup)[""]
        h = Zt.shape[1]
        Z_test = Zt if scale == 1.0 else model.features(params, data.test.X, scale)
        y_h = data.holdout.y
        if self.method is readouts.ReadoutMethod.ridge:
            mom = view.cache.get((READOUT_MOMENTS, scale))
            if mom is None:
                mom = readouts.moments(model.features(params, data.holdout.X, scale), y_h)
            A = nested_ridge(mom, reg, h, desc.to(mom.gram.device), keeps)
        else:
            Z = model.features(params, data.holdout.X, scale)
            A = torch.zeros(h, len(keeps), dtype=torch.float64, device=Z.device)
            for i, m in enumerate(keeps):
                if m > 0:
                    cols = desc[:m]
                    A[cols, i] = readouts.fit(self.method, Z[:, cols], y_h, reg * m / h)
        F = (Z_test @ A.to(Z_test.dtype)).to(torch.float64)
        y64 = data.test.y.to(torch.float64)
        out = np.full((len(keeps), 2), np.nan)
        for i in range(len(keeps)):
            f = F[:, i]
            out[i, 0] = float(self.loss.mean(f, y64))
            if self.loss.classification:
                out[i, 1] = 1.0 - readouts.zero_one_error(f, y64, self.labels)
        return out

    def _two_layer_singular(
        self, params: Params, W: Tensor, keeps: List[int]
    ) -> Iterator[Tuple[int, Tuple[float, float]]]:
        """(k, scores of the network with W replaced by its rank-k truncation W_k) for
        ascending ``keeps``, without forming W_k: with B, U, C of :func:`_gram_eigenbasis`,
        X W_k^T = (X C^T)[:, :k] U_k^T when W is wide (B = W) and (X U)[:, :k] C[:k] when tall
        (B = W^T); the pre-activations are accumulated over the blocks of singular directions
        (float64), then the activation and the trained readout apply as in ``predict``."""
        model: TwoLayer = self.setup.model  # type: ignore[assignment]
        test = self.setup.data.test
        wide, U, C = _gram_eigenbasis(W, max(keeps, default=0))
        X = test.X.to(torch.float64) * model.preact_scale
        left, right = (X @ C.mT, U.mT) if wide else (X @ U, C)
        acc = torch.zeros(X.shape[0], W.shape[0], dtype=torch.float64, device=X.device)
        done = 0
        for k in keeps:
            if k > done:
                acc.addmm_(left[:, done:k], right[done:k])
            done = k
            S = activations.value_(model.act, acc.to(W.dtype, copy=True))
            yield k, self._score(S.mul_(model.out_scale) @ params["a"], test.y)

    def _torch_neurons(
        self, params: Params, key: str, order: Tensor, counts: List[int]
    ) -> Iterator[Tuple[int, Params]]:
        """(count, params with the ``count`` smallest-norm neurons of weight ``key`` pruned:
        rows of its matrix and bias entries zeroed) for ascending counts."""
        W = params[key]
        M = as_matrix(W).detach().clone()
        bias_key = key[: -len("weight")] + "bias" if key.endswith("weight") else None
        b = params.get(bias_key) if bias_key else None
        b = b.detach().clone() if b is not None else None
        order = order.to(M.device)
        done = 0
        for c in counts:
            M[order[done:c]] = 0
            if b is not None:
                b[order[done:c]] = 0
            done = c
            mod = {**params, key: M.view(W.shape)}
            if b is not None:
                mod[bias_key] = b
            yield c, mod

    def _layer(self, view: ProbeView, layer: str, W: Tensor) -> Tuple[Row, Dict[Tuple[str, str], np.ndarray]]:
        params = view.params
        M = as_matrix(W)
        rows_n, cols_n = M.shape
        total = rows_n * cols_n
        M64 = M.detach().to(torch.float64)
        norms = torch.linalg.vector_norm(M64, dim=1)
        order = torch.argsort(norms, stable=True)
        n_mce = mce_count(norms, self.rho)
        A = M64.cpu().numpy()
        Ac = A - column_median(A)
        row: Row = {
            "compress_fraction": n_mce / rows_n,
            "compress_fraction_centred": mce_count(np.linalg.norm(Ac, axis=1), self.rho) / rows_n,
        }
        row.update(tail_indices(Ac, self._perm(layer, "entries", total), self._perm(layer, "rows", rows_n)))

        counts = [prune_count(i, rows_n) for i in range(STEPS + 1)]
        nan2 = np.full((len(counts), 2), np.nan)
        key = _weight_key(params, W)
        if self.two_layer:
            kept, refit, mce_scores = self._two_layer_neurons(view, order, counts if self.curves else [], n_mce)
        else:
            kept, refit = nan2.copy(), nan2.copy()
            if self.curves:
                for i, (_, mod) in enumerate(self._torch_neurons(params, key, order, counts)):
                    kept[i] = self._evaluate(mod)
            _, mod = next(self._torch_neurons(params, key, order, [n_mce]))
            mce_scores = self._evaluate(mod)
        row["compress_test_loss"], row["compress_test_accuracy"] = mce_scores
        if not self.curves:
            return row, {}

        entry_counts = [prune_count(i, total) for i in range(STEPS + 1)]
        magnitude = nan2.copy()
        magnitude[0] = kept[0]  # r = 0: the layer as trained
        for i, (_, Wr) in enumerate(magnitude_pruned(W, entry_counts[1:]), start=1):
            magnitude[i] = self._evaluate({**params, key: Wr})
        R = min(rows_n, cols_n)
        sv_counts = [prune_count(i, R) for i in range(STEPS + 1)]
        singular = nan2.copy()
        singular[0] = kept[0]  # r = 0: the layer as trained
        keeps = [R - c for c in reversed(sv_counts[1:])]  # ascending: r = 1, 0.9, ..., 0.1
        if self.two_layer:
            for j, (_, scores) in enumerate(self._two_layer_singular(params, W, keeps)):
                singular[STEPS - j] = scores
        else:
            for j, (_, Mk) in enumerate(singular_truncations(M, keeps)):
                singular[STEPS - j] = self._evaluate({**params, key: Mk.to(W.dtype).reshape(W.shape)})

        def curve(counts_: List[int], n: int, values: np.ndarray) -> np.ndarray:
            return np.column_stack([np.asarray(counts_, dtype=np.float64) / n, values])

        arrays = {
            (NEURON_KEPT, layer): curve(counts, rows_n, kept),
            (NEURON_REFIT, layer): curve(counts, rows_n, refit),
            (MAGNITUDE, layer): curve(entry_counts, total, magnitude),
            (SINGULAR, layer): curve(sv_counts, R, singular),
        }
        return row, arrays

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        matrices = analysed_matrices(self.setup, view.params)
        for layer in self.setup.model.hidden:
            if layer not in matrices:
                continue
            row, arrays = self._layer(view, layer, matrices[layer])
            out.layer_values[layer] = row
            out.arrays.update(arrays)
        return out


def applies(setup: ProbeSetup) -> Optional[str]:
    if not getattr(setup.probe, "compress", None):
        return "disabled (probe.compress=false)"
    hidden = tuple(getattr(setup.model, "hidden", ()) or ())
    if not hidden:
        return "the model has no hidden layers to prune"
    wanted = getattr(setup.probe, "layers", None)
    if wanted and not set(hidden) & set(wanted):
        return "probe.layers names none of the model's hidden layers"
    if getattr(setup.model, "predict", None) is None:
        return "the model has no forward map to evaluate"
    return None


def build(setup: ProbeSetup) -> Built:
    why = applies(setup)
    return Skipped(why) if why is not None else CompressProbe(setup)
