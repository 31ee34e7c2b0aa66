"""The scheduler's pod request (k8s-scheduling-rules.md section 2; checklist 4, 6, 7, 8) and parsing."""

from __future__ import annotations

import pytest

from sim_arena_gym.sim.objects import ContainerSpec, PodRequest
from sim_arena_gym.sim.parse import ObjectParser
from sim_arena_gym.sim.requests import (
    DEFAULT_CPU_MILLIS,
    DEFAULT_MEMORY_BYTES,
    nano_units,
    pod_request,
)
from sim_arena_gym.trace.builders import container, deployment, pod_spec
from sim_arena_gym.trace.errors import QuantityFieldError, WorkloadError

GI = 1024**3


def c(name: str = "c", *, sidecar: bool = False, limits: dict | None = None, **requests: str) -> ContainerSpec:
    """A container with exact (nano-unit) requests given as quantity texts (``ephemeral_storage``
    stands for ``ephemeral-storage``)."""
    reqs = {k.replace("_", "-"): nano_units(v) for k, v in requests.items()}
    lims = {k: nano_units(v) for k, v in (limits or {}).items()}
    return ContainerSpec(name, reqs, lims, sidecar)


class TestNanoUnits:
    def test_exact_values(self) -> None:
        assert nano_units("1") == 10**9
        assert nano_units("0.5m") == 500_000
        assert nano_units("1Gi") == GI * 10**9
        assert nano_units(" 250m ") == 250_000_000  # trace input: outer whitespace trimmed
        assert nano_units(2) == 2 * 10**9

    def test_rejects_non_quantities(self) -> None:
        from sim_arena_gym.quantity import QuantityError

        with pytest.raises(QuantityError):
            nano_units("1K")
        with pytest.raises(QuantityError):
            nano_units(True)


class TestRounding:
    """Checklist 4: exact sums, rounded once per pod."""

    def test_two_half_millicores_cost_one_millicore(self) -> None:
        r = pod_request([c("a", cpu="0.5m"), c("b", cpu="0.5m")])
        assert r.cpu_millis == 1

    def test_half_bytes_sum_to_one_byte(self) -> None:
        r = pod_request([c("a", memory="0.5"), c("b", memory="0.5")])
        assert r.memory_bytes == 1

    def test_sub_millicore_rounds_up(self) -> None:
        assert pod_request([c(cpu="0.1m")]).cpu_millis == 1
        assert pod_request([c(cpu="1.5m")]).cpu_millis == 2
        assert pod_request([c(memory="1.1Ki")]).memory_bytes == 1127

    def test_plain_values(self) -> None:
        r = pod_request([c(cpu="500m", memory="256Mi"), c(cpu="1", memory="1Gi")])
        assert (r.cpu_millis, r.memory_bytes) == (1500, 256 * 1024**2 + GI)


class TestInitAndSidecars:
    """Checklist 7 with the spec's worked examples (section 2.1)."""

    def test_sidecar_worked_example_600m(self) -> None:
        inits = [c("s1", cpu="100m", sidecar=True), c("i1", cpu="500m"), c("s2", cpu="200m", sidecar=True)]
        r = pod_request([c("c1", cpu="300m")], inits)
        assert r.cpu_millis == 600

    def test_classic_init_example_3cpu_3g(self) -> None:
        inits = [c("i1", cpu="2", memory="1G"), c("i2", cpu="2", memory="3G")]
        r = pod_request([c("c1", cpu="2", memory="1G"), c("c2", cpu="1", memory="1G")], inits)
        assert (r.cpu_millis, r.memory_bytes) == (3000, 3 * 10**9)

    def test_init_larger_than_containers_wins(self) -> None:
        r = pod_request([c(cpu="100m")], [c("init", cpu="2")])
        assert r.cpu_millis == 2000

    def test_sidecars_before_an_init_container_add_to_it(self) -> None:
        inits = [c("s1", cpu="1", sidecar=True), c("i1", cpu="3")]
        assert pod_request([c(cpu="100m")], inits).cpu_millis == 4000  # 3 + 1 > 1.1

    def test_sidecar_after_init_does_not(self) -> None:
        inits = [c("i1", cpu="3"), c("s1", cpu="1", sidecar=True)]
        assert pod_request([c(cpu="100m")], inits).cpu_millis == 3000


class TestPodLevelAndOverhead:
    def test_pod_level_replaces_aggregate(self) -> None:
        r = pod_request([c(cpu="1", memory="1Gi")], pod_resources={"cpu": nano_units("3")})
        assert (r.cpu_millis, r.memory_bytes) == (3000, GI)

    def test_overhead_is_added_last(self) -> None:
        r = pod_request([c(cpu="1")], overhead={"cpu": nano_units("250m"), "memory": nano_units("120Mi")})
        assert (r.cpu_millis, r.memory_bytes) == (1250, 120 * 1024**2)

    def test_extended_resources_are_scalar(self) -> None:
        r = pod_request([c(cpu="1", limits={"nvidia.com/gpu": "1"}), c("b", hugepages_2Mi="4Mi")])
        assert r.scalar == (("hugepages-2Mi", 4 * 1024**2), ("nvidia.com/gpu", 1))

    def test_ephemeral_storage(self) -> None:
        assert pod_request([c(ephemeral_storage="1Gi")]).ephemeral_bytes == GI


class TestDefaulting:
    """Checklist 6 (limits-only defaulting) and 8 (scoring defaults, zero stays zero)."""

    def test_limits_only_become_requests(self) -> None:
        r = pod_request([c(limits={"cpu": "2", "memory": "1Gi"})])
        assert (r.cpu_millis, r.memory_bytes) == (2000, GI)

    def test_limit_fills_only_missing_keys(self) -> None:
        r = pod_request([c(cpu="500m", limits={"cpu": "2", "memory": "1Gi"})])
        assert (r.cpu_millis, r.memory_bytes) == (500, GI)

    def test_zero_stays_zero_for_fit_and_scoring(self) -> None:
        r = pod_request([c(cpu="0", memory="0")])
        assert r == PodRequest(0, 0, 0, (), 0, 0, False)
        assert r.is_zero

    def test_missing_keys_get_scoring_defaults_only(self) -> None:
        r = pod_request([c(), c("b", cpu="1")])
        assert (r.cpu_millis, r.memory_bytes) == (1000, 0)
        assert r.nonzero_cpu_millis == 1000 + DEFAULT_CPU_MILLIS
        assert r.nonzero_memory_bytes == 2 * DEFAULT_MEMORY_BYTES == 2 * 209_715_200

    def test_best_effort(self) -> None:
        assert pod_request([c()]).best_effort
        assert not pod_request([c(limits={"memory": "1Gi"})]).best_effort
        assert not pod_request([c(cpu="0")]).best_effort

    def test_fast_and_general_paths_agree(self) -> None:
        containers = [c("a", cpu="333m", memory="100Mi"), c("b", limits={"cpu": "1"}), c("c")]
        fast = pod_request(containers)
        general = pod_request(containers, overhead={"cpu": 0})
        assert fast == general


class TestParse:
    def _parse(self, spec: dict):
        return ObjectParser().parse_object(deployment("web", spec, replicas=3)).spec

    def test_template_defaulting_applies_to_pods(self) -> None:
        spec = self._parse(pod_spec([container("app", limit_cpu="2", limit_memory="1Gi")]))
        req = spec.template.spec.request
        assert (req.cpu_millis, req.memory_bytes) == (2000, GI)

    def test_deployment_defaults(self) -> None:
        obj = deployment("web", pod_spec([container("app", cpu="1")]))
        del obj["spec"]["strategy"], obj["spec"]["progressDeadlineSeconds"], obj["spec"]["replicas"]
        spec = ObjectParser().parse_object(obj).spec
        assert (spec.replicas, spec.strategy, spec.max_surge, spec.max_unavailable) == (1, "RollingUpdate", "25%", "25%")
        assert spec.progress_deadline_seconds == 600

    def test_request_above_limit_is_rejected(self) -> None:
        with pytest.raises(QuantityFieldError, match="must be less than or equal to cpu limit of 1"):
            self._parse(pod_spec([container("app", cpu="2", limit_cpu="1")]))

    def test_negative_request_is_rejected(self) -> None:
        with pytest.raises(QuantityFieldError, match="greater than or equal to 0"):
            self._parse(pod_spec([container("app", cpu="-1")]))

    def test_bad_quantity_names_the_object(self) -> None:
        with pytest.raises(QuantityFieldError) as info:
            self._parse(pod_spec([container("app", cpu="1K")]))
        assert "Deployment default/web" in str(info.value)

    def test_missing_containers(self) -> None:
        obj = deployment("web", pod_spec([container("app")]))
        obj["spec"]["template"]["spec"]["containers"] = []
        with pytest.raises(WorkloadError):
            ObjectParser().parse_object(obj)

    def test_unmodelled_and_daemonset_owned_objects_are_ignored(self) -> None:
        parser = ObjectParser()
        assert parser.parse_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}) is None
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ds-pod", "namespace": "kube-system", "ownerReferences": [{"kind": "DaemonSet", "name": "ds"}]},
            "spec": pod_spec([container("app")]),
        }
        assert parser.parse_object(pod) is None

    def test_identity_cache_reparses_only_edited_dicts(self) -> None:
        from sim_arena_gym.trace.builders import build_trace
        from sim_arena_gym.trace.workloads import edit_workload

        parser = ObjectParser()
        trace = build_trace([(1, [deployment("web", pod_spec([container("app", cpu="1")])),
                                  deployment("db", pod_spec([container("db", cpu="1")]))], [])])
        first = [parser.parse_object(o) for o in trace.events[0].applied_objs]
        size = parser.size
        edited = edit_workload(trace, "default/web", requests={"app": {"cpu": "2"}})
        second = [parser.parse_object(o) for o in edited.events[0].applied_objs]
        assert second[1] is first[1]  # the untouched Deployment is not parsed again
        assert second[0] is not first[0]
        assert second[0].spec.template.spec.request.cpu_millis == 2000
        # The edited Deployment: object, template, pod spec, container list, container, requests.
        assert parser.size - size <= 6
        assert second[0].spec.template.spec.constraints is first[0].spec.template.spec.constraints
