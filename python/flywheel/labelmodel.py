"""Snorkel's LabelModel fitted from distinct vote patterns and their counts.

A warehouse holds millions of model outputs but only a few thousand distinct LF vote
patterns. Snorkel's :class:`~snorkel.labeling.model.label_model.LabelModel` touches its
training data only through

* ``self.n`` -- the row count, used to normalise ``O`` and in the ``mu_eps`` clamp
  ``min(0.01, 1 / 10 ** ceil(log10(n)))``;
* ``_generate_O`` -- ``O = L_aug.T @ L_aug / n`` (float64 numpy, then cast to float32);
* ``LFAnalysis(L).lf_coverages()`` -- stored as ``self.coverage``, used by ``get_weights``;
* the class balance (given explicitly here).

:class:`PatternLabelModel` overrides exactly these hooks so that fitting on ``(pattern,
count)`` pairs gives the *same* model as fitting :class:`LabelModel` on the expanded
matrix with the same seed and settings: ``O`` is a sum of integer-valued float64 products
(exact below 2**53), so the result is bit-identical, not merely close.

Because this relies on private snorkel internals (``_create_L_ind``, ``_set_constants``,
``_generate_O``, ``_loss_mu``), snorkel is pinned ``==0.10.0``; re-run
``tests/unit/test_labelmodel.py`` before bumping it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from snorkel.labeling.model.label_model import LabelModel

from flywheel.errors import FlywheelError

MIN_LFS = 3
"""Snorkel's LabelModel needs at least three labeling functions."""

DEFAULT_CHUNK_PATTERNS = 65_536
"""Distinct patterns per block when accumulating ``O`` (bounds peak memory)."""


class PatternLabelModel(LabelModel):  # type: ignore[misc]  # snorkel is untyped
    """A :class:`LabelModel` that trains on distinct vote patterns weighted by counts.

    Parameters
    ----------
    cardinality
        Number of classes (2 for good/bad; class 1 = good).
    chunk_patterns
        How many distinct patterns are one-hot encoded at a time while building ``O`` and
        while predicting: peak memory grows with this, not with the number of patterns.
    **kwargs
        Passed to :class:`LabelModel` (e.g. ``device``); ``verbose`` defaults to False.
    """

    def __init__(
        self, cardinality: int = 2, *, chunk_patterns: int = DEFAULT_CHUNK_PATTERNS, **kwargs: Any
    ) -> None:
        kwargs.setdefault("verbose", False)
        super().__init__(cardinality=cardinality, **kwargs)
        if int(chunk_patterns) < 1:
            raise FlywheelError(f"chunk_patterns must be at least 1, got {chunk_patterns}")
        self.chunk_patterns = int(chunk_patterns)
        self._fit_counts: np.ndarray | None = None

    # --- hooks into LabelModel.fit -------------------------------------------------------

    def _set_constants(self, L: np.ndarray) -> None:
        super()._set_constants(L)
        if self._fit_counts is not None:  # during fit_patterns: n = number of outputs
            self.n = int(self._fit_counts.sum())

    def _create_L_ind(self, L: np.ndarray) -> np.ndarray:
        # The parent sizes by self.n, which is the total count during fit_patterns.
        L_ind = np.zeros((L.shape[0], self.m * self.cardinality))
        for y in range(1, self.cardinality + 1):
            L_ind[:, (y - 1) :: self.cardinality] = np.where(np.equal(L, y), 1, 0)
        return L_ind

    def _generate_O(self, L: np.ndarray, higher_order: bool = False) -> None:
        if self._fit_counts is None:
            super()._generate_O(L, higher_order=higher_order)
            return
        counts = self._fit_counts.astype(np.float64)
        O_sum: np.ndarray | None = None
        for start in range(0, L.shape[0], self.chunk_patterns):
            stop = start + self.chunk_patterns
            L_aug = self._get_augmented_label_matrix(L[start:stop], higher_order=higher_order)
            block = (L_aug * counts[start:stop, None]).T @ L_aug  # integer-valued, exact
            O_sum = block if O_sum is None else O_sum + block
        assert O_sum is not None
        self.d = O_sum.shape[1]
        self.O = torch.from_numpy(O_sum / self.n).float().to(self.config.device)

    # --- public API ----------------------------------------------------------------------

    def fit_patterns(
        self,
        patterns: np.ndarray,
        counts: np.ndarray,
        *,
        class_balance: list[float] | np.ndarray | None = None,
        seed: int,
        n_epochs: int = 500,
        lr: float = 0.01,
        l2: float = 0.0,
        **kwargs: Any,
    ) -> PatternLabelModel:
        """Fit on distinct vote patterns, as if each were repeated ``counts[i]`` times.

        Parameters
        ----------
        patterns
            ``[p, m]`` integer matrix of LF votes in ``{-1 (abstain), 0, ..., cardinality-1}``.
            Rows need not be unique (duplicates simply add their counts).
        counts
            ``[p]`` positive integers: how many outputs have each pattern.
        class_balance
            Prior ``P(Y = y)`` per class; None means uniform.
        seed
            Random seed (required: snorkel's default is drawn at import time).
        n_epochs, lr, l2
            Training settings, as in :meth:`LabelModel.fit`.
        **kwargs
            Further :class:`~snorkel.labeling.model.label_model.TrainConfig` settings
            (``optimizer``, ``prec_init``, ``mu_eps``, ...).

        Returns
        -------
        PatternLabelModel
            ``self``, fitted.

        Raises
        ------
        FlywheelError
            If the inputs are malformed or there are fewer than three LFs.
        """
        L, w = _check_patterns(patterns, counts, self.cardinality)
        self._fit_counts = w
        # The parameters are a [2m, 2] matrix: torch's thread pool only adds overhead here, and
        # on a busy 2-core machine it spins for seconds per epoch (measured: 63 s vs 1.2 s for
        # the three sample tasks). One thread gives the same numbers, exactly.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self.fit(
                L,
                class_balance=None if class_balance is None else list(class_balance),
                progress_bar=False,
                seed=int(seed),
                n_epochs=int(n_epochs),
                lr=float(lr),
                l2=float(l2),
                **kwargs,
            )
        finally:
            self._fit_counts = None
            torch.set_num_threads(threads)
        # Coverage weighted by counts (the parent computed it over distinct patterns); one
        # column at a time, so no [p, m] int64 temporary.
        voted = np.array([w[L[:, j] != -1].sum() for j in range(L.shape[1])], dtype=np.int64)
        self.coverage = voted / w.sum()
        return self

    def predict_proba_patterns(self, patterns: np.ndarray) -> np.ndarray:
        """Return ``P(Y | votes)`` for each pattern.

        Parameters
        ----------
        patterns
            ``[p, m]`` vote matrix, same LF order as in :meth:`fit_patterns`.

        Returns
        -------
        np.ndarray
            ``[p, cardinality]`` probabilities; column 1 is ``P(good)`` for binary tasks.

        Notes
        -----
        Computed ``chunk_patterns`` rows at a time: :meth:`LabelModel.predict_proba` builds
        dense ``[rows, m * cardinality]`` float64 matrices, which for hundreds of thousands of
        distinct patterns would otherwise dominate peak memory. Rows are independent, so the
        result does not depend on the chunk size.
        """
        L = np.asarray(patterns)
        if not np.issubdtype(L.dtype, np.integer):
            L = L.astype(np.int64)
        if L.ndim != 2:
            raise FlywheelError(f"vote patterns must be a 2-D matrix, got shape {L.shape}")
        n_fit = getattr(self, "n", None)  # predict_proba resets n to its input's row count
        try:
            blocks = [
                self.predict_proba(L[start : start + self.chunk_patterns])
                for start in range(0, L.shape[0], self.chunk_patterns)
            ]
        finally:
            if n_fit is not None:
                self.n = n_fit
        if not blocks:
            return np.zeros((0, self.cardinality))
        return np.concatenate(blocks, axis=0)

    def final_loss(self) -> float:
        """Return the training objective at the fitted parameters (with the fit's ``l2``).

        Returns
        -------
        float
            ``_loss_mu(l2)`` after the final clamp and symmetry breaking.
        """
        with torch.no_grad():
            return float(self._loss_mu(l2=self.train_config.l2).item())


def _check_patterns(
    patterns: np.ndarray, counts: np.ndarray, cardinality: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(patterns, counts)``: votes as the smallest integer type that holds them
    (int8 for binary tasks: a [p, m] int64 copy of hundreds of thousands of patterns would
    cost more than the model), counts as int64."""
    L = np.asarray(patterns)
    w = np.asarray(counts)
    if L.ndim != 2:
        raise FlywheelError(f"vote patterns must be a 2-D matrix, got shape {L.shape}")
    if w.shape != (L.shape[0],):
        raise FlywheelError(
            f"counts must have one entry per pattern ({L.shape[0]}), got shape {w.shape}"
        )
    if L.shape[1] < MIN_LFS:
        raise FlywheelError(
            f"the label model needs at least {MIN_LFS} labeling functions, got {L.shape[1]}: "
            "add LF columns"
        )
    if L.shape[0] == 0:
        raise FlywheelError("no vote patterns to fit the label model on")
    integral = np.issubdtype(L.dtype, np.integer) and np.issubdtype(w.dtype, np.integer)
    if not integral and not (np.all(np.mod(L, 1) == 0) and np.all(np.mod(w, 1) == 0)):
        raise FlywheelError("vote patterns and counts must be integers")
    if L.min() < -1 or L.max() > cardinality - 1:  # before narrowing the type
        raise FlywheelError(
            f"LF votes must be in {{-1, ..., {cardinality - 1}}}, found {L.min()}..{L.max()}"
        )
    L = L.astype(np.int8 if cardinality <= 127 else np.int64, copy=False)
    w = w.astype(np.int64)
    if w.min() <= 0:
        raise FlywheelError("pattern counts must be positive")
    return L, w
