"""The event dtype, its file and the raster that neuro takes."""

import numpy as np
import pytest

from sensors.events import (
    DOWN,
    EVENT_DTYPE,
    UP,
    load_events,
    make_events,
    sample_index,
    sample_times_us,
    save_events,
    to_raster,
)


def test_dtype_is_tonic_style_t_x_p():
    assert EVENT_DTYPE.names == ("t", "x", "p")
    assert EVENT_DTYPE["t"] == np.int64


@pytest.mark.parametrize("fs", [125.0, 360.0, 500.0, 16000.0])
def test_sample_index_inverts_timestamps(fs):
    idx = np.arange(0, 10_000_000, 997)
    events = make_events(sample_times_us(idx, fs), np.zeros_like(idx), np.full(idx.size, UP))
    np.testing.assert_array_equal(sample_index(events, fs), idx)


def test_make_events_refuses_bad_addresses_and_shapes():
    with pytest.raises(ValueError, match="addresses"):
        make_events(np.array([0]), np.array([70000]), np.array([UP]))
    with pytest.raises(ValueError, match="one length"):
        make_events(np.array([0, 1]), np.array([0]), np.array([UP]))


def test_file_round_trip_keeps_one_structured_array(tmp_path):
    events = make_events(np.array([0, 2778, 2778]), np.array([1, 0, 1]),
                         np.array([UP, DOWN, UP]))
    save_events(tmp_path / "ev.npz", events, fs_hz=360.0, encoder="delta")
    with np.load(tmp_path / "ev.npz") as data:
        structured = [k for k in data.files if data[k].dtype.names]
    assert structured == ["events"]
    back, meta = load_events(tmp_path / "ev.npz")
    np.testing.assert_array_equal(back, events)
    assert float(meta["fs_hz"]) == 360.0 and str(meta["encoder"]) == "delta"


def test_load_names_the_file_when_events_are_missing(tmp_path):
    np.savez(tmp_path / "bad.npz", spikes=np.zeros(3))
    with pytest.raises(ValueError, match=r"bad\.npz.*no array named 'events'"):
        load_events(tmp_path / "bad.npz")


def test_load_names_a_truncated_file(tmp_path):
    events = make_events(np.arange(0, 9000, 30), np.arange(300) % 2, np.full(300, UP))
    save_events(tmp_path / "ev.npz", events, fs_hz=360.0)
    (tmp_path / "ev.npz").write_bytes((tmp_path / "ev.npz").read_bytes()[:200])
    with pytest.raises(OSError, match=r"ev\.npz: cannot read event file"):
        load_events(tmp_path / "ev.npz")


def test_raster_puts_up_and_down_in_their_columns():
    fs = 100.0
    events = make_events(sample_times_us(np.array([1, 1, 1, 3]), fs), np.array([0, 0, 1, 1]),
                         np.array([UP, UP, DOWN, UP]))
    counts = to_raster(events, fs, 5, 2, binary=False)
    assert counts.shape == (5, 4)
    assert counts[1].tolist() == [2, 0, 0, 1] and counts[3].tolist() == [0, 0, 1, 0]
    assert to_raster(events, fs, 5, 2)[1].tolist() == [1, 0, 0, 1]


def test_raster_refuses_events_outside_the_window():
    events = make_events(sample_times_us(np.array([7]), 100.0), np.array([0]), np.array([UP]))
    with pytest.raises(ValueError, match="outside"):
        to_raster(events, 100.0, 5, 1)
