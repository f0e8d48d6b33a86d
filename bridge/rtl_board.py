"""The host side of an RTL board: the Verilog core behind ``nt_link`` (docs/protocol.md).

A board whose Hello names it ``neurotwin-rtl`` runs the network as the core's configuration
(``neuro.rtl_compile``) rather than as a network file: the host reads the core's parameters,
compiles, and writes the words with CONFIG_WRITE packets of consecutive addresses. Its output
EVENTS carry the last layer's neuron indices, with steps counted from the RUN.
"""

from __future__ import annotations

import numpy as np

from bridge.protocol import MAX_PAYLOAD, ConfigRead, ConfigWrite
from neuro.rtl_compile import (
    REG_LANES,
    REG_N_INPUTS,
    REG_N_LAYERS,
    REG_N_NEURONS,
    CoreGeometry,
)

RTL_NAME = "neurotwin-rtl"
WORDS_PER_PACKET = (MAX_PAYLOAD - 4) // 4
PARAMETER_READ = ConfigRead(REG_N_NEURONS, 16)  # N_NEURONS, N_INPUTS, N_LAYERS, LANES


def is_rtl_board(name: str) -> bool:
    return name.startswith(RTL_NAME)


def geometry_from(words: np.ndarray) -> CoreGeometry:
    """The core's geometry from the words of :data:`PARAMETER_READ`."""
    assert REG_N_INPUTS == REG_N_NEURONS + 1 and REG_LANES == REG_N_LAYERS + 1
    return CoreGeometry(n_neurons=int(words[0]), n_inputs=int(words[1]),
                        n_layers=int(words[2]), lanes=int(words[3]), n_cores=1)


def config_packets(writes: np.ndarray) -> list[ConfigWrite]:
    """CONFIG_WRITE packets for (address, word) pairs, in order: runs of consecutive
    addresses, at most :data:`WORDS_PER_PACKET` words each."""
    writes = np.asarray(writes, np.uint32)
    if not len(writes):
        return []
    addresses = writes[:, 0].astype(np.int64)
    breaks = np.flatnonzero(np.diff(addresses) != 1) + 1
    packets = []
    for run in np.split(np.arange(len(writes)), breaks):
        for start in range(0, len(run), WORDS_PER_PACKET):
            part = run[start:start + WORDS_PER_PACKET]
            packets.append(ConfigWrite(int(addresses[part[0]]),
                                       writes[part, 1].astype("<u4").tobytes()))
    return packets


def words_of(data: bytes) -> np.ndarray:
    """The 32-bit words of CONFIG_DATA bytes."""
    return np.frombuffer(data, "<u4").astype(np.uint32)
