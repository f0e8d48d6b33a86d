"""The ``brian2`` backend: the network's floating-point dynamics in Brian2.

Each layer is a NeuronGroup whose state update is the float reading of the contract
(:meth:`FixedNetwork.to_float`, in the same state units): ``u <- u (1 - du) + a``,
``v <- clip(v (1 - dv) + u + bias)``, spike when ``v > vth``, reset ``v = 0``. Synapses add their
weight to a buffer ``a`` that the next step consumes, which reproduces the one-step Dense delay
of Lava and the reference. A batch runs as independent copies inside one group.
Differences from the reference come only from rounding (see docs/fixed-point.md).
"""

from __future__ import annotations

import numpy as np

from neuro import fixed_point as fp
from neuro.network import FixedNetwork
from neuro.record import Record

_NEURON_MODEL = """
u : 1
v : 1
a : 1
du : 1 (constant)
dv : 1 (constant)
bias : 1 (constant)
vth : 1 (constant)
"""

# v saturates as in the contract; the current's wrap-around is an overflow artefact of the
# fixed-point word and has no floating-point counterpart.
_UPDATE = f"""
u = u * (1 - du) + a
a = 0
v = clip(v * (1 - dv) + u + bias, {fp.V_MIN}, {fp.V_MAX})
"""


def run(
    network: FixedNetwork, spikes: np.ndarray, target: str = "numpy", record: bool = True
) -> Record:
    """Run ``spikes`` (uint8 [batch, steps, inputs]) in Brian2.

    ``target`` is Brian2's code-generation target (``numpy`` or ``cython``). With
    ``record=False`` only spikes are recorded (for speed measurements); u and v come back empty.
    """
    import brian2 as b2

    b2.prefs.codegen.target = target
    b2.start_scope()
    batch, steps, n_in = spikes.shape
    dt = network.dt * b2.second
    b, t, i = np.nonzero(spikes)
    source = b2.SpikeGeneratorGroup(
        batch * n_in, indices=b * n_in + i, times=t * dt, dt=dt, name="input"
    )
    objects: list = [source]
    groups, monitors = [], []
    pre, n_pre = source, n_in
    for k, layer in enumerate(network.to_float().layers):
        n = layer.n_neurons
        group = b2.NeuronGroup(
            batch * n, _NEURON_MODEL, threshold="v > vth", reset="v = 0", dt=dt,
            name=f"layer_{k}",
        )
        group.du, group.dv, group.vth = layer.du, layer.dv, layer.vth
        group.bias = np.tile(layer.bias, batch)
        group.run_regularly(_UPDATE, dt=dt, when="groups")
        post_idx, pre_idx = np.nonzero(layer.weights)
        syn = b2.Synapses(pre, group, "w : 1", on_pre="a_post += w", dt=dt, name=f"dense_{k}")
        offsets = np.arange(batch)[:, None]
        syn.connect(
            i=(offsets * n_pre + pre_idx).ravel(), j=(offsets * n + post_idx).ravel()
        )
        syn.w = np.tile(layer.weights[post_idx, pre_idx], batch)
        spike_mon = b2.SpikeMonitor(group, name=f"spikes_{k}")
        objects += [group, syn, spike_mon]
        state_mon = None
        if record:
            # Recorded at the end of each step, after reset, as Lava's probes read state.
            state_mon = b2.StateMonitor(group, ["u", "v"], record=True, when="end",
                                        name=f"state_{k}")
            objects.append(state_mon)
        groups.append(group)
        monitors.append((spike_mon, state_mon, n))
        pre, n_pre = group, n
    net = b2.Network(*objects)
    net.run(steps * dt)
    out_s, out_u, out_v = [], [], []
    for spike_mon, state_mon, n in monitors:
        s = np.zeros((batch, steps, n), np.uint8)
        idx = np.asarray(spike_mon.i)
        step = np.round(np.asarray(spike_mon.t / dt)).astype(int)
        s[idx // n, step, idx % n] = 1
        out_s.append(s)
        if state_mon is None:
            out_u.append(np.zeros((batch, 0, n)))
            out_v.append(np.zeros((batch, 0, n)))
            continue
        for arr, out in ((state_mon.u, out_u), (state_mon.v, out_v)):
            out.append(np.asarray(arr).reshape(batch, n, steps).transpose(0, 2, 1))
    return Record(tuple(out_s), tuple(out_u), tuple(out_v))
