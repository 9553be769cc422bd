"""``meanfield sweep``: the grid flags, a JSON configuration file, the store, JSON output and errors.

The numbers printed are those of meanfield.simulate.sweep for the same arguments (its own tests check
them against independent routes); here the command's plumbing is checked against that function.
"""
import concurrent.futures as cf
import json

import pytest

from meanfield import simulate as sim

from .cli_helpers import assert_one_line_error, run, strict_json

GRID = ["--activation", "tanh", "relu", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--depth", "3", "--width", "8"]


def test_grid_text_output(capsys):
    code, out, err = run(capsys, "sweep", *GRID, "--networks", "4", "--seed", "3", "--workers", "1")
    assert code == 0, err
    assert out.startswith("sweep of 'jacobian', seed 3, 4 networks per configuration")
    assert "mean_lambda (theory)" in out and "networks/s" in out
    assert len([line for line in out.splitlines() if line.split()[:2] in (["0", "tanh"], ["1", "relu"])]) == 2


def test_grid_csv_is_the_statistics_table(capsys):
    import csv
    import io

    code, out, err = run(capsys, "sweep", *GRID, "--networks", "1", "--seed", "3", "--workers", "1", "--csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    with cf.ThreadPoolExecutor(1) as ex:
        direct = sim.sweep(sim.grid(activation=["tanh", "relu"], sigma_w2=1.5, sigma_b2=0.05, depth=3, width=8),
                           "jacobian", 1, 3, executor=ex).statistics()
    assert list(rows[0]) == list(direct) and [r["activation"] for r in rows] == ["tanh", "relu"]
    assert [float(r["mean_lambda"]) for r in rows] == list(direct.mean_lambda)
    assert rows[0]["mean_lambda_se"] == ""  # one network: no standard error (an empty cell, not "nan")


def test_config_file_json_output_store_and_failed_configurations(capsys, tmp_path):
    configs = [dict(activation="tanh", sigma_w2=1.2, sigma_b2=0.1, depth=2, width=6, c0=0.5),
               dict(activation="tanh", sigma_w2=-1, sigma_b2=0.1, depth=2, width=6)]
    path = tmp_path / "configs.json"
    path.write_text(json.dumps({"configs": configs}))
    store = tmp_path / "store"
    argv = ["sweep", "--config", str(path), "--quantity", "signal", "--networks", "5", "--seed", "9",
            "--store", str(store), "--chunk-size", "2", "--workers", "1", "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 1  # a configuration failed
    payload = strict_json(out)
    assert payload["command"] == "sweep" and payload["quantity"] == "signal"
    assert "sigma_w2" in payload["errors"]["1"] and payload["statistics"][1]["status"] == payload["errors"]["1"]
    with cf.ThreadPoolExecutor(1) as ex:
        direct = sim.sweep(configs[:1], "signal", 5, 9, executor=ex).statistics()
    row = payload["statistics"][0]
    assert row["status"] == "ok" and row["q"] == direct.q[0] and row["c"] == direct.c[0] and row["q_se"] == direct.q_se[0]
    assert (store / "manifest.json").exists() and len(list(store.glob("c00000_*.npz"))) == 3
    assert "standard error" in payload["undefined"]["statistics[1].q"]  # the failed configuration: null + reason
    assert payload["statistics"][1]["q"] is None
    code, out, _ = run(capsys, *argv[:-1])  # resumed: nothing left to sample
    assert code == 1 and "0 networks sampled" in out and "5 read from the store" in out


def test_dask_scheduler(capsys):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        code, out, err = run(capsys, "sweep", *GRID, "--networks", "3", "--seed", "3", "--json",
                             "--scheduler", cluster.scheduler_address)
    assert code == 0, err
    payload = strict_json(out)
    with cf.ThreadPoolExecutor(1) as ex:
        direct = sim.sweep(sim.grid(activation=["tanh", "relu"], sigma_w2=1.5, sigma_b2=0.05, depth=3, width=8),
                           "jacobian", 3, 3, executor=ex).statistics()
    assert [row["mean_lambda"] for row in payload["statistics"]] == list(direct.mean_lambda)


@pytest.mark.parametrize("argv, fragment", [
    (["sweep", "--networks", "2"], "--config FILE.json or the grid flags"),
    (["sweep", "--config", "x.json", "--activation", "tanh"], "--config FILE.json or the grid flags"),
    (["sweep", "--config", "/nonexistent/x.json"], "cannot read"),
    (["sweep", *GRID, "--networks", "0"], "n_networks"),
    (["sweep", *GRID, "--workers", "0"], "workers"),
])
def test_bad_arguments(capsys, argv, fragment):
    assert_one_line_error(*run(capsys, *argv), fragment)
