"""What the recorder costs drsnd: CPU seconds of a drsnd run over the same
audio (samples/keywords-clean.wav repeated, run as fast as possible) without
plugins, with only the denoiser on, and with the recorder loaded (which turns
the denoiser on too), median of N interleaved runs each, and the ratios
measured in the same run.

usage: /usr/bin/python3 plugins/recorder/bench_recorder.py BUILD_DIR [MODEL] [--runs N] [--repeat K]
(MODEL defaults to $DRSN_TEST_MODEL, then models/kws20-drsn-cw.safetensors)
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import wave

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("model", nargs="?", default=os.environ.get("DRSN_TEST_MODEL") or
                    os.path.join(ROOT, "models", "kws20-drsn-cw.safetensors"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=12, help="copies of the 10.2 s sample")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    drsnd = os.path.join(a.build, "src", "daemon", "drsnd")
    plugdir = os.path.join(a.build, "plugins", "recorder")
    tmp = tempfile.mkdtemp(prefix="bench-recorder-")
    with wave.open(os.path.join(ROOT, "samples", "keywords-clean.wav"), "rb") as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    src = os.path.join(tmp, "long.wav")
    with wave.open(src, "wb") as w:
        w.setparams(params)
        w.writeframes(frames * a.repeat)
    seconds = a.repeat * len(frames) / 2 / params.framerate
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    conf = os.path.join(tmp, "rec.conf")
    with open(conf, "w") as f:
        f.write("[plugins]\ndir = %s\nload = recorder\n[plugin recorder]\ndir = %s\ndenoised = yes\n"
                % (plugdir, out))

    def run(mode):
        """mode: 'base', 'denoise' (the denoiser on for a PCM socket nobody
        reads) or 'recorder'. Returns (CPU seconds, WAV files written)."""
        for n in os.listdir(out):
            os.unlink(os.path.join(out, n))
        cmd = [drsnd, "--socket", os.path.join(tmp, "s.sock"), "--model", a.model, "--source",
               "file:" + src, "--no-realtime", "--exit-on-eof", "--set", "daemon.status_interval_ms=0",
               "--config", conf if mode == "recorder" else "/dev/null"]
        if mode == "denoise":
            cmd += ["--set", "denoise.pcm_socket=" + os.path.join(tmp, "pcm.sock")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert r.returncode == 0, r.stderr
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, len([n for n in os.listdir(out) if n.endswith(".wav")])

    res = {"base": [], "denoise": [], "recorder": []}
    files = 0
    for _ in range(a.runs):
        for mode in res:
            cpu, n = run(mode)
            res[mode].append(cpu)
            files = max(files, n)
    med = {m: statistics.median(v) for m, v in res.items()}
    print("audio: %.1f s per run (%d copies of keywords-clean.wav), %d runs of each, interleaved"
          % (seconds, a.repeat, a.runs))
    for m, what in (("base", "drsnd, no plugins"), ("denoise", "drsnd + its denoiser"),
                    ("recorder", "drsnd + recorder (denoised = yes)")):
        print("%-34s median %.3f CPU s = %.2f%% of one core at real time" % (what, med[m], 100 * med[m] / seconds))
    print("recorder: %d WAV files per run; ratio recorder/base %.3f, recorder/denoiser %.3f"
          % (files, med["recorder"] / med["base"], med["recorder"] / med["denoise"]))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
