"""An in-memory Kubernetes apiserver (FakeCluster) behind kubectl-fed's own client, and a
federation of them (FakeFederation): whole sync passes as unit tests, in milliseconds."""

from tests.fake.cluster import FakeCluster, FakeTransport
from tests.fake.federation import FakeFederation, run_pass

__all__ = ["FakeCluster", "FakeFederation", "FakeTransport", "run_pass"]
