"""``--engine ray`` on a real local Ray started by the tests (``num_cpus=2``): the same table as the
local engine, a killed worker retried to a complete table, nothing written twice, caption counts
as Ray tasks; and an address where no Ray answers refused within seconds."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from idia_core.audit.occurrences import count_occurrences
from idia_core.audit.people_models import run_audit
from idia_core.audit.ray_engine import actor_shape, probe_address
from idia_core.audit.results import PARTS_DIR
from idia_core.cli.main import main as cli_main
from idia_core.errors import IdiaInputError
from idia_core.sandbox.world import caption_counts, load_world
from tests.audit.conftest import comparable, ray_leaves_no_trace

ray = pytest.importorskip("ray")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def local_ray():
    with ray_leaves_no_trace():
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING",
                 object_store_memory=200 * 2**20)
        try:
            yield ray
        finally:
            ray.shutdown()


def _pid(row) -> int:
    return int(row["worker"].rsplit(":", 1)[1])


def test_ray_gives_the_local_table_and_a_rerun_writes_nothing(local_ray, local_audit, audit_people, tiny_spec,
                                                              audit_settings, tmp_path):
    out = tmp_path / "out"
    outcome = run_audit(audit_people, ["sandbox", tiny_spec], out, audit_settings, engine="ray")
    assert outcome.counts == {"done": 8, "invalid": 0, "failed": 0, "skipped": 0}
    pd.testing.assert_frame_equal(comparable(outcome.table), comparable(local_audit.table))
    # one actor per model, each in its own worker process (not this one)
    pids = outcome.table.groupby("model")["worker"].nunique()
    assert (pids == 1).all() and outcome.table["worker"].nunique() == 2
    assert os.getpid() not in {_pid(r) for r in outcome.table.to_dict("records")}
    parts = sorted(os.listdir(out / PARTS_DIR))
    again = run_audit(audit_people, ["sandbox", tiny_spec], out, audit_settings, engine="ray")
    assert again.counts == {"done": 0, "invalid": 0, "failed": 0, "skipped": 8}
    assert sorted(os.listdir(out / PARTS_DIR)) == parts
    assert ray.is_initialized()          # a Ray the caller started is used and left running


def test_a_killed_worker_is_retried_and_the_table_is_complete(local_ray, local_audit, audit_people, tiny_spec,
                                                              audit_settings, tmp_path):
    killed = []

    def kill_the_first_sandbox_worker(row):
        if not killed and row["model"] == "sandbox":
            killed.append(_pid(row))
            os.kill(killed[0], signal.SIGKILL)

    outcome = run_audit(audit_people, ["sandbox", tiny_spec], tmp_path / "out", audit_settings, engine="ray",
                        on_row=kill_the_first_sandbox_worker)
    assert killed
    assert outcome.counts == {"done": 8, "invalid": 0, "failed": 0, "skipped": 0}
    pd.testing.assert_frame_equal(comparable(outcome.table), comparable(local_audit.table))
    sandbox_pids = {_pid(r) for r in outcome.table.to_dict("records") if r["model"] == "sandbox"}
    assert killed[0] in sandbox_pids and len(sandbox_pids) == 2      # the restarted actor finished the rest


def test_caption_counts_as_ray_tasks(local_ray, tmp_path):
    world = load_world()
    from idia_core.sandbox.world import write_training_captions

    write_training_captions(world, tmp_path / "captions.parquet", row_group_size=1000)
    (tmp_path / "names.txt").write_text("".join(p.name + "\n" for p in world.people), encoding="utf-8")
    local = count_occurrences(tmp_path / "captions.parquet", tmp_path / "names.txt", tmp_path / "local.csv")
    spread = count_occurrences(tmp_path / "captions.parquet", tmp_path / "names.txt", tmp_path / "ray.csv",
                               engine="ray", chunk_rows=2000)
    assert spread.counts.counts == local.counts.counts and spread.counts.samples == local.counts.samples
    truth = caption_counts(world)
    assert [spread.counts.counts.get(i, 0) for i in range(len(world.people))] == [truth[p.name] for p in world.people]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_listens_is_refused_within_seconds(audit_people, tmp_path):
    """End to end, as a user runs it: no traceback, exit 2, a sentence that says what to do."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "idia_core", "audit", str(audit_people), "--models", "sandbox",
                           "--out", str(tmp_path / "out"), "--engine", "ray", "--ray-address",
                           f"127.0.0.1:{_closed_port()}"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "RAY_ADDRESS": ""})
    assert proc.returncode == 2, proc.stderr
    assert "No Ray cluster answers at 127.0.0.1:" in proc.stderr and "ray start --head" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 60            # the import of torch, not Ray's minutes of retries
    assert not (tmp_path / "out").exists()             # refused before the output folder is touched


def test_a_ray_address_alone_means_ray_and_beside_local_is_refused(audit_people, tmp_path, capsys):
    """--ray-address without --engine runs on that cluster (here: refused, nothing listens); with
    an explicit --engine local it would be ignored, so it is refused."""
    address = f"127.0.0.1:{_closed_port()}"
    args = ["audit", str(audit_people), "--models", "sandbox", "--out", str(tmp_path / "out"), "--ray-address", address]
    assert cli_main(args) == 2
    assert "No Ray cluster answers at" in capsys.readouterr().err
    assert cli_main(args + ["--engine", "local"]) == 2
    err = capsys.readouterr().err
    assert "names a Ray cluster, but --engine is local" in err and "--engine ray" in err
    assert not (tmp_path / "out").exists()


def test_an_address_that_is_not_a_ray_head_is_refused(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def speak_http():
            conn, _ = server.accept()
            with conn:
                conn.recv(64)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        threading.Thread(target=speak_http, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(IdiaInputError) as err:
            probe_address(f"127.0.0.1:{port}")
    assert err.value.code == "ray_unreachable" and "not a Ray head" in err.value.message
    assert time.monotonic() - started < 5
    with pytest.raises(IdiaInputError) as err:
        probe_address("no-port-here")
    assert err.value.code == "ray_address"


@pytest.mark.parametrize("node_cpus, gpus, actors, shape, fit", [
    ([2.0], 0, 1, {"num_cpus": 2}, 1),            # one model: all of this machine's cores
    ([2.0], 0, 2, {"num_cpus": 1}, 2),            # two models share them
    ([2.0], 0, 5, {"num_cpus": 1}, 2),            # more models than cores: waves of two
    ([1.0, 1.0], 0, 1, {"num_cpus": 1}, 2),       # never more than the largest node holds
    ([3.0, 1.0], 0, 2, {"num_cpus": 2}, 1),       # a share only one node can give: one at a time
    ([16.0], 4, 8, {"num_gpus": 1, "num_cpus": 1}, 4),   # a GPU per actor
])
def test_actor_shape(node_cpus, gpus, actors, shape, fit):
    assert actor_shape(node_cpus, gpus, actors) == (shape, fit)


def test_two_workers_of_one_model_share_its_people(local_ray, local_audit, audit_people, audit_settings, tmp_path):
    outcome = run_audit(audit_people, ["sandbox"], tmp_path / "out", audit_settings, engine="ray", workers=2)
    want = local_audit.table[local_audit.table["model"] == "sandbox"]
    pd.testing.assert_frame_equal(comparable(outcome.table), comparable(want))
    assert outcome.table["worker"].nunique() == 2
