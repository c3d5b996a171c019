#!/usr/bin/python3
"""C engine vs the PyTorch reference (train/drsn/model.py) on random models.

usage: model_parity.py MODEL_RUN_EXE DRSN_EXE

For each variant (cw, cs, resnet) x architecture (default, small, and an odd
one: strided k=5 stem, 61 frames, stride 3, odd channel growth) x shortcut
(zero_pad; plus projection on small), plus input "pcen" on default (each
variant) and odd (cw), plus pool "attention" on default (each variant) and
odd (cs, with PCEN): export a random-init model (BN running
stats randomised) with train/export.py, run it on random inputs with the C
program (every SIMD path in DRSN_SIMD_PATHS, default "scalar" and the
automatic choice) and in PyTorch eval mode from the same .safetensors file.
Fails when the max abs logit difference exceeds 1e-4, when `drsn info
--json` disagrees with PyTorch on the parameter count, MACs or labels, or
when `drsn info` names the wrong pooling.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("DRSN_SOURCE_ROOT", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "train"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import export  # noqa: E402
from drsn import model as M  # noqa: E402
from drsn import safetensors  # noqa: E402
from exe_wrapper import under_wrapper  # noqa: E402

TOL = 1e-4
N_WINDOWS = 6


def main():
    exe, drsn = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    cases = [(v, a, "zero_pad", "log", "mean") for a in ("default", "small", "odd") for v in M.VARIANTS]
    cases += [(v, "small", "projection", "log", "mean") for v in M.VARIANTS]
    cases += [(v, "default", "zero_pad", "pcen", "mean") for v in M.VARIANTS]
    cases += [("cw", "odd", "zero_pad", "pcen", "mean")]
    cases += [(v, "default", "zero_pad", "log", "attention") for v in M.VARIANTS]
    cases += [("cs", "odd", "zero_pad", "pcen", "attention")]
    worst, failed = 0.0, []
    with tempfile.TemporaryDirectory() as tmp:
        exe, drsn = under_wrapper(exe, tmp), under_wrapper(drsn, tmp)
        for seed, (variant, arch, shortcut, inp_kind, pool) in enumerate(cases, start=11):
            name = inp_kind if pool == "mean" else inp_kind + "+" + pool   # in paths and messages
            path = os.path.join(tmp, "%s_%s_%s_%s.safetensors" % (variant, arch, shortcut, name))
            arch_arg = arch
            if arch == "odd":
                odd = {"variant": variant, "bands": 40, "frames": 61,
                       "stem": {"channels": 24, "kernel": 5, "stride": 2},
                       "units": [{"channels": 24, "kernel": 3, "stride": 1},
                                 {"channels": 37, "kernel": 5, "stride": 2},
                                 {"channels": 40, "kernel": 3, "stride": 3}],
                       "shortcut": shortcut, "bn_eps": 1e-3, "classes": 12}
                if inp_kind != "log":
                    odd["input"] = inp_kind
                if pool != "mean":
                    odd["pool"] = pool
                arch_arg = os.path.join(tmp, "odd.json")
                with open(arch_arg, "w") as f:
                    json.dump(odd, f)
            export.main(["--random", "--variant", variant, "--arch", arch_arg, "--shortcut", shortcut,
                         "--input", inp_kind, "--pool", pool, "--seed", str(seed), "-o", path])
            tensors, meta = safetensors.load(path)
            model = M.load_state(M.DRSN(json.loads(meta["architecture"])), tensors).eval()
            r = subprocess.run([drsn, "info", "--json", path], capture_output=True, text=True)
            info = json.loads(r.stdout) if r.returncode == 0 else {}
            want = {"parameters": model.n_params(), "macs_per_window": model.macs(),
                    "labels": json.loads(meta["labels"]), "variant": variant}
            got = {k: info.get(k) for k in want}
            if got != want:
                print("FAIL %s/%s/%s/%s: drsn info %s, PyTorch %s %s" % (variant, arch, shortcut, name, got, want, r.stderr))
                failed.append((variant, arch, shortcut, name, "info"))
            r = subprocess.run([drsn, "info", path], capture_output=True, text=True)
            head = "head        BN, ReLU, %s over " % ("mean" if pool == "mean" else "attention (softmax-weighted sum)")
            if head not in r.stdout:
                print("FAIL %s/%s/%s/%s: drsn info has no %r: %s" % (variant, arch, shortcut, name, head, r.stdout))
                failed.append((variant, arch, shortcut, name, "info text"))
            rng = np.random.default_rng(seed)
            a = model.arch
            # log-mel-like inputs: offset and scale vary per window
            x = (rng.standard_normal((N_WINDOWS, a["frames"], a["bands"])) * rng.uniform(0.5, 3, (N_WINDOWS, 1, 1))
                 + rng.uniform(-8, 2, (N_WINDOWS, 1, 1))).astype(np.float32)
            with torch.no_grad():
                ref = model(torch.from_numpy(x)).numpy()
            inp = os.path.join(tmp, "in.npy")
            out = os.path.join(tmp, "out.npy")
            np.save(inp, x.reshape(N_WINDOWS * a["frames"], a["bands"]))
            for simd in ("scalar", ""):
                env = dict(os.environ)
                env.pop("DRSN_SIMD", None)
                if simd:
                    env["DRSN_SIMD"] = simd
                r = subprocess.run([exe, path, inp, out], env=env, capture_output=True, text=True)
                path_used = r.stderr.strip().rsplit(" ", 1)[-1] if r.returncode == 0 else "?"
                if r.returncode != 0:
                    print("FAIL %s/%s/%s/%s: model-run exited %d: %s" % (variant, arch, shortcut, name, r.returncode, r.stderr))
                    failed.append((variant, arch, shortcut, name, simd))
                    continue
                got = np.load(out)
                err = float(np.abs(got - ref).max())
                worst = max(worst, err)
                ok = err <= TOL and got.shape == ref.shape
                print("%s %-6s %-7s %-10s %-4s simd=%-6s max|logit diff| = %.3g  (logit range %.3g..%.3g)"
                      % ("ok  " if ok else "FAIL", variant, arch, shortcut, name, path_used, err, ref.min(), ref.max()))
                if not ok:
                    failed.append((variant, arch, shortcut, name, simd))
    print("model parity: worst max abs logit difference %.3g (tolerance %g), %d failures" % (worst, TOL, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
