"""External check of the twin's levels 2 and 3 on the UVA/Padova simulator (simglucose).

    python benchmarks/bench_glucose.py [--days 2] [--epochs 60] [--seed 0] [--json out.json]

Writes the "glucose" section of docs/benchmarks.md and docs/img/glucose_check.png (what
host.glucose measures, see there).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from report import write_section  # benchmarks/ is on sys.path when run as a script

from host.glucose import EFFECT_MINUTES, HISTORY, HORIZON, SAMPLE_MIN, CheckConfig, external_check

FIGURE = Path(__file__).resolve().parents[1] / "docs" / "img" / "glucose_check.png"


def markdown(r: dict, command: str, seconds: float) -> str:
    c, l2, l3 = r["config"], r["level2"], r["level3"]
    lines = [
        "## External check: UVA/Padova type-1 diabetes simulator (simglucose 0.2.11)", "",
        f"`{command}` — simglucose's own virtual patients, {c.days} seeded days each (meals, "
        "meal boluses of carbs / CR with ±30% dosing error and 10% missed, the patient's "
        "steady-state basal), GuardianRT CGM noise, 5-min samples; trained on "
        f"{', '.join(c.train)}; scored on held-out {', '.join(c.test)}. 1 CPU thread; "
        f"{seconds:.0f} s in all.", "",
        f"### Level 2: 30-min CGM forecast, {l2['windows']} held-out windows", "",
        "MLP over the last 2 h of CGM, insulin (U/kg) and carbs (g/kg), plus insulin and "
        f"carbs on board, {c.epochs} epochs. Baseline: persistence (last reading).", "",
        "| patients | RMSE model (mg/dL) | RMSE persistence (mg/dL) | ratio |",
        "|---|---|---|---|",
        f"| all held-out | {l2['model_rmse']:.1f} | {l2['persistence_rmse']:.1f} | "
        f"{l2['ratio']:.2f} |"]
    for name, x in l2["patients"].items():
        lines.append(f"| {name} | {x['model_rmse']:.1f} | {x['persistence_rmse']:.1f} | "
                     f"{x['model_rmse'] / x['persistence_rmse']:.2f} |")
    lines += [
        "", f"### Level 3: effect of an extra 1-3 U bolus over 3 h, {l3['examples']} training "
        f"examples, {l3['tests']} held-out boluses", "",
        "True effect: the same patient and scenario run twice from the same state, with and "
        "without the bolus. Edit model: -gain × U × CF × (CGM / 140)^exponent × gamma(2) "
        f"insulin-action curve; fitted gain {l3['gain']:.2f}, exponent {l3['exponent']:.2f}, "
        f"peak action {l3['tau_min']:.0f} min. Baseline: no effect (level 2 ignoring the "
        "edit).", "",
        "| predicted glucose change | MAE over 5-180 min (mg/dL) | MAE at 180 min (mg/dL) |",
        "|---|---|---|",
        f"| edit model | {l3['effect_mae']:.1f} | {l3['effect_at_180_mae']:.1f} |",
        f"| no effect | {l3['no_effect_mae']:.1f} | {abs(l3['mean_true_at_180']):.1f} "
        "(mean true change) |", "",
        f"Reduction of the effect error by the edit: "
        f"{1 - l3['effect_mae'] / l3['no_effect_mae']:.0%}.", "",
        "![held-out forecast and bolus effect](img/glucose_check.png)"]
    return "\n".join(lines)


def plot(r: dict, path: Path) -> None:
    """One held-out day's forecast and one held-out bolus effect, true vs predicted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    trace, bolus, edit = r["trace"], r["bolus"], r["edit"]
    pred, truth, last = r["forecaster"].predict(trace)
    hours = (np.arange(len(truth)) + HISTORY + HORIZON) * SAMPLE_MIN / 60
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
    a.plot(hours, truth, color="k", lw=1, label="CGM")
    a.plot(hours, pred, color="C0", lw=1, label="forecast made 30 min before")
    a.plot(hours, last, color="C1", lw=0.8, ls=":", label="persistence")
    a.set(xlabel="time (h)", ylabel="glucose (mg/dL)",
          title=f"{trace.therapy.name}, held out: 30-min forecast")
    a.legend(fontsize=8)
    b.plot(EFFECT_MINUTES, bolus.effect, color="k", label="simulator (two runs)")
    b.plot(EFFECT_MINUTES, edit.predict(bolus.units, bolus.cf, bolus.cgm), color="C0",
           label="edit model")
    b.axhline(0, color="C1", ls=":", label="no effect")
    b.set(xlabel="minutes after bolus", ylabel="glucose change (mg/dL)",
          title=f"{bolus.patient}: +{bolus.units:.1f} U, day {bolus.minute // 1440 + 1} "
                f"{bolus.minute // 60 % 24:02d}:{bolus.minute % 60:02d}")
    b.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args()
    start = time.perf_counter()
    result = external_check(CheckConfig(days=args.days, epochs=args.epochs, seed=args.seed))
    seconds = time.perf_counter() - start
    plot(result, FIGURE)
    command = ("python benchmarks/bench_glucose.py " + " ".join(sys.argv[1:])).strip()
    text = markdown(result, command, seconds)
    if args.json:
        figures = {k: result[k] for k in ("level2", "level3")}
        Path(args.json).write_text(json.dumps(figures, indent=1))
    write_section("glucose", text)
    print(text)


if __name__ == "__main__":
    main()
