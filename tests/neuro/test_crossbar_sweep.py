"""Monte Carlo sweeps of a trained network's accuracy against device variability, on Dask."""

import subprocess
import sys
import time

import numpy as np
import pytest

from neuro import run
from neuro.crossbar_presets import PresetError
from neuro.crossbar_sweep import accuracy, rate_task, sweep

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def task():
    task = rate_task(random_state=1)
    assert accuracy(run(task.network, task.spikes).spikes[-1], task.labels) >= 0.95
    return task


def test_sweep_runs_on_a_local_cluster_and_writes_its_plot(task, tmp_path):
    result = sweep(task.network, task.spikes, task.labels, {"variability": [0.0, 1.0, 12.0]},
                   device="hfox", instances=3, n_workers=2, processes=False,
                   plot=tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert len(result.rows) == 9 and result.workers and result.scheduler
    summary = {row["variability"]: row for row in result.summary()}
    # Without spreads only levels, ADC, IR drop and the random stuck-at faults remain.
    assert summary[0.0]["mean"] >= 0.95
    # Twelve times the published spreads costs accuracy, differently per instance.
    assert summary[12.0]["mean"] < summary[0.0]["mean"]
    assert summary[12.0]["std"] > 0


def test_same_seed_same_sweep_and_instances_differ(task):
    kwargs = dict(vary={"variability": [6.0]}, device="hfox", instances=3, processes=False,
                  n_workers=1, progress=False)
    a = sweep(task.network, task.spikes, task.labels, **kwargs)
    b = sweep(task.network, task.spikes, task.labels, **kwargs)
    assert [r["accuracy"] for r in a.rows] == [r["accuracy"] for r in b.rows]
    assert len({r["seed"] for r in a.rows}) == 3


def test_sweep_uses_the_cluster_at_a_scheduler_address(task, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        result = sweep(task.network, task.spikes, task.labels,
                       {"variability": [0.0, 4.0], "t_inference": [1.0, 1e6]}, device="pcm",
                       instances=2, scheduler=cluster.scheduler_address, progress=False,
                       plot=tmp_path / "drift.png")
        assert result.scheduler == cluster.scheduler_address
        assert result.workers == set(cluster.scheduler.workers)
        assert len(result.rows) == 8
    assert (tmp_path / "drift.png").exists()


@pytest.mark.parametrize(("vary", "message"), [
    ({"no_such": [1]}, "unknown parameter 'no_such'"),
    ({"stuck_on": [2.0]}, "stuck_on must be a fraction"),
    ({"periphery.tile_rows": [4096]}, "tile_rows must be an integer in"),
    ({"variability": []}, "needs at least one value"),
])
def test_bad_sweeps_name_the_parameter_before_starting_a_cluster(task, vary, message):
    with pytest.raises(PresetError, match=message):
        sweep(task.network, task.spikes, task.labels, vary, scheduler="tcp://0.0.0.0:1")


@pytest.mark.slow
def test_sweep_on_an_external_scheduler_and_worker_processes(task, tmp_path):
    """The `dask scheduler` and `dask worker` commands, as a user would start them."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0",
                               "--dashboard-address", ":0", "--scheduler-file",
                               str(scheduler_file)], stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
             str(scheduler_file), "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
            stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout=120) as client:
            client.wait_for_workers(1, timeout=120)
            address = client.scheduler_info()["address"]
        result = sweep(task.network, task.spikes, task.labels, {"variability": [0.0, 8.0]},
                       instances=2, scheduler=address, progress=False)
        assert result.scheduler == address
        assert all(w.startswith("tcp://127.0.0.1") for w in result.workers)
        assert np.isfinite([r["accuracy"] for r in result.rows]).all()
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.slow
def test_default_local_cluster_uses_worker_processes(task, tmp_path):
    result = sweep(task.network, task.spikes, task.labels, {"variability": [0.0, 8.0]},
                   instances=2, n_workers=2, plot=tmp_path / "p.png")
    assert all(w.startswith("tcp://") for w in result.workers)
    assert (tmp_path / "p.png").exists()
