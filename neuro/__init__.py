"""Spiking networks: specification, quantisation, NIR files and backends."""

from neuro.backends import RunConfig, run
from neuro.network import FixedLayer, FixedNetwork, FloatLayer, FloatNetwork, NetworkError
from neuro.nir_io import read_network, write_network
from neuro.quantise import quantise
from neuro.record import InputError, Record

__all__ = [
    "FixedLayer",
    "FixedNetwork",
    "FloatLayer",
    "FloatNetwork",
    "InputError",
    "NetworkError",
    "Record",
    "RunConfig",
    "quantise",
    "read_network",
    "run",
    "write_network",
]
