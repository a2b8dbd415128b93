"""`handgrad bench --quick`: the harness runs end to end and writes its JSON (no timing
assertions: speed is shown by the benchmark itself, never by a timed unit test)."""

import json

from handgrad import bench
from handgrad.cli import main


def test_bench_quick_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    assert main(["bench", "--quick", "--json", str(out), "--markdown", str(md)]) == 0
    printed = capsys.readouterr().out
    assert "BLAS threads" in printed and "ratio" in printed
    result = json.loads(out.read_text())
    names = [row["workload"] for row in result["rows"]]
    assert any(n.startswith("gemm") for n in names)
    assert any(n.startswith("conv2d") for n in names)
    assert any(n.startswith("lstm") for n in names)
    assert any("MNIST" in n for n in names)
    for row in result["rows"]:
        assert row["handgrad_ms"] > 0
        assert row["torch_ms"] is not None and row["ratio"] > 0
    mem = result["peak_memory"]
    assert mem["handgrad"]["peak_rss_mib"] > 0 and mem["torch"]["peak_rss_mib"] > 0
    assert md.read_text().startswith("| workload |")


def test_peak_memory_is_the_childs_own_not_the_parents():
    # a parent holding a large array must not inflate the child's reading
    import numpy as np

    ballast = np.ones(60_000_000)  # ~460 MiB in this process
    mem = bench.peak_memory(64, 1, with_torch=False)
    assert mem["handgrad"]["peak_rss_mib"] < 300
    del ballast
