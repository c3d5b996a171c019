#!/usr/bin/python3
"""PyTorch CPU latency of one DRSN model at batch 1, one thread.

  /usr/bin/python3 train/bench_torch.py MODEL.safetensors [--runs 200] [--warmup 20] [--json]

Loads the .safetensors file into train/drsn/model.py (the reference the C
engine is tested against), runs one random window (frames x bands) at a
time in eval mode under torch.inference_mode(), and reports the median per
window of the thread CPU time (the clock `drsn bench` uses for the C engine,
so other processes on a shared machine matter less) and of wall time.
`drsn bench` runs this script in the same run and prints the ratio.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from drsn import model as M  # noqa: E402
from drsn import safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    a = ap.parse_args()
    if a.runs < 1 or a.warmup < 0:
        ap.error("--runs must be >= 1 and --warmup >= 0")

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    tensors, meta = safetensors.load(a.model)
    arch = json.loads(meta["architecture"])
    model = M.load_state(M.DRSN(arch), tensors).eval()
    x = torch.randn(1, arch["frames"], arch["bands"], generator=torch.Generator().manual_seed(0))

    cpu, wall = [], []
    with torch.inference_mode():
        for _ in range(a.warmup):
            model(x)
        for _ in range(a.runs):
            c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            model(x)
            c1, w1 = time.thread_time_ns(), time.perf_counter_ns()
            cpu.append((c1 - c0) * 1e-6)
            wall.append((w1 - w0) * 1e-6)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": 1,
        "runs": a.runs,
        "cpu_ms_median": statistics.median(cpu),
        "wall_ms_median": statistics.median(wall),
        "model": a.model,
        "variant": arch["variant"],
    }
    if a.json:
        print(json.dumps(out))
    else:
        print("PyTorch %s, %d thread, batch 1: %.3f ms per window (thread CPU, median of %d), %.3f ms wall"
              % (out["torch"], out["threads"], out["cpu_ms_median"], a.runs, out["wall_ms_median"]))


if __name__ == "__main__":
    main()
