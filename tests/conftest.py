"""Shared fixtures: ``fake_cluster``, a fresh :class:`~sim_arena_gym.testing.fake_cluster.FakeCluster`
(a Kubernetes API server with SimKube on 127.0.0.1) per test, shut down afterwards."""

from __future__ import annotations

from typing import Iterator

import pytest


@pytest.fixture
def fake_cluster() -> Iterator["object"]:
    from sim_arena_gym.testing.fake_cluster import FakeCluster

    with FakeCluster() as cluster:
        yield cluster
