"""The twin's queries with their guards: authentication, per-subject access, consent, audit.

:class:`TwinService` is what the HTTP API (:mod:`host.api`) and the ``neurotwin twin``
commands call. Every query names an actor; it is allowed only if the actor holds a grant for
the subject (or for every subject, ``*``) and — except for export and deletion, which a
subject's rights require regardless — the subject consents. Each decision, allowed or not,
goes to the audit log with the action and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from host.forecast import (
    FIRST_ORIGIN,
    HORIZON_H,
    Level2Forecaster,
    Series,
    heat_anomaly,
    windows,
)
from host.storage import ALL_SUBJECTS, Repository

ADAPTER = "level4_adapter"
LEVEL2_FILE, EDIT_FILE = "level2.pt", "level3.pt"


class Unauthenticated(PermissionError):
    """No token, or a token nobody holds."""


class Forbidden(PermissionError):
    """The actor may not reach this subject, or the subject has not consented."""


class NotReady(LookupError):
    """The twin cannot answer yet (no model, or not enough history)."""


def load_models(folder: str | Path) -> tuple[Level2Forecaster | None, Any]:
    """The level-2 forecaster and level-3 edit model saved in ``folder`` (None if absent)."""
    folder = Path(folder)
    level2 = edit = None
    if (folder / LEVEL2_FILE).exists():
        level2 = Level2Forecaster.load(str(folder / LEVEL2_FILE))
        if (folder / EDIT_FILE).exists():
            from host.interventions import EditModel

            edit = EditModel.load(str(folder / EDIT_FILE), level2)
    return level2, edit


@dataclass
class TwinService:
    """Guarded queries over a repository and the trained models (see the module docstring)."""

    repository: Repository
    level2: Level2Forecaster | None = None
    edit: Any = None
    # Actors who reach every subject without a grant: the local operator of the command line,
    # who can open the database anyway. Consent and the audit log still apply.
    operators: tuple[str, ...] = ()

    # -- guards ----------------------------------------------------------------------------

    def authenticate(self, token: str | None) -> str:
        actor = self.repository.actor(token) if token else None
        if actor is None:
            self.repository.audit("anonymous", "authenticate", None, False,
                                  "missing token" if not token else "unknown token")
            raise Unauthenticated("a valid API token is required")
        return actor

    def _allow(self, actor: str, action: str, subject: str, consent: bool = True) -> None:
        repo = self.repository
        if actor not in self.operators and not repo.may_access(actor, subject):
            repo.audit(actor, action, subject, False, "no access to this subject")
            raise Forbidden(f"{actor} may not access {subject}")
        if consent and not repo.consent(subject):
            repo.audit(actor, action, subject, False, "no consent")
            raise Forbidden(f"{subject} has not consented")
        repo.audit(actor, action, subject, True)

    def _series(self, subject: str) -> Series:
        series = Series.from_repository(self.repository, subject)
        if series.hours < FIRST_ORIGIN:
            raise NotReady(f"{subject}: {series.hours} h stored; forecasts need "
                           f"{FIRST_ORIGIN} h")
        return series

    def _models(self) -> Level2Forecaster:
        if self.level2 is None:
            raise NotReady("no trained level-2 model: run `neurotwin twin train`")
        return self.level2

    # -- queries ---------------------------------------------------------------------------

    def state(self, actor: str, subject: str, hours: int = 24) -> dict[str, Any]:
        """The latest ``hours`` of hourly level-1 state."""
        self._allow(actor, "state", subject)
        series = Series.from_repository(self.repository, subject)
        k = slice(max(0, series.hours - hours), series.hours)
        t = series.start_s + np.arange(series.hours)[k] * 3600.0
        return {"subject": subject, "t": t.tolist(), "hr_bpm": series.hr[k].tolist(),
                "ectopy_per_h": series.ectopy[k].tolist(),
                "activity": series.activity[k].tolist()}

    def forecast(self, actor: str, subject: str) -> dict[str, Any]:
        """The 24-h forecast from the latest hour, with the subject's level-4 correction."""
        self._allow(actor, "forecast", subject)
        model, series = self._models(), self._series(subject)
        out = model.forecast(series)
        adapter = self._adapter(subject)
        if adapter is not None:
            batch = windows(series, np.array([series.hours]))
            correction = adapter.predict(batch["exposure"],
                                         np.array([series.hour_of_day()[-1] + 1]),
                                         heat_anomaly(batch))[0]
            out["hr_bpm"] = (np.array(out["hr_bpm"]) + correction).tolist()
            out["level4_correction_bpm"] = correction.tolist()
        return {"subject": subject, **out}

    def what_if(self, actor: str, subject: str, doses: list[tuple[str, int, float]]
                ) -> dict[str, Any]:
        """Forecast with and without extra doses ``(drug, hours from now, mg)``."""
        self._allow(actor, "what_if", subject)
        self._models()
        if self.edit is None:
            raise NotReady("no trained level-3 edit model: run `neurotwin twin train`")
        return {"subject": subject, **self.edit.what_if(self._series(subject), doses)}

    def explain(self, actor: str, subject: str, horizons: int = HORIZON_H) -> dict[str, Any]:
        """Attributions of the forecast to the drivers, and each driver's counterfactual."""
        from host.explain import DRIVERS, Explainer

        self._allow(actor, "explain", subject)
        series = self._series(subject)
        explainer = Explainer(self._models(), self.edit)
        origin = series.hours
        out = explainer.attribute(series, origin, slice(0, horizons))
        out["counterfactuals"] = {d: explainer.counterfactual(series, origin, (d,))
                                  for d in DRIVERS}
        return {"subject": subject, **out}

    def update(self, actor: str, subject: str) -> dict[str, Any]:
        """Level 4: fold the subject's completed forecasts into their adapter (made from
        scratch on first use, then incrementally from where it stopped)."""
        from host.exposures import SubjectAdapter

        self._allow(actor, "update", subject)
        model, series = self._models(), self._series(subject)
        adapter = self._adapter(subject) or SubjectAdapter()
        origins = np.arange(max(adapter.last_origin_ + 1, FIRST_ORIGIN),
                            series.hours - HORIZON_H + 1)
        if origins.size:
            batch = windows(series, origins)
            residual = (series.hr[origins[:, None] + np.arange(HORIZON_H)]
                        - model.predict(batch)[..., 0])
            adapter.partial_fit(batch["exposure"], series.hour_of_day()[origins],
                                heat_anomaly(batch), residual)
            adapter.last_origin_ = int(origins[-1])
            self.repository.save_model(subject, ADAPTER, adapter.to_bytes())
        return {"subject": subject, "origins_added": int(origins.size),
                "samples": int(getattr(adapter, "n_samples_", 0))}

    def _adapter(self, subject: str):
        from host.exposures import SubjectAdapter

        data = self.repository.load_model(subject, ADAPTER)
        try:
            return None if data is None else SubjectAdapter.from_bytes(data)
        except ValueError:  # saved by an earlier version: start afresh from the data
            return None

    def export(self, actor: str, subject: str) -> dict[str, Any]:
        """Everything stored about the subject (allowed without consent: right of access)."""
        self._allow(actor, "export", subject, consent=False)
        return self.repository.export(subject)

    def delete(self, actor: str, subject: str) -> dict[str, Any]:
        """Erase the subject's data (allowed without consent: right to erasure)."""
        self._allow(actor, "delete", subject, consent=False)
        return {"subject": subject, "events_deleted": self.repository.delete_subject(subject)}

    def audit_log(self, actor: str, subject: str | None = None) -> list[dict[str, Any]]:
        """The audit log: of one subject for those with access, all of it for ``*`` holders."""
        self._allow(actor, "audit", subject or ALL_SUBJECTS, consent=False)
        return self.repository.audit_log(subject)
