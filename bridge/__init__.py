"""The bridge: wire protocol and transports between edge and host."""
