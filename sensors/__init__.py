"""Sensor sources, analog front ends and spike encoders: the body turned into events."""
