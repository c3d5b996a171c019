#!/usr/bin/python3
"""`drsn bench` end to end: the JSON it prints, the DRSN_SIMD override, the
PyTorch comparison, the model-less default, and its errors.

  /usr/bin/python3 tests/bench_cli/test_bench.py DRSN_EXECUTABLE
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("DRSN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
PY = "/usr/bin/python3"


def run(drsn, *args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([drsn, "bench", *args], capture_output=True, text=True, env=e, timeout=600)


def check_result(o, model, runs, torch):
    names = [p["name"] for p in o["paths"]]
    assert names[0] == "scalar", names
    assert len(set(names)) == len(names), names
    assert o["path"] in names, (o["path"], names)
    assert o["model"] == model and o["runs"] == runs, o
    assert o["variant"] == "cw" and o["macs_per_window"] > 0 and o["parameters"] > 0, o
    assert 0 < o["load_ms_median"] < 10000, o
    for p in o["paths"]:
        assert p["cpu_ms_median"] > 0 and p["wall_ms_median"] > 0, p
        assert abs(p["gflops"] - 2 * o["macs_per_window"] / (p["cpu_ms_median"] * 1e6)) < 1e-6 * p["gflops"], p
    chosen = next(p for p in o["paths"] if p["name"] == o["path"])
    assert abs(o["fraction_of_peak"] - chosen["gflops"] / o["peak_gflops"]) < 1e-9, o
    # the real-time budget at drsnd's default hop, from the path in use
    rt = o["realtime"]
    assert rt["inference_hop_ms"] == 100, rt
    assert abs(rt["core_fraction"] - chosen["cpu_ms_median"] / 100) < 1e-9, (rt, chosen)
    assert rt["streams_per_core"] == int(100 // chosen["cpu_ms_median"]), (rt, chosen)
    if torch:
        t = o["torch"]
        assert t["version"].startswith("1.13") and t["threads"] == 1 and t["batch"] == 1, t
        assert t["cpu_ms_median"] > 0, t
        assert abs(o["speedup_vs_torch"] - t["cpu_ms_median"] / chosen["cpu_ms_median"]) < 1e-6 * o["speedup_vs_torch"]
    else:
        assert o["torch"] is None and o["speedup_vs_torch"] is None, o
    return names


def main():
    drsn = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "tiny.safetensors")
        subprocess.run([PY, os.path.join(ROOT, "train", "export.py"), "--random", "--variant", "cw",
                        "--arch", "tiny", "--seed", "3", "-o", model], check=True, capture_output=True)

        r = run(drsn, "--model", model, "--json", "--runs", "7")
        assert r.returncode == 0, r.stderr
        names = check_result(json.loads(r.stdout), model, 7, True)
        print("paths timed:", " ".join(names))

        # The override decides which path is "in use"; every path is still timed.
        r = run(drsn, "-m", model, "--json", "--runs", "3", "--no-torch", env={"DRSN_SIMD": "scalar"})
        assert r.returncode == 0, r.stderr
        o = json.loads(r.stdout)
        assert check_result(o, model, 3, False) == names and o["path"] == "scalar", o

        # Text output names the path in use and the PyTorch ratio.
        r = run(drsn, "--model", model, "--runs", "3")
        assert r.returncode == 0, r.stderr
        assert "<- in use" in r.stdout and "speed-up over PyTorch" in r.stdout, r.stdout
        assert "real time: a window costs" in r.stdout and "stream(s)" in r.stdout, r.stdout

        # PyTorch failing (no python3-torch on an edge box): drsn's own figures
        # are still printed, the error names what failed, the exit status is 1.
        for fmt in (["--json"], []):
            r = run(drsn, "--model", model, "--runs", "3", *fmt, env={"PYTHON": "/bin/false"})
            assert r.returncode == 1 and "/bin/false" in r.stderr and "--no-torch" in r.stderr, (r.returncode, r.stderr)
            if fmt:
                check_result(json.loads(r.stdout), model, 3, False)
            else:
                assert "<- in use" in r.stdout and "PyTorch: not measured" in r.stdout, r.stdout

        # Errors: a missing model names the file; bad arguments are usage errors.
        missing = os.path.join(d, "nope.safetensors")
        r = run(drsn, "--model", missing, "--no-torch")
        assert r.returncode == 1 and missing in r.stderr and not r.stdout, (r.returncode, r.stderr)
        for bad in (["--runs", "0"], ["--runs", "x"], ["--frobnicate"], ["--model"]):
            r = run(drsn, *bad)
            assert r.returncode == 2 and "bench" in r.stderr, (bad, r.returncode, r.stderr)

    # Without --model: the default model every command uses
    # (drsn_default_model_path: the DRSN-CW, not the first models/*.safetensors),
    # else a random default-size model exported on the fly and removed afterwards.
    r = run(drsn, "--json", "--runs", "2", "--no-torch", env={"DRSN_MODEL": ""})
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    if o["model_source"] == "shipped":
        assert o["variant"] == "cw", o
        name = os.path.basename(o["model"])
        assert name in ("kws20-drsn-cw.safetensors", "default.safetensors"), o
    else:
        assert o["model_source"].startswith("random init"), o
        assert not os.path.exists(o["model"]) and not os.path.exists(os.path.dirname(o["model"])), o
    print("default model:", o["model_source"], o["model"])
    print("ok")


if __name__ == "__main__":
    main()
