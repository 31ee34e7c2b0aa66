"""Test tooling shipped with the package: :mod:`~sim_arena_gym.testing.fake_cluster`, a Kubernetes API
server with SimKube's controller and driver emulated on the embedded simulator."""
