"""Parity of the C front end (`drsn features X.wav -o X.npy`) with the PyTorch
reference that training uses (train/drsn/frontend.py), on WAVs generated now
(tests/parity/features_wavs.py): max |C - Python| <= 1e-3 in the log domain,
for the default parameters and for a second, non-default set.

    /usr/bin/python3 tests/parity/features_parity.py --drsn BUILD/src/cli/drsn

Also checks that `drsn features --params` and the Python defaults are the same
parameters, and prints how far each side is from a float64 reference.
The C program runs as a subprocess (it may be an ASan build).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "train"))
sys.path.insert(0, HERE)

from drsn import frontend  # noqa: E402
import features_wavs  # noqa: E402
from exe_wrapper import under_wrapper  # noqa: E402

TOL = 1e-3
ALT = {"sample_rate": 16000, "win_length": 480, "hop_length": 120, "n_fft": 1024,
       "n_mels": 64, "f_min": 0.0, "f_max": 7600.0, "log_offset": 1e-8}


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("FAIL: %s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r.stdout


def cli_checks(drsn, wavs, work):
    """`drsn features` behaviour other than the numbers: the summary, and
    errors that name what is wrong, exit non-zero and leave no output file."""
    bad = []

    def expect(cmd, ok, needle, where):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        text = r.stdout + r.stderr
        if (r.returncode == 0) != ok or needle not in text:
            bad.append("%s: exit %d, output %r (wanted %s and %r)"
                       % (where, r.returncode, text.strip(), "success" if ok else "failure", needle))

    expect([drsn, "features", wavs["silence"]], True, "98 frames x 40 bands", "summary of 1 s")
    expect([drsn, "features", wavs["silence"]], True, "max -13.816", "summary of silence")
    missing = os.path.join(work, "missing.wav")
    expect([drsn, "features", missing, "-o", os.path.join(work, "m.npy")], False, missing, "missing input")
    not_audio = os.path.join(work, "not-audio.wav")
    with open(not_audio, "w") as f:
        f.write("this is text, not audio\n" * 20)
    expect([drsn, "features", not_audio], False, not_audio, "text input")
    bad_params = os.path.join(work, "bad-params.json")
    with open(bad_params, "w") as f:
        f.write('{"n_mels": 40, "hop": 100}')
    expect([drsn, "features", "-p", bad_params, "--params"], False, '"hop"', "unknown params key")
    with open(bad_params, "w") as f:
        f.write('{"f_max": 9000}')
    expect([drsn, "features", "-p", bad_params, wavs["speech"]], False, "f_max", "f_max above Nyquist")
    out = os.path.join(work, "no-such-dir", "x.npy")
    expect([drsn, "features", wavs["speech"], "-o", out], False, out, "unwritable output")
    if os.path.exists(out) or os.path.exists(os.path.join(work, "m.npy")):
        bad.append("a failed run left an output file behind")
    expect([drsn, "features", "--bogus"], False, "--bogus", "unknown option")
    print("cli: %d problem(s)" % len(bad))
    return bad


# Parameter sets both sides must reject, and the key the message must name.
BAD_PARAMS = [
    ('{"n_mel": 40}', '"n_mel"'), ('{"n_mels": "40"}', '"n_mels"'), ('{"n_mels": 40.5}', '"n_mels"'),
    ('{"n_mels": 200}', "n_mels"), ('{"n_fft": 256}', "win_length"), ('{"hop_length": 0}', "hop_length"),
    ('{"sample_rate": 500}', "sample_rate"), ('{"f_min": -5}', "f_min"), ('{"f_max": 8001}', "f_max"),
    ('{"f_min": 9000}', "f_max"), ('{"log_offset": 0}', "log_offset"), ('{"window": "hamming"}', '"window"'),
    ('{"mel_scale": "slaney"}', '"mel_scale"'), ('{"power": 1}', '"power"'), ('[40]', "object"),
]


def params_checks(drsn, work):
    """C (drsn_features_params_from_json) and Python (FrontEndParams.from_json)
    reject the same bad parameters and name the same key."""
    bad = []
    path = os.path.join(work, "bad.json")
    for text, key in BAD_PARAMS:
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([drsn, "features", "-p", path, "--params"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode == 0 or key not in r.stderr:
            bad.append("C accepted %s or did not name %s: %r" % (text, key, r.stderr.strip()))
        try:
            frontend.FrontEndParams.from_json(text)
            bad.append("Python accepted %s" % text)
        except ValueError as e:
            if key not in str(e):
                bad.append("Python's message for %s does not name %s: %s" % (text, key, e))
    print("params: %d bad sets rejected by both sides, %d problem(s)" % (len(BAD_PARAMS), len(bad)))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drsn", default=os.path.join(os.environ.get("DRSN_BUILD_ROOT", "build"), "src", "cli", "drsn"))
    ap.add_argument("--keep", help="write the WAVs and .npy files here and keep them")
    a = ap.parse_args()
    torch.set_num_threads(1)
    wrap_dir = tempfile.TemporaryDirectory(prefix="drsn-fe-wrap-")
    a.drsn = under_wrapper(a.drsn, wrap_dir.name)

    # The parameter contract: same keys, same values on both sides.
    c_params = json.loads(run([a.drsn, "features", "--params"]))
    py_params = frontend.default_params().to_dict()
    if c_params != py_params:
        raise SystemExit("FAIL: C params %s != Python params %s" % (c_params, py_params))
    print("params: C and Python defaults agree: %s" % json.dumps(c_params))

    tmp = tempfile.TemporaryDirectory(prefix="drsn-fe-parity-")
    work = a.keep or tmp.name
    os.makedirs(work, exist_ok=True)
    wavs = features_wavs.generate(os.path.join(work, "wav"))
    alt_path = os.path.join(work, "alt-params.json")
    with open(alt_path, "w") as f:
        json.dump(ALT, f)

    failures = []
    # C reads the alternative set and prints it back as Python would.
    c_alt = frontend.FrontEndParams.from_json(run([a.drsn, "features", "-p", alt_path, "--params"]))
    if c_alt != frontend.FrontEndParams.from_dict(ALT):
        failures.append("C read %s as %s" % (ALT, c_alt))
    # Training feeds batches: each row of a batch equals that waveform alone.
    with torch.no_grad():
        fe = frontend.FrontEnd()
        rows = [features_wavs.mono(features_wavs.read_wav(wavs[n])[1])[:16000] for n in ("noise", "vowels", "dc")]
        batch = fe(torch.stack(rows))
        if batch.shape != (3, 98, 40) or any(not torch.equal(batch[i], fe(r)) for i, r in enumerate(rows)):
            failures.append("FrontEnd on a batch differs from FrontEnd on each waveform")

    worst = 0.0
    # "f32 path" is the same definition computed in float32 throughout (the
    # module after .float()): shown to document why both sides use float64.
    print("%-8s %-8s %12s %10s %14s %9s" % ("params", "file", "shape", "max|C-Py|",
                                           "f32 path err", "mean"))
    for pname, params, extra in (("default", frontend.default_params(), []),
                                 ("alt", frontend.FrontEndParams.from_dict(ALT), ["-p", alt_path])):
        fe = frontend.FrontEnd(params)
        fe32 = frontend.FrontEnd(params).float()
        for name, wav in wavs.items():
            out = os.path.join(work, "%s-%s.npy" % (name, pname))
            run([a.drsn, "features"] + extra + [wav, "-o", out])
            c = np.load(out)
            rate, x = features_wavs.read_wav(wav)
            assert rate == params.sample_rate, (wav, rate)
            x = features_wavs.mono(x)
            with torch.no_grad():
                py = fe(x).numpy()
                p32 = fe32(x).numpy()
            if c.dtype != np.float32 or c.shape != py.shape or c.shape != (params.frames_for(x.shape[0]), params.n_mels):
                failures.append("%s/%s: C %s %s vs Python %s" % (pname, name, c.dtype, c.shape, py.shape))
                continue
            d = float(np.abs(c - py).max()) if c.size else 0.0
            e32 = float(np.abs(p32 - py).max()) if c.size else 0.0
            mean = float(c.mean()) if c.size else float("nan")
            print("%-8s %-8s %12s %10.2e %14.2e %9.3f" % (pname, name, "x".join(map(str, c.shape)),
                                                         d, e32, mean))
            worst = max(worst, d)
            if not d <= TOL:
                failures.append("%s/%s: max |C - Python| = %.3g > %g" % (pname, name, d, TOL))
    print("max |C - Python| over all files = %.3e (log domain, tolerance %g)" % (worst, TOL))
    failures += cli_checks(a.drsn, wavs, work)
    failures += params_checks(a.drsn, work)
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("OK: C front end matches train/drsn/frontend.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
