"""Sensor sources, artefacts, analog front ends and spike encoders: the body turned into events.

Modules: ``records`` (public recordings and their ground truth), ``physiology`` (signal
models), ``artefacts`` (motion, friction, wander, mains, EMG; SNR mixing), ``afe`` (front ends
and ADCs with datasheet presets), ``noise`` (seeded noise streams), ``encoders`` (delta,
graded delta, level-crossing, rate and threshold coding with decoders), ``events`` (the
address-event dtype and files), ``pipeline`` (all of it in one call) and ``plot``. See
docs/sensors.md.
"""
