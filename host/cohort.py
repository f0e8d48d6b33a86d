"""A seeded virtual cohort with known ground truth: the test bed of the twin's levels 2-5.

Each subject has individual physiology (:class:`Physiology`, drawn from :data:`RANGES`), an
environment (temperature, PM2.5), a daily life (sleep, activity, exercise, later on free days)
and a treatment plan (doses of an oral beta-blocker and of an antiarrhythmic). The simulator
runs on an hourly grid and gives the level-1 state a wearable edge would report — mean heart
rate (bpm), ectopic beats per hour, activity — together with every hidden variable: plasma
concentrations (µg/L), accumulated exposures and each driver's contribution.

Model (hour ``k``; all effects additive in bpm before the drug):

    HR0 = hr_rest + circadian(k) + activity_gain·activity + heat_gain·(T − 24 °C)⁺·(1 − a)
          + pm_gain·PM̄/10 + load_gain·(fatigue − fitness) + AR(1) noise
    HR  = 40 + (HR0 − 40)·(1 − Emax·C_bb/(C_bb + EC50))            beta-blocker, Emax on HR
    λ   = ectopy0·exp(0.3·(HR − hr_rest)/10 + pm_ectopy·PM̄/10)·(1 − Imax·C_aa/(C_aa + IC50))

- C_bb, C_aa: one-compartment oral pharmacokinetics with first-order absorption (the Bateman
  function), superposed over doses: C(t) = 1000·F·D·ka / (V·(ka − ke)) · (e^(−ke t) − e^(−ka t))
  with D in mg, V in L, C in µg/L.
- a: heat acclimatisation, 0.5 × the heat exposure averaged over ``acclim_tau_h`` (days).
- PM̄: PM2.5 averaged exponentially over ``pm_tau_h``; fatigue and fitness: activity averaged
  over 7 and 42 days (Banister's impulse-response model of training).
- Ectopic beats per hour are Poisson(λ); the reported heart rate adds 0.5 bpm of measurement
  noise. The same seed gives the same noise, so a counterfactual run (:func:`simulate` with
  another plan or environment) differs from the factual one only by the causal effect.

Parameter ranges and where they come from are in :data:`RANGES`; effect sizes marked
"assumed" are chosen to make the drivers visible within weeks, not taken from a study.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import poisson

# A Monday, 00:00 UTC: hour 0 of every simulation.
EPOCH_S = 1_704_067_200.0
HOUR_S = 3600.0
DRUGS = ("metoprolol", "flecainide")
HEAT_THRESHOLD_C = 24.0

# name: (low, high, unit, source). Drawn uniformly (log-uniformly for ectopy0).
RANGES: dict[str, tuple[float, float, str, str]] = {
    "hr_rest": (58.0, 78.0, "bpm", "resting HR of healthy adults; 24-h means ~70 bpm in "
                "Degaute et al., Hypertension 18:199-210 (1991)"),
    "circadian_amp": (3.0, 8.0, "bpm", "day-night HR difference beyond sleep and activity, "
                      "Degaute et al. 1991"),
    "acrophase_h": (14.0, 18.0, "h", "afternoon HR peak, Degaute et al. 1991"),
    "activity_level": (0.25, 0.55, "a.u.", "assumed: daytime activity, 0 rest .. 1 vigorous"),
    "activity_gain": (18.0, 35.0, "bpm per unit activity", "assumed: ~+30 bpm walking"),
    "ectopy0": (2.0, 60.0, "1/h", "PVCs per hour; >30/h is Lown grade 2 (Lown & Wolf, "
                "Circulation 44:130-142, 1971)"),
    "heat_gain": (0.6, 1.6, "bpm/°C above 24 °C", "assumed"),
    "acclim_tau_h": (96.0, 168.0, "h", "heat acclimatisation develops over 4-7 days "
                     "(Périard, Racinais & Sawka, Scand J Med Sci Sports 25 S1:20-38, 2015)"),
    "pm_gain": (0.8, 2.0, "bpm per 10 µg/m³", "assumed; HR rose during an air-pollution "
                "episode in Peters et al., Am J Epidemiol 150:1094-1098 (1999)"),
    "pm_tau_h": (12.0, 36.0, "h", "assumed: effects of the previous day's PM2.5"),
    "pm_ectopy": (0.05, 0.15, "log-rate per 10 µg/m³", "assumed"),
    "load_gain": (1.5, 4.0, "bpm per 0.1 of load", "assumed; fatigue/fitness time constants "
                  "7 and 42 days after Banister et al., Aust J Sports Med 7:57-61 (1975)"),
    "noise_sd": (1.5, 3.0, "bpm", "assumed: hour-to-hour HR variability"),
    "noise_phi": (0.5, 0.8, "", "assumed: lag-1 autocorrelation of the hourly noise"),
    "weight_kg": (55.0, 95.0, "kg", "adult body weight"),
    "bb_f": (0.4, 0.5, "", "oral metoprolol bioavailability ~40-50% (Regårdh et al., "
             "J Pharmacokinet Biopharm 2:347-364, 1974, doi:10.1007/BF01061407)"),
    "bb_half_life_h": (3.0, 7.0, "h", "metoprolol elimination half-life ~3 h, up to 7 h "
                       "(Regårdh et al. 1974)"),
    "bb_tmax_h": (1.0, 2.0, "h", "time to peak after an oral dose, 1-2 h"),
    "bb_v_l_per_kg": (3.2, 5.6, "L/kg", "volume of distribution (Regårdh et al. 1974)"),
    "bb_emax": (0.20, 0.35, "of HR above 40 bpm", "assumed: 50-100 mg lowers resting HR by "
                "~10-15 bpm"),
    "bb_ec50": (20.0, 60.0, "µg/L", "assumed, around peak levels after 50-100 mg"),
    "aa_f": (0.85, 0.95, "", "oral flecainide bioavailability ~90% (Holmes & Heel, Drugs "
             "29:1-33, 1985)"),
    "aa_half_life_h": (12.0, 27.0, "h", "flecainide half-life ~20 h (Holmes & Heel 1985)"),
    "aa_tmax_h": (2.0, 4.0, "h", "time to peak after an oral dose (Holmes & Heel 1985)"),
    "aa_v_l_per_kg": (5.0, 10.0, "L/kg", "volume of distribution (Holmes & Heel 1985)"),
    "aa_imax": (0.80, 0.95, "", "assumed: most PVCs suppressed in responders"),
    "aa_ic50": (100.0, 300.0, "µg/L", "assumed, below the 200-1000 µg/L therapeutic range"),
}


def _ka(tmax_h: float, ke: float) -> float:
    """Absorption rate (1/h) that puts the Bateman peak at ``tmax_h``: solve
    ln(ka/ke)/(ka − ke) = tmax by bisection."""
    lo, hi = ke * 1.0001, 50.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if np.log(mid / ke) / (mid - ke) > tmax_h:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class Physiology:
    """One subject's parameters (units and sources in :data:`RANGES`)."""

    hr_rest: float = 68.0
    circadian_amp: float = 5.0
    acrophase_h: float = 16.0
    activity_level: float = 0.4
    activity_gain: float = 25.0
    ectopy0: float = 10.0
    heat_gain: float = 1.0
    acclim_tau_h: float = 120.0
    pm_gain: float = 1.2
    pm_tau_h: float = 24.0
    pm_ectopy: float = 0.1
    load_gain: float = 2.5
    noise_sd: float = 2.0
    noise_phi: float = 0.65
    weight_kg: float = 75.0
    bb_f: float = 0.45
    bb_half_life_h: float = 4.0
    bb_tmax_h: float = 1.5
    bb_v_l_per_kg: float = 4.2
    bb_emax: float = 0.28
    bb_ec50: float = 35.0
    aa_f: float = 0.9
    aa_half_life_h: float = 20.0
    aa_tmax_h: float = 3.0
    aa_v_l_per_kg: float = 7.0
    aa_imax: float = 0.9
    aa_ic50: float = 200.0

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Physiology:
        """A subject drawn from :data:`RANGES`."""
        values = {}
        for name, (lo, hi, _, _) in RANGES.items():
            values[name] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))) if name == "ectopy0"
                                 else rng.uniform(lo, hi))
        return cls(**values)

    def kernel(self, drug: str, hours: int) -> np.ndarray:
        """Plasma concentration (µg/L) at mid-hour 0.5, 1.5, ... after 1 mg of ``drug``."""
        p = "bb" if drug == "metoprolol" else "aa"
        f, half, tmax, v = (getattr(self, f"{p}_{k}") for k in ("f", "half_life_h", "tmax_h",
                                                              "v_l_per_kg"))
        ke = np.log(2) / half
        ka = _ka(tmax, ke)
        t = np.arange(hours) + 0.5
        return 1000.0 * f * ka / (v * self.weight_kg * (ka - ke)) * (np.exp(-ke * t)
                                                                      - np.exp(-ka * t))


@dataclass(frozen=True)
class Environment:
    """Exposures over the simulated span, hourly: temperature (°C) and PM2.5 (µg/m³)."""

    temperature_c: np.ndarray
    pm25: np.ndarray

    def replace(self, **changes: np.ndarray) -> Environment:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Plan:
    """Doses: ``doses[drug]`` is mg per hour slot (mostly zeros)."""

    doses: dict[str, np.ndarray]

    @classmethod
    def none(cls, hours: int) -> Plan:
        return cls({d: np.zeros(hours) for d in DRUGS})

    def with_dose(self, drug: str, hour: int, mg: float) -> Plan:
        doses = {d: v.copy() for d, v in self.doses.items()}
        doses[drug][hour] += mg
        return Plan(doses)

    def without(self, drug: str, start: int = 0) -> Plan:
        doses = {d: v.copy() for d, v in self.doses.items()}
        doses[drug][start:] = 0.0
        return Plan(doses)


@dataclass(frozen=True)
class Subject:
    """A virtual subject: physiology, environment, daily life (activity and the schedule
    they keep to, see :func:`daily_life`) and treatment plan, plus the seed of their noise."""

    name: str
    physiology: Physiology
    environment: Environment
    activity: np.ndarray
    schedule: np.ndarray
    plan: Plan
    seed: int

    @property
    def hours(self) -> int:
        return self.activity.size


@dataclass(frozen=True)
class Trajectory:
    """A simulated span, hourly (index k covers [k, k+1) h after :data:`EPOCH_S`).

    ``hr`` is the reported heart rate (bpm), ``ectopy`` the ectopic beats counted per hour,
    ``ectopy_rate`` their expected number (1/h); ``concentration[drug]`` is µg/L;
    ``contributions`` give, in bpm, each driver's part of the drug-free heart rate;
    ``schedule`` is the planned activity (0..1, :func:`daily_life`).
    """

    subject: str
    hr: np.ndarray
    hr_true: np.ndarray
    ectopy: np.ndarray
    ectopy_rate: np.ndarray
    activity: np.ndarray
    temperature_c: np.ndarray
    pm25: np.ndarray
    doses: dict[str, np.ndarray]
    concentration: dict[str, np.ndarray]
    schedule: np.ndarray
    contributions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def hours(self) -> int:
        return self.hr.size

    def times(self) -> np.ndarray:
        """Start of each hour, s since the Unix epoch."""
        return EPOCH_S + np.arange(self.hours) * HOUR_S


def ewma(x: np.ndarray, tau_h: float, initial: float | None = None) -> np.ndarray:
    """Exponential moving average with time constant ``tau_h`` hours (hourly samples),
    starting from ``initial`` (default: the mean of the first day, as if that had lasted)."""
    a = 1.0 - np.exp(-1.0 / tau_h)
    out = np.empty_like(x, dtype=float)
    level = float(np.mean(x[:24])) if initial is None and x.size else float(initial or 0.0)
    for i, v in enumerate(x):
        level += a * (v - level)
        out[i] = level
    return out


def _hour_of_day(hours: int) -> np.ndarray:
    return np.arange(hours) % 24


def free_day(hours: int) -> np.ndarray:
    """True on Saturdays and Sundays (hour 0 is a Monday)."""
    return (np.arange(hours) // 24) % 7 >= 5


def daily_life(hours: int, level: float, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Hourly activity (0 rest .. 1 vigorous) following a personal routine: asleep 23:00-07:00
    on workdays and 00:30-09:00 on free days (the social jet lag of Wittmann et al.,
    Chronobiol Int 23:497-509, 2006); awake, a habitual hour-by-hour profile (one for
    workdays, one for free days) times a level per day and a persistent (AR(1), φ = 0.7)
    hourly deviation; an exercise hour near a habitual time on about one day in three.

    Returns the activity and the schedule the person keeps to (0..1, hourly): asleep or
    awake at the routine's level, and the exercise sessions; the day's level and the hourly
    deviation are not planned. The schedule takes no draws of its own from ``rng``."""
    hod = _hour_of_day(hours)
    free = free_day(hours)
    awake = np.where(free, (hod >= 9) | (hod == 0), (hod >= 7) & (hod < 23))
    days = hours // 24 + 1
    phases = rng.uniform(0, 2 * np.pi, (2, 2))
    ang = 2 * np.pi * hod / 24
    kind = free.astype(int)
    routine = (1 + 0.3 * np.sin(ang + phases[kind, 0])
               + 0.2 * np.sin(2 * ang + phases[kind, 1]))
    day_level = rng.lognormal(0.0, 0.15, days)[np.arange(hours) // 24]
    deviation = np.empty(hours)
    shocks = rng.normal(0.0, 0.3 * np.sqrt(1 - 0.7 ** 2), hours)
    x = 0.0
    for k in range(hours):
        x = 0.7 * x + shocks[k]
        deviation[k] = x
    activity = np.where(awake, level * routine * day_level * np.exp(deviation), 0.03)
    schedule = np.where(awake, level * routine, 0.03)
    habit = int(rng.integers(7, 20))
    for d in np.flatnonzero(rng.random(days) < 0.35):
        k = d * 24 + habit + int(rng.integers(-1, 2))
        if k < hours:
            activity[k] = schedule[k] = rng.uniform(0.7, 1.0)
    return np.clip(activity, 0.0, 1.0), np.clip(schedule, 0.0, 1.0)


def weather(hours: int, rng: np.random.Generator, mean_c: float = 16.0,
            heat_waves: tuple[tuple[int, int], ...] = (),
            pollution_episodes: tuple[tuple[int, int], ...] = ()) -> Environment:
    """Temperature (daily mean random walk, 5 °C diurnal swing peaking at 15:00, +10 °C during
    heat waves) and PM2.5 (log-normal days around 10 µg/m³, ×5 during pollution episodes);
    episodes are (start hour, end hour)."""
    days = hours // 24 + 1
    daily = mean_c + np.cumsum(rng.normal(0, 1.0, days)) * 0.6
    hod = _hour_of_day(hours)
    temperature = daily[np.arange(hours) // 24] + 5.0 * np.cos(2 * np.pi * (hod - 15) / 24)
    pm_day = 10.0 * np.exp(np.cumsum(rng.normal(0, 0.25, days)) * 0.5
                           + rng.normal(0, 0.3, days))
    pm = pm_day[np.arange(hours) // 24] * rng.lognormal(0, 0.15, hours)
    for start, stop in heat_waves:
        ramp = np.clip(np.minimum(np.arange(hours) - start, stop - np.arange(hours)) / 24, 0, 1)
        temperature = temperature + 10.0 * ramp
    for start, stop in pollution_episodes:
        pm[start:stop] *= 5.0
    return Environment(temperature, pm)


def simulate(subject: Subject, plan: Plan | None = None,
             environment: Environment | None = None,
             activity: np.ndarray | None = None,
             remove: tuple[str, ...] = ()) -> Trajectory:
    """Run a subject; ``plan``, ``environment`` or ``activity`` replace theirs
    (counterfactuals), and ``remove`` switches drivers off ("activity", "heat", "pm",
    "load", "circadian"). The noise depends only on the subject's seed."""
    p = subject.physiology
    plan = plan or subject.plan
    env = environment or subject.environment
    act = subject.activity if activity is None else activity
    n = subject.hours
    rng = np.random.default_rng(subject.seed)
    shocks = rng.normal(0, p.noise_sd * np.sqrt(1 - p.noise_phi ** 2), n)
    measurement = rng.normal(0, 0.5, n)
    uniforms = rng.random(n)
    noise = np.empty(n)
    level = 0.0
    for k in range(n):
        level = p.noise_phi * level + shocks[k]
        noise[k] = level
    hod = _hour_of_day(n)
    heat = np.maximum(env.temperature_c - HEAT_THRESHOLD_C, 0.0)
    acclimatisation = 0.5 * np.clip(ewma(heat, p.acclim_tau_h, 0.0) / 6.0, 0.0, 1.0)
    pm_acc = ewma(env.pm25, p.pm_tau_h)
    habitual = float(np.mean(act[: 24 * 7]))
    load = ewma(act, 24 * 7, habitual) - ewma(act, 24 * 42, habitual)
    contributions = {
        "circadian": p.circadian_amp * np.cos(2 * np.pi * (hod - p.acrophase_h) / 24),
        "activity": p.activity_gain * act,
        "heat": p.heat_gain * heat * (1 - acclimatisation),
        "pm": p.pm_gain * pm_acc / 10.0,
        "load": p.load_gain * load / 0.1,
    }
    for name in remove:
        contributions[name] = np.zeros(n)
    hr0 = p.hr_rest + sum(contributions.values()) + noise
    conc = {d: np.convolve(plan.doses[d], p.kernel(d, n))[:n] for d in DRUGS}
    c_bb, c_aa = conc["metoprolol"], conc["flecainide"]
    hr_true = 40.0 + (hr0 - 40.0) * (1 - p.bb_emax * c_bb / (c_bb + p.bb_ec50))
    pm_term = 0.0 if "pm" in remove else p.pm_ectopy * pm_acc / 10.0
    rate = (p.ectopy0 * np.exp(0.3 * (hr_true - p.hr_rest) / 10.0 + pm_term)
            * (1 - p.aa_imax * c_aa / (c_aa + p.aa_ic50)))
    # Poisson counts by inversion of a fixed uniform per hour: a lower rate never gives more
    # beats, so counterfactual counts move with the rate only.
    ectopy = poisson.ppf(uniforms, rate).astype(float)
    contributions["drug"] = hr_true - hr0
    return Trajectory(subject.name, hr_true + measurement, hr_true, ectopy, rate, act.copy(),
                      env.temperature_c.copy(), env.pm25.copy(),
                      {d: v.copy() for d, v in plan.doses.items()}, conc,
                      subject.schedule.copy(), contributions)


def regimen(hours: int, drug: str, mg: float, times_h: tuple[int, ...], start: int = 0,
            stop: int | None = None) -> np.ndarray:
    """Doses of ``mg`` at the given hours of day from hour ``start`` to ``stop``."""
    doses = np.zeros(hours)
    hod = _hour_of_day(hours)
    k = np.arange(hours)
    doses[np.isin(hod, times_h) & (k >= start) & (k < (stop or hours))] = mg
    return doses


@dataclass(frozen=True)
class CohortConfig:
    """How a cohort is drawn.

    Args:
        subjects: how many.
        days: simulated span, days.
        treated_fraction: fraction on a standing metoprolol or flecainide regimen.
        heat_wave_fraction, pollution_fraction: fraction with a heat wave / pollution episode.
        seed: the cohort's seed (each subject derives its own).
    """

    subjects: int = 40
    days: int = 42
    treated_fraction: float = 0.3
    heat_wave_fraction: float = 0.3
    pollution_fraction: float = 0.3
    seed: int = 0


def cohort(config: CohortConfig = CohortConfig()) -> list[Subject]:
    """Draw a virtual cohort (deterministic for a seed)."""
    root = np.random.default_rng(config.seed)
    hours = config.days * 24
    out = []
    for i in range(config.subjects):
        seed = int(root.integers(2 ** 31))
        rng = np.random.default_rng(seed + 1)
        physiology = Physiology.sample(rng)
        waves, episodes = (), ()
        if rng.random() < config.heat_wave_fraction and hours - 24 * 6 > hours // 3:
            start = int(rng.integers(hours // 3, hours - 24 * 6))
            waves = ((start, start + int(rng.integers(4, 9)) * 24),)
        if rng.random() < config.pollution_fraction and hours - 24 * 4 > hours // 4:
            start = int(rng.integers(hours // 4, hours - 24 * 4))
            episodes = ((start, start + int(rng.integers(2, 5)) * 24),)
        env = weather(hours, rng, float(rng.uniform(10, 20)), waves, episodes)
        plan = Plan.none(hours)
        if rng.random() < config.treated_fraction:
            drug = DRUGS[int(rng.integers(2))]
            mg = float(rng.choice([25, 50, 100])) if drug == "metoprolol" else \
                float(rng.choice([50, 100]))
            plan = Plan({**plan.doses, drug: regimen(hours, drug, mg, (8, 20))})
        activity, schedule = daily_life(hours, physiology.activity_level, rng)
        out.append(Subject(f"S{i:03d}", physiology, env, activity, schedule, plan, seed))
    return out


def to_events(trajectory: Trajectory, subject: str | None = None,
              source: str | None = None) -> list:
    """The level-1 state, exposures, doses and activity plan (kind ``exposure``, name
    ``activity_plan``) of a trajectory as storage events, hourly, stored as ``subject``
    (default: the trajectory's)."""
    from host.storage import Event

    subject = subject or trajectory.subject
    source = source or f"cohort:{subject}"
    times = trajectory.times()
    series = [("state", "hr_bpm", trajectory.hr), ("state", "ectopy_per_h", trajectory.ectopy),
              ("state", "activity", trajectory.activity),
              ("exposure", "temperature_c", trajectory.temperature_c),
              ("exposure", "pm25", trajectory.pm25)]
    series += [("dose", d, v) for d, v in trajectory.doses.items()]
    # Appended last so that the sequence numbers of the other series stay as they were.
    series += [("exposure", "activity_plan", trajectory.schedule)]
    events = []
    for j, (kind, name, values) in enumerate(series):
        for k in np.flatnonzero(values) if kind == "dose" else range(values.size):
            events.append(Event(subject, times[k], kind, name, values[k], source,
                                j * 10_000_000 + int(k)))
    return events


def ecg_excerpt(trajectory: Trajectory, hour: int, duration_s: float = 30.0,
                fs: float = 360.0, seed: int = 0):
    """A raw ECG (``sensors.records.Recording``, mV) for the given hour: the hour's heart
    rate, with premature ventricular beats at the hour's ectopic rate."""
    from sensors.physiology import ECG

    hr = float(np.clip(trajectory.hr_true[hour], 35, 200))
    fraction = float(np.clip(trajectory.ectopy_rate[hour] / (hr * 60.0), 0.0, 0.5))
    model = ECG(heart_rate_bpm=hr, rhythm="pvc" if fraction > 0 else "sinus",
                pvc_fraction=fraction)
    return model.generate(duration_s, fs, seed)
