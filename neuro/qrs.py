"""Streaming QRS detection (classical, Pan-Tompkins) and AAMI EC57 beat matching.

:class:`QrsDetector` is a Pan & Tompkins detector (IEEE TBME 32(3):230-236, 1985) that runs
sample by sample: call it on consecutive chunks of one ECG lead and it returns the R peaks it
has confirmed so far, exactly those of one call over the whole record (the filters carry their
``zi`` state, the peak search keeps a tail buffer). It is classical signal processing, not a
spiking network:

1. band-pass 5-15 Hz (2nd-order Butterworth sections), 5-point derivative, squaring and a
   150-ms moving-window integral (MWI), all causal filters with carried state;
2. candidate peaks: MWI maxima with no higher value within the 200-ms refractory period on
   either side (so a candidate is known 200 ms after it);
3. adaptive thresholds on the candidates, as in the paper: signal and noise peak levels
   (SPKI, NPKI) learned over the first 2 s, THR1 = NPKI + (SPKI - NPKI) / 4 and a search back
   at THR1 / 2 when no beat came for 1.66 mean RR intervals; a candidate within 360 ms of a
   beat that is less than half its height is taken for a T wave;
4. the R peak: the largest |band-passed ECG| in the 250 ms before the MWI peak, moved back by
   the band-pass group delay at 10 Hz.

Only step 3 is sequential, and it loops over candidate peaks (a few per second), never over
samples. :func:`match_beats` pairs detected with reference beats within 150 ms (AAMI EC57).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.signal

# AAMI EC57: a detection within 150 ms of a reference beat matches it.
MATCH_TOLERANCE_S = 0.150


@dataclass
class QrsDetector:
    """Streaming Pan-Tompkins QRS detector for one ECG lead.

    Args:
        fs: sample rate, Hz.
        band_hz: pass band of the QRS filter, Hz.
        window_s: moving-window integral length, s.
        refractory_s: no two beats closer than this, s.
        learn_s: length of the threshold learning phase at the start, s.

    Attributes set by streaming: ``samples_`` (samples seen), ``beats_`` (count of R peaks
    returned).
    """

    fs: float
    band_hz: tuple[float, float] = (5.0, 15.0)
    window_s: float = 0.150
    refractory_s: float = 0.200
    learn_s: float = 2.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.fs) and self.fs >= 4 * self.band_hz[1]):
            raise ValueError(f"fs must be a sample rate >= {4 * self.band_hz[1]:g} Hz, got "
                             f"{self.fs}")
        self.sos_ = scipy.signal.butter(2, self.band_hz, btype="band", fs=self.fs, output="sos")
        # Pan-Tompkins derivative, scaled to per-second units.
        self.deriv_ = np.array([1.0, 2.0, 0.0, -2.0, -1.0]) * self.fs / 8.0
        self.n_window_ = max(1, round(self.window_s * self.fs))
        self.refractory_ = max(1, round(self.refractory_s * self.fs))
        self.search_ = round(0.250 * self.fs)
        self.t_wave_ = round(0.360 * self.fs)
        _, delay = scipy.signal.group_delay(scipy.signal.sos2tf(self.sos_), w=[10.0], fs=self.fs)
        self.delay_ = round(float(delay[0]))
        self.reset()

    def reset(self) -> QrsDetector:
        """Start a new stream at sample 0 with unlearned thresholds."""
        self.samples_ = 0
        self.beats_ = 0
        self.zi_band_ = np.zeros((self.sos_.shape[0], 2))
        self.zi_deriv_ = np.zeros(self.deriv_.size - 1)
        self.zi_mwi_ = np.zeros(self.n_window_ - 1)
        # Tails of the MWI and band-passed signal: enough left context for the peak search
        # (2 refractory periods) and for the R search window.
        self.tail_ = np.empty((2, 0))
        self.evaluated_ = 0  # MWI samples whose candidacy is decided
        self.queue_: list[tuple[int, float, int]] = []  # candidates before learning ends
        self.learn_max_ = 0.0
        self.learn_sum_ = 0.0
        self.spki_ = self.npki_ = 0.0
        self.learned_ = False
        self.last_beat_ = -1  # MWI sample of the last beat
        self.last_height_ = 0.0
        self.last_r_ = -1  # sample of the last R peak returned
        self.rr_: list[int] = []
        self.noise_: list[tuple[int, float, int]] = []  # noise candidates since the last beat
        return self

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """R peaks (int64 sample indices from the stream start) confirmed by this chunk."""
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"chunk must be 1-D samples of one lead, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("chunk holds NaN or infinite samples")
        band, self.zi_band_ = scipy.signal.sosfilt(self.sos_, x, zi=self.zi_band_)
        slope, self.zi_deriv_ = scipy.signal.lfilter(self.deriv_, [1.0], band, zi=self.zi_deriv_)
        mwi, self.zi_mwi_ = scipy.signal.lfilter(np.full(self.n_window_, 1.0 / self.n_window_),
                                                 [1.0], slope**2, zi=self.zi_mwi_)
        start = self.samples_
        if not self.learned_:
            learn_n = round(self.learn_s * self.fs)
            head = mwi[: max(0, learn_n - start)]
            self.learn_max_ = max(self.learn_max_, float(np.sqrt(head.max(initial=0.0))))
            self.learn_sum_ += float(np.sqrt(head).sum())
        self.samples_ += x.size
        buffer = np.concatenate([self.tail_, np.vstack([mwi, band])], axis=1)
        offset = self.samples_ - buffer.shape[1]
        found = self._candidates(buffer, offset, self.samples_ - self.refractory_)
        keep = 2 * self.refractory_ + self.search_
        self.tail_ = buffer[:, -keep:]
        return self._decide(found)

    def finish(self) -> np.ndarray:
        """R peaks still pending at the end of the stream (the last 200 ms had no right
        context); call once after the last chunk."""
        return self._decide(self._candidates(self.tail_, self.samples_ - self.tail_.shape[1],
                                             self.samples_))

    def _candidates(self, buffer: np.ndarray, offset: int, until: int) -> list:
        """Candidate peaks (MWI sample, height, R sample) decidable in [evaluated_, until)."""
        lo, hi = self.evaluated_ - offset, until - offset
        if hi <= lo:
            return []
        mwi, band = buffer
        # Outside the buffer counts as -inf: exact at the stream's ends, and elsewhere the
        # buffer holds a full refractory period of context on both sides of [lo, hi).
        peak = scipy.ndimage.maximum_filter1d(mwi, 2 * self.refractory_ + 1, mode="constant",
                                              cval=-np.inf)
        index = lo + np.flatnonzero((mwi[lo:hi] == peak[lo:hi]) & (mwi[lo:hi] > 0))
        self.evaluated_ = until
        out = []
        for i in index:
            a = max(0, i - self.search_)
            r = a + int(np.argmax(np.abs(band[a:i + 1])))
            out.append((int(i + offset), float(np.sqrt(mwi[i])), int(r + offset - self.delay_)))
        return out

    def _decide(self, found: list) -> np.ndarray:
        beats: list[int] = []
        self.queue_ += found
        if not self.learned_:
            if self.samples_ < round(self.learn_s * self.fs):
                return np.empty(0, np.int64)
            n = round(self.learn_s * self.fs)
            self.spki_ = 0.25 * self.learn_max_
            self.npki_ = 0.5 * self.learn_sum_ / n
            self.learned_ = True
        for cand in self.queue_:
            self._search_back(cand[0], beats)
            self._classify(cand, beats)
        self.queue_ = []
        self.beats_ += len(beats)
        return np.asarray(beats, dtype=np.int64)

    def _threshold(self) -> float:
        return self.npki_ + 0.25 * (self.spki_ - self.npki_)

    def _mean_rr(self) -> float:
        return float(np.mean(self.rr_[-8:])) if self.rr_ else self.fs

    def _beat(self, cand: tuple[int, float, int], beats: list[int]) -> None:
        i, height, r = cand
        if r <= self.last_r_ or r < 0:
            return
        if self.last_beat_ >= 0:
            self.rr_.append(i - self.last_beat_)
        self.last_beat_, self.last_height_ = i, height
        self.noise_ = []
        self.last_r_ = r
        beats.append(r)

    def _search_back(self, now: int, beats: list[int]) -> None:
        """Before a candidate at ``now``: recover a missed beat among the noise peaks."""
        while self.last_beat_ >= 0 and now - self.last_beat_ > 1.66 * self._mean_rr():
            eligible = [c for c in self.noise_ if c[0] - self.last_beat_ > self.refractory_]
            best = max(eligible, key=lambda c: c[1], default=None)
            if best is None or best[1] <= 0.5 * self._threshold():
                return
            self.spki_ = 0.25 * best[1] + 0.75 * self.spki_
            self._beat(best, beats)
            self.noise_ = [c for c in eligible if c[0] > best[0]]

    def _classify(self, cand: tuple[int, float, int], beats: list[int]) -> None:
        i, height, _ = cand
        if self.last_beat_ >= 0 and i - self.last_beat_ <= self.refractory_:
            return  # the rest of a flat-topped peak
        t_wave = (self.last_beat_ >= 0 and i - self.last_beat_ < self.t_wave_
                  and height < 0.5 * self.last_height_)
        if height > self._threshold() and not t_wave:
            self.spki_ = 0.125 * height + 0.875 * self.spki_
            self._beat(cand, beats)
        else:
            self.npki_ = 0.125 * height + 0.875 * self.npki_
            self.noise_.append(cand)


def detect_beats(signal: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of a whole single-lead record (:class:`QrsDetector` in one go)."""
    detector = QrsDetector(fs)
    return np.concatenate([detector(signal), detector.finish()])


def match_beats(reference: np.ndarray, detected: np.ndarray, fs: float,
                tolerance_s: float = MATCH_TOLERANCE_S) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of (reference index, detected index) within ``tolerance_s`` (AAMI EC57).

    Each beat is used once: a pair is formed where a reference beat and a detection are each
    other's nearest within the tolerance. Both inputs are sorted sample indices.
    """
    ref = np.asarray(reference, dtype=np.int64)
    det = np.asarray(detected, dtype=np.int64)
    if ref.size == 0 or det.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)

    def nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(b, a), 1, b.size - 1) if b.size > 1 else np.zeros(
            a.size, np.int64)
        if b.size > 1:
            j = np.where(np.abs(b[j - 1] - a) <= np.abs(b[j] - a), j - 1, j)
        return j

    to_det = nearest(ref, det)
    to_ref = nearest(det, ref)
    mutual = to_ref[to_det] == np.arange(ref.size)
    close = np.abs(det[to_det] - ref) <= round(tolerance_s * fs)
    keep = np.flatnonzero(mutual & close)
    return keep, to_det[keep]
