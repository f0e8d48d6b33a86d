"""The host: twin service, reports and the ``neurotwin`` command."""
