#!/usr/bin/python3
"""Export a DRSN model (trained checkpoint or random init) to .safetensors.

  /usr/bin/python3 train/export.py --random --variant cw --arch default --seed 1 -o m.safetensors
  /usr/bin/python3 train/export.py --checkpoint ckpt.pt -o m.safetensors

A checkpoint is a torch.save()d dict with "arch" (the architecture dict of
drsn.model.make_arch), "state_dict", "labels", and optionally "frontend"
(front-end params dict) and "provenance" (dict). The file's __metadata__ is
described in include/drsn/model.h; the C loader validates all of it.
"""
import argparse
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from drsn import frontend  # noqa: E402
from drsn import model as M  # noqa: E402
from drsn import safetensors  # noqa: E402

FORMAT_VERSION = "1"

# Speech Commands style keyword set, used when a random model needs labels.
DEFAULT_LABELS = ["_silence_", "_unknown_", "yes", "no", "up", "down",
                  "left", "right", "on", "off", "stop", "go"]


def frontend_params(path=None, overrides=None):
    """The front-end params dict for the metadata: the front end's defaults
    (train/drsn/frontend.py, the same as drsn_features_params_default), or a
    params JSON file, updated with overrides; validated like the C loader does."""
    p = frontend.load_params(path) if path else frontend.default_params()
    if overrides:
        p = frontend.FrontEndParams.from_dict(overrides, base=p)
    return p.to_dict()


MAX_LABEL_BYTES = 255  # src/engine/model.c (MAX_LABEL_BYTES 256 with the NUL)


def check_labels(labels):
    """Raise ValueError naming the first label the C loader would refuse:
    empty, not UTF-8, longer than 255 bytes, with a control character (it
    would split drsnd's log lines and drsnd.conf's [thresholds]), or a
    repeat. Blanks, capitals, '=', quotes and any script are fine."""
    seen = {}
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label:
            raise ValueError("labels[%d] is empty" % i)
        try:
            n = len(label.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("labels[%d] %r is not valid UTF-8" % (i, label)) from None
        if n > MAX_LABEL_BYTES:
            raise ValueError("labels[%d] is %d bytes in UTF-8 (at most %d)" % (i, n, MAX_LABEL_BYTES))
        if any(ord(c) < 0x20 or ord(c) == 0x7f for c in label):
            raise ValueError("labels[%d] %r holds a control character" % (i, label))
        if label in seen:
            raise ValueError("labels[%d] %r repeats labels[%d]" % (i, label, seen[label]))
        seen[label] = i


def metadata(arch, fe, labels, provenance):
    check_labels(labels)
    if len(labels) != arch["classes"]:
        raise ValueError("%d labels for %d classes" % (len(labels), arch["classes"]))
    if fe["n_mels"] != arch["bands"]:
        raise ValueError("front end n_mels %d != model bands %d" % (fe["n_mels"], arch["bands"]))
    j = lambda o: json.dumps(o, separators=(",", ":"))  # noqa: E731
    return {
        "format": "drsn-model",
        "format_version": FORMAT_VERSION,
        "architecture": j(arch),
        "frontend": j(fe),
        "labels": j(list(labels)),
        "provenance": j(provenance),
    }


def export(model, path, fe, labels, provenance):
    safetensors.save(path, model.state_tensors(),
                     metadata(model.arch, fe, labels, provenance))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--random", action="store_true", help="random init (BN stats randomised too)")
    src.add_argument("--checkpoint", help="torch.save()d training checkpoint")
    ap.add_argument("--variant", default="cw", choices=M.VARIANTS)
    ap.add_argument("--arch", default="default",
                    help="%s, a layer plan file as train.py --arch takes ({\"stem\", \"units\"}), or a JSON file "
                         "holding a whole architecture dict (then --variant, --shortcut, --frames, --input, --pool are not used)" % "|".join(M.ARCHS))
    ap.add_argument("--shortcut", default="zero_pad", choices=("zero_pad", "projection"))
    ap.add_argument("--input", default="log", choices=M.INPUTS,
                    help="log (the log-mels into the stem) or pcen (a PCEN layer first)")
    ap.add_argument("--pool", default="mean", choices=M.POOLS,
                    help="mean (the mean of the head's frames) or attention (softmax-weighted)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frames", type=int, default=98)
    ap.add_argument("--labels", help="comma-separated labels (random init; default: 12 Speech Commands classes)")
    ap.add_argument("--frontend", help="front-end params JSON file (default: the front end's defaults)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(2)

    fe = frontend_params(a.frontend)
    cmd = " ".join([os.path.basename(sys.argv[0])] + list(sys.argv[1:] if argv is None else argv))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if a.random:
        labels = a.labels.split(",") if a.labels else DEFAULT_LABELS
        arch = None
        if a.arch not in M.ARCHS:
            with open(a.arch) as f:
                arch = json.load(f)
        if arch is None or isinstance(arch, dict) and set(arch) == {"stem", "units"}:
            # a named plan or a layer plan file: completed into an architecture dict
            arch = M.make_arch(a.arch, a.variant, bands=fe["n_mels"], frames=a.frames,
                               classes=len(labels), shortcut=a.shortcut, input=a.input,
                               pool=a.pool)
        model = M.build_random(arch, a.seed)
        prov = {"training_data": "none (random initialisation)", "command": cmd,
                "seed": a.seed, "date": date, "accuracy": None}
    else:
        ck = torch.load(a.checkpoint, map_location="cpu")
        arch, labels = ck["arch"], list(ck["labels"])
        fe = frontend_params(a.frontend, ck.get("frontend"))
        model = M.DRSN(arch)
        model.load_state_dict(ck["state_dict"])
        model.eval()
        prov = {"command": cmd, "date": date, "seed": None,
                "training_data": None, "accuracy": None}
        prov.update(ck.get("provenance", {}))
    export(model, a.output, fe, labels, prov)
    print("%s: %s/%s, %d params, %d MACs/window, %d labels"
          % (a.output, arch["variant"], a.arch, model.n_params(), model.macs(), len(labels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
