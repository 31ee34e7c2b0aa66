"""Cluster operations for the simkube backend: :mod:`.preflight` (is the cluster ready) and :mod:`.clean`
(remove what runs left)."""
