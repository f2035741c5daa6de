"""``--engine ray --ray-address``: a real two-node Ray cluster on this machine
(``ray.cluster_utils.Cluster``, one CPU per node), reached the way a user reaches one — by its
address, probed first — gives the local engine's table, with one model's actor on each node."""
from __future__ import annotations

import pandas as pd
import pytest

from idia_core.audit.people_models import run_audit
from tests.audit.conftest import comparable, ray_leaves_no_trace

ray = pytest.importorskip("ray")


@pytest.fixture
def two_nodes():
    from ray.cluster_utils import Cluster

    with ray_leaves_no_trace():
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 100 * 2**20})
        try:
            cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20)
            cluster.wait_for_nodes()
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()


def test_two_nodes_give_the_local_table(two_nodes, local_audit, audit_people, tiny_spec, audit_settings, tmp_path):
    assert not ray.is_initialized()
    outcome = run_audit(audit_people, ["sandbox", tiny_spec], tmp_path / "out", audit_settings, engine="ray",
                        ray_address=two_nodes.address)
    assert outcome.counts == {"done": 8, "invalid": 0, "failed": 0, "skipped": 0}
    pd.testing.assert_frame_equal(comparable(outcome.table), comparable(local_audit.table))
    nodes = outcome.table.groupby("model")["node"].unique()
    assert all(len(n) == 1 for n in nodes) and len({n[0] for n in nodes}) == 2     # one model per node
    assert not ray.is_initialized()       # connected for the audit, disconnected after it
