"""Encoders and decoders: the tracker's closed form, bounds, streaming, and ECG figures."""

import numpy as np
import pytest

from sensors.encoders import (
    DeltaDecoder,
    DeltaEncoder,
    GradedDeltaDecoder,
    GradedDeltaEncoder,
    LevelCrossingDecoder,
    LevelCrossingEncoder,
    RateDecoder,
    RateEncoder,
    ThresholdDecoder,
    ThresholdEncoder,
    reconstruction_snr_db,
)
from sensors.events import DOWN, EVENT_DTYPE, UP, sample_index
from sensors.records import load

FS = 360.0


def walk(rng, channels=3, samples=6000, step=0.3):
    x = np.cumsum(rng.normal(0, step, (channels, samples)), axis=1)
    x[0, 1000:1400] = np.round(x[0, 1000:1400])  # samples exactly on levels
    return x


def tracked_by_loop(x, threshold, origin):
    """The definition, one sample at a time: hold the level unless the signal is a full
    threshold away; then move to the last level it passed."""
    level = np.zeros(x.shape[0])
    out = np.empty_like(x)
    for t in range(x.shape[1]):
        y = (x[:, t] - origin) / threshold
        level = np.clip(level, np.floor(y), np.ceil(y))
        out[:, t] = level
    return origin[:, None] + threshold * out


def codecs(x):
    """Every encoder with its matching decoder, for a signal like ``x``."""
    n = x.shape[0]
    levels = np.linspace(x.min(), x.max(), 24)
    return {
        "delta": (DeltaEncoder(0.5, FS, x[:, 0]), DeltaDecoder(0.5, FS, n, x[:, 0])),
        "graded": (GradedDeltaEncoder(0.5, FS, origin=x[:, 0]),
                   GradedDeltaDecoder(0.5, FS, n, origin=x[:, 0])),
        # Moves of more than 3 units: several events per move.
        "graded-split": (GradedDeltaEncoder(0.2, FS, 0.05, levels=3),
                         GradedDeltaDecoder(0.2, FS, n, 0.05, levels=3)),
        "level": (LevelCrossingEncoder(levels, FS, 3), LevelCrossingDecoder(levels, FS, n, 3)),
        "level-uneven": (LevelCrossingEncoder(np.sort(levels ** 3 / np.abs(levels).max() ** 2),
                                              FS),
                         LevelCrossingDecoder(np.sort(levels ** 3 / np.abs(levels).max() ** 2),
                                              FS, n)),
        "rate": (RateEncoder(x.min(), x.max(), FS, 90.0, random_state=5),
                 RateDecoder(x.min(), x.max(), FS, 90.0, n, window_s=0.2)),
        "threshold": (ThresholdEncoder(-1.0, 1.0, FS), ThresholdDecoder(-1.0, 1.0, FS, n)),
    }


def test_delta_decoding_is_the_tracked_level(rng):
    x = walk(rng)
    origin = x[:, 0]
    events = DeltaEncoder(0.5, FS, origin)(x)
    decoded = DeltaDecoder(0.5, FS, 3, origin)(events, x.shape[1])
    np.testing.assert_array_equal(decoded, tracked_by_loop(x, 0.5, origin))
    assert np.all(np.abs(decoded - x) < 0.5)


def test_delta_events_count_the_levels_crossed(rng):
    x = np.array([[0.0, 0.2, 1.7, 3.1, 3.0, 1.9, 1.95]])
    events = DeltaEncoder(1.0, FS)(x)
    assert sample_index(events, FS).tolist() == [2, 3, 3, 5]
    assert events["p"].tolist() == [UP, UP, UP, DOWN]
    assert events.dtype == EVENT_DTYPE


def test_events_are_ordered_by_time_then_channel(rng):
    events = DeltaEncoder(0.3, FS)(walk(rng))
    order = np.lexsort((events["x"], events["t"]))
    np.testing.assert_array_equal(order, np.arange(events.size))


def test_per_channel_thresholds(rng):
    x = walk(rng, channels=2)
    events = DeltaEncoder(np.array([0.5, 2.0]), FS)(x)
    counts = np.bincount(events["x"], minlength=2)
    assert counts[0] > 3 * counts[1]


def graded_by_loop(x, threshold, resolution, levels, origin):
    """The definition, one sample at a time: when the signal is a threshold or more from the
    level, move the level to it in whole units and say so in events of at most ``levels``
    units each, the remainder first."""
    level = np.zeros(x.shape[0], np.int64)
    out = np.empty_like(x)
    events = []
    for t in range(x.shape[1]):
        for c in range(x.shape[0]):
            error = x[c, t] - (origin[c] + resolution * level[c])
            if abs(error) >= threshold:
                units = int(np.floor(abs(error) / resolution + 0.5))
                level[c] += units if error > 0 else -units
                count = -(-units // levels)
                sizes = [units - (count - 1) * levels] + [levels] * (count - 1)
                events += [(t, c * levels + k - 1, UP if error > 0 else DOWN) for k in sizes]
        out[:, t] = origin + resolution * level
    return out, events


def test_graded_is_the_tracker_by_loop(rng):
    x = walk(rng, samples=3000)
    origin = x[:, 0] + 0.1
    encoder = GradedDeltaEncoder(0.4, FS, 0.15, levels=4, origin=origin)
    events = encoder(x)
    decoded = GradedDeltaDecoder(0.4, FS, 3, 0.15, levels=4, origin=origin)(events,
                                                                            x.shape[1])
    expected, by_loop = graded_by_loop(x, 0.4, 0.15, 4, origin)
    assert list(zip(sample_index(events, FS).tolist(), events["x"].tolist(),
                    events["p"].tolist(), strict=True)) == by_loop
    # Bit-identical: the decoder evaluates the encoder's own expression for the level.
    np.testing.assert_array_equal(decoded, expected)
    assert np.all(np.abs(decoded - x) <= 0.4)


def test_graded_events_carry_the_step_in_the_address():
    x = np.array([[0.0, 0.2, 1.7, 3.1, 3.0, 1.9, 1.95]])
    events = GradedDeltaEncoder(1.0, FS, 0.5, levels=2)(x)
    # 1.7 is 3 units of 0.5: 1 + 2 (address 0, then 1); 3.1 from 1.5: 3 units; 1.9 from 3.0:
    # 2 units down.
    assert sample_index(events, FS).tolist() == [2, 2, 3, 3, 5]
    assert events["x"].tolist() == [0, 1, 0, 1, 1]
    assert events["p"].tolist() == [UP, UP, UP, UP, DOWN]
    decoded = GradedDeltaDecoder(1.0, FS, 1, 0.5, levels=2)(events, x.shape[1])
    np.testing.assert_array_equal(decoded, [[0.0, 0.0, 1.5, 3.0, 3.0, 2.0, 2.0]])


def test_graded_refuses_a_coarse_unit_and_too_many_addresses(rng):
    with pytest.raises(ValueError, match="resolution must lie in"):
        GradedDeltaEncoder(0.5, FS, 1.5)
    with pytest.raises(ValueError, match="16-bit address space"):
        GradedDeltaEncoder(0.5, FS, levels=4096)(walk(rng, channels=17, samples=10))


def test_level_crossing_addresses_are_channel_and_level(rng):
    x = walk(rng, channels=2)
    levels = np.linspace(x.min(), x.max(), 10)
    events = LevelCrossingEncoder(levels, FS)(x)
    channel, level = np.divmod(events["x"], 10)
    assert set(channel.tolist()) == {0, 1}
    decoded = LevelCrossingDecoder(levels, FS, 2)(events, x.shape[1])
    # Within the ladder the decoded level is one of the two around the signal.
    assert np.all(np.abs(decoded - x)[:, 200:] <= levels[1] - levels[0] + 1e-12)
    assert level.max() <= 9


def test_rate_coding_rate_matches_the_probability(rng):
    x = np.full((2, 200_000), 0.25)
    x[1] = 0.75
    events = RateEncoder(0.0, 1.0, FS, 100.0, random_state=1)(x)
    rate = np.bincount(events["x"], minlength=2) / x.shape[1] * FS
    np.testing.assert_allclose(rate, [25.0, 75.0], rtol=0.03)


def test_threshold_coding_is_a_schmitt_trigger():
    x = np.array([[0.0, 0.9, 1.0, 0.0, -0.9, 1.2, -1.0, -2.0]])
    events = ThresholdEncoder(-1.0, 1.0, FS)(x)
    assert sample_index(events, FS).tolist() == [2, 6]
    assert events["p"].tolist() == [UP, DOWN]


@pytest.mark.parametrize("name", ["delta", "graded", "graded-split", "level", "level-uneven",
                                  "rate", "threshold"])
def test_streaming_equals_batch(rng, random_chunks, name):
    x = walk(rng)
    encoder, decoder = codecs(x)[name]
    whole = encoder(x)
    decoded = decoder(whole, x.shape[1])
    encoder.reset()
    decoder.reset()
    chunks = random_chunks(x, rng)
    parts = [encoder(c) for c in chunks]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    streamed = [decoder(p, c.shape[1]) for p, c in zip(parts, chunks, strict=True)]
    np.testing.assert_array_equal(np.concatenate(streamed, axis=1), decoded)


def test_streams_refuse_nan_and_a_changed_channel_count(rng):
    encoder = DeltaEncoder(0.5, FS)
    encoder(walk(rng, channels=2, samples=10))
    with pytest.raises(ValueError, match="3 channels"):
        encoder(walk(rng, channels=3, samples=10))
    x = walk(rng, channels=2, samples=10)
    x[1, 4] = np.nan
    with pytest.raises(ValueError, match="channel 1, sample 4"):
        DeltaEncoder(0.5, FS)(x)


def test_decoder_refuses_events_outside_its_chunk(rng):
    events = DeltaEncoder(0.5, FS)(walk(rng, channels=1, samples=500))
    with pytest.raises(ValueError, match="outside this chunk"):
        DeltaDecoder(0.5, FS, 1)(events, 100)


def coded(x, encoder, decoder, threshold):
    events = encoder(threshold, FS, origin=x[:, 0])(x)
    decoded = decoder(threshold, FS, x.shape[0], origin=x[:, 0])(events, x.shape[1])
    return events.size / x.size, reconstruction_snr_db(x, decoded)


def test_delta_on_mitdb_ecg_trades_rate_for_snr(sample_dir):
    """MIT-BIH 100 (shipped 2 min, both leads): the figures docs/sensors.md reports.

    30 dB needs a 10 µV step and then 1.5 events per sample (the record's own noise
    crosses levels); at 20 % of the sample rate the step is 55 µV and the SNR 16 dB.
    """
    x = load("mitdb:100", sample_dir).signal
    rate, snr = coded(x, DeltaEncoder, DeltaDecoder, 0.010)
    assert snr >= 30.0 and rate > 1.0
    rate, snr = coded(x, DeltaEncoder, DeltaDecoder, 0.055)
    assert rate <= 0.20 and 16.0 <= snr < 30.0


def test_graded_delta_on_mitdb_ecg(sample_dir):
    """Shipped 2 min of MIT-BIH 100 and 208, both leads: the figures docs/sensors.md reports.

    At <= 0.2 events per sample graded delta gives 24 dB on 100 (plain delta 16 dB) and
    24.5 dB on 208; 30 dB takes 0.42 (100) and 0.32 (208) events per sample. Neither record
    reaches 30 dB at 0.2: docs/sensors.md gives the bound (broadband noise of about one ADC
    step, which no decoder that holds a level between events can follow).
    """
    x = load("mitdb:100", sample_dir).signal
    rate, snr = coded(x, GradedDeltaEncoder, GradedDeltaDecoder, 0.022)
    assert rate <= 0.20 and 23.5 <= snr < 30.0
    rate, delta_snr = coded(x, DeltaEncoder, DeltaDecoder, 0.055)
    assert rate <= 0.20 and delta_snr < snr - 7.0
    rate, snr = coded(x, GradedDeltaEncoder, GradedDeltaDecoder, 0.011)
    assert snr >= 30.0 and rate <= 0.43
    x = load("mitdb:208", sample_dir).signal
    rate, snr = coded(x, GradedDeltaEncoder, GradedDeltaDecoder, 0.052)
    assert rate <= 0.20 and 24.0 <= snr < 30.0
    rate, snr = coded(x, GradedDeltaEncoder, GradedDeltaDecoder, 0.028)
    assert snr >= 30.0 and rate <= 0.33


def test_graded_delta_on_full_mitdb_records(full_data):
    """Whole records 100 and 208 (30 min, both leads) with the dead bands that give 0.2
    events per sample: the per-record table of docs/benchmarks.md."""
    for record, threshold, low in (("100", 0.0219, 24.5), ("208", 0.0475, 25.4)):
        x = load(f"mitdb:{record}", full_data / "mitdb").signal
        rate, snr = coded(x, GradedDeltaEncoder, GradedDeltaDecoder, threshold)
        assert rate <= 0.20 and low <= snr < 30.0, (record, rate, snr)


@pytest.mark.parametrize("name", ["delta", "graded", "graded-split", "level", "rate",
                                  "threshold"])
def test_long_inputs_cross_internal_blocks_unchanged(rng, random_chunks, name):
    x = walk(rng, channels=2, samples=50_000, step=0.05)
    encoder, _ = codecs(x)[name]
    whole = encoder(x)
    encoder.reset()
    parts = [encoder(c) for c in random_chunks(x, rng, pieces=3)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
