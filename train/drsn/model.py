"""The DRSN reference network (Zhao et al. 2020, 1-D form) in PyTorch.

Input: log-mel features [batch, frames, bands] (time-major, as the C front end
produces them); the bands are the input channels of 1-D convolutions over time.

    input "pcen" (arch key "input"; absent: "log") puts PCEN (class PCEN below)
          of the window before the stem; "log" feeds the log-mels as they are

    stem  Conv1d(bands -> C0, k, stride, pad k//2, bias)
    units RSBU(cin -> cout, k, s):
            f = Conv(k,1) . ReLU . BN . Conv(k,s) . ReLU . BN (x)   (convs without bias)
            threshold branch: a = GAP_t |f|; alpha = sigmoid(FC2(ReLU(BN(FC1(a)))))
              CW: tau_c = alpha_c * a_c      (FC2: C -> C)
              CS: tau   = alpha * mean_c a_c (FC2: C -> 1)
              resnet: no branch, tau = 0
            y = sign(f) * max(|f| - tau, 0) + shortcut(x)      (no activation after)
            shortcut "zero_pad": x[:, :, ::s], channels zero-padded with
              (cout-cin)//2 in front and the rest (one more when odd) behind;
            shortcut "projection": Conv1d(cin, cout, 1, stride s, bias) when
              cin != cout or s != 1, else identity.
    head  BN -> ReLU -> pool over time -> Linear(C_last -> classes) = logits
          pool "mean" (arch key "pool"; absent: "mean"): the mean of the frames;
          pool "attention": a score per frame, s_t = Conv1d(C_last -> 1, 1)(h)_t,
            and the frames weighted by softmax_t(s)

The C engine (src/engine) runs exactly this from the state_dict names below.
"""
import copy
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

VARIANTS = ("cw", "cs", "resnet")

# Architectures by name. "default" is the shipped keyword spotter size
# (~222k parameters, ~6.2 M MACs per 1 s window); "small" exercises k=5, odd
# channel growth and two downsamplings; "tiny" makes small files (fuzz seeds).
ARCHS = {
    "default": {"stem": {"channels": 32, "kernel": 3, "stride": 1},
                "units": [(32, 3, 1), (32, 3, 1), (64, 3, 2), (64, 3, 1), (96, 3, 2), (96, 3, 1)]},
    "small": {"stem": {"channels": 16, "kernel": 5, "stride": 1},
              "units": [(16, 3, 1), (27, 5, 2), (40, 3, 2)]},
    "tiny": {"stem": {"channels": 4, "kernel": 3, "stride": 1},
             "units": [(4, 3, 1), (7, 3, 2)]},
}


INPUTS = ("log", "pcen")
POOLS = ("mean", "attention")

# What the C engine accepts (src/engine/arch.h): checked here so that a bad
# layer plan fails before training, not when drsn loads the export.
MAX_UNITS, MAX_CHANNELS, MAX_KERNEL, MAX_STRIDE = 64, 1024, 31, 8


def _conv(o, where):
    if not isinstance(o, dict) or set(o) != {"channels", "kernel", "stride"}:
        raise ValueError("%s must be an object with exactly channels, kernel, stride" % where)
    for key, hi in (("channels", MAX_CHANNELS), ("kernel", MAX_KERNEL), ("stride", MAX_STRIDE)):
        v = o[key]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= hi:
            raise ValueError("%s.%s must be an integer from 1 to %d (got %r)" % (where, key, hi, v))
    if o["kernel"] % 2 == 0:
        raise ValueError("%s.kernel must be odd (got %d)" % (where, o["kernel"]))
    return o["channels"], o["kernel"], o["stride"]


def layers(arch):
    """The layer plan {"stem": {...}, "units": [(channels, kernel, stride), ...]}
    of arch: a name in ARCHS, or a JSON file holding
        {"stem": {"channels": C, "kernel": K, "stride": S},
         "units": [{"channels": C, "kernel": K, "stride": S}, ...]}
    (odd kernels; a unit never has fewer channels than its input, since the
    zero-padded shortcut cannot drop channels)."""
    if arch in ARCHS:
        return ARCHS[arch]
    try:
        with open(arch) as f:
            o = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("architecture %r is not one of %s, nor a readable JSON file (%s)"
                         % (arch, "|".join(ARCHS), e)) from None
    if not isinstance(o, dict) or set(o) != {"stem", "units"}:
        raise ValueError("%s: must be an object with exactly the keys stem and units" % arch)
    stem = _conv(o["stem"], "%s: stem" % arch)
    if not isinstance(o["units"], list) or not 1 <= len(o["units"]) <= MAX_UNITS:
        raise ValueError("%s: units must be a list of 1 to %d objects" % (arch, MAX_UNITS))
    units, c = [], stem[0]
    for i, u in enumerate(o["units"]):
        units.append(_conv(u, "%s: units[%d]" % (arch, i)))
        if units[-1][0] < c:
            raise ValueError("%s: units[%d].channels = %d is fewer than its input's %d"
                             % (arch, i, units[-1][0], c))
        c = units[-1][0]
    return {"stem": dict(zip(("channels", "kernel", "stride"), stem)), "units": units}


def check_options(arch):
    """The optional architecture keys "input" and "pool" (absent: the first
    choice), checked as the C engine checks them."""
    for key, allowed in (("input", INPUTS), ("pool", POOLS)):
        if arch.get(key, allowed[0]) not in allowed:
            raise ValueError("architecture: %s must be one of %s, not %r" % (key, allowed, arch[key]))


def make_arch(name="default", variant="cw", bands=40, frames=98, classes=12,
              shortcut="zero_pad", bn_eps=1e-5, input="log", pool="mean"):
    """The architecture dict (exactly what goes into the model metadata) of
    the layer plan name (see layers()).
    input "pcen" adds an "input" key (absent means "log": the log-mels go
    straight into the stem); pool "attention" adds a "pool" key (absent means
    "mean")."""
    if variant not in VARIANTS:
        raise ValueError("variant must be one of %s, not %r" % (VARIANTS, variant))
    check_options({"input": input, "pool": pool})
    base = layers(name)
    extra = {"input": input} if input != "log" else {}
    if pool != "mean":
        extra["pool"] = pool
    return {**extra,
        "variant": variant,
        "bands": int(bands),
        "frames": int(frames),
        "stem": dict(base["stem"]),
        "units": [{"channels": c, "kernel": k, "stride": s} for c, k, s in base["units"]],
        "shortcut": shortcut,
        "bn_eps": float(bn_eps),
        "classes": int(classes),
    }


class PCEN(nn.Module):
    """Per-channel energy normalisation (Wang et al. 2017, "Trainable
    frontend for robust and far-field keyword spotting") of one window,
    computed from its log-mels x [B, T, F] (E = exp(x): the mel power plus
    the front end's log offset):
        M[0] = E[0];  M[t] = (1 - s) M[t-1] + s E[t]
        P[t] = (E[t] / (eps + M[t])^alpha + delta)^r - delta^r
    with s, alpha, delta, r per band, trained in the log domain (the state
    holds their logs). M divides out each band's slowly varying level, so
    stationary noise maps to a constant while onsets stand out; the root
    compresses less than the log near the noise floor. The smoother is
    written as a [F, T, T] matrix so a batch is one einsum."""

    EPS = 1e-6

    def __init__(self, bands, s=0.025, alpha=0.98, delta=2.0, r=0.5):
        super().__init__()
        def full(v):
            return nn.Parameter(torch.full((bands,), math.log(v)))
        self.log_s, self.log_alpha, self.log_delta, self.log_r = full(s), full(alpha), full(delta), full(r)

    def smoother(self, frames):
        s = self.log_s.exp().clamp(max=1.0)[:, None, None]          # [F, 1, 1]
        t = torch.arange(frames, dtype=s.dtype)
        lag = (t[None, :] - t[:, None])[None]                        # [1, k, t]: t - k
        decay = torch.pow(1.0 - s, lag.clamp(min=0).to(s.dtype))
        w = torch.where(lag >= 0, s * decay, torch.zeros_like(decay))
        first = torch.pow(1.0 - s[:, :, 0], t[None, :])              # [F, t]: weight of E[0]
        return torch.cat([first[:, None, :], w[:, 1:, :]], dim=1)   # [F, k, t]

    def forward(self, x):                     # x: [B, T, F] log-mels
        e = x.exp()
        m = torch.einsum("bkf,fkt->btf", e, self.smoother(x.shape[1]))
        alpha, delta, r = self.log_alpha.exp(), self.log_delta.exp(), self.log_r.exp()
        return torch.pow(e / torch.pow(self.EPS + m, alpha) + delta, r) - torch.pow(delta, r)


class Shrink(nn.Module):
    """Threshold branch + soft thresholding of an RSBU (CW or CS)."""

    def __init__(self, c, variant, eps):
        super().__init__()
        self.variant = variant
        self.fc1 = nn.Linear(c, c)
        self.bn = nn.BatchNorm1d(c, eps=eps)
        self.fc2 = nn.Linear(c, c if variant == "cw" else 1)

    def alpha(self, a):                       # a = GAP_t |f|: [B, C] -> alpha [B, C] (CW) or [B, 1] (CS)
        return torch.sigmoid(self.fc2(F.relu(self.bn(self.fc1(a)))))

    def forward(self, f):                     # f: [B, C, T]
        a = f.abs().mean(dim=2)               # [B, C]
        alpha = self.alpha(a)
        if self.variant == "cw":
            tau = alpha * a
        else:
            tau = alpha * a.mean(dim=1, keepdim=True)
        return torch.sign(f) * F.relu(f.abs() - tau.unsqueeze(2))


class RSBU(nn.Module):
    def __init__(self, cin, cout, k, s, variant, shortcut, eps):
        super().__init__()
        if k % 2 != 1:
            raise ValueError("kernel sizes must be odd (got %d)" % k)
        if cout < cin:
            raise ValueError("a unit cannot shrink channels (%d -> %d)" % (cin, cout))
        self.cin, self.cout, self.stride = cin, cout, s
        self.bn1 = nn.BatchNorm1d(cin, eps=eps)
        self.conv1 = nn.Conv1d(cin, cout, k, stride=s, padding=k // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(cout, eps=eps)
        self.conv2 = nn.Conv1d(cout, cout, k, stride=1, padding=k // 2, bias=False)
        self.shrink = Shrink(cout, variant, eps) if variant != "resnet" else None
        self.proj = None
        if shortcut == "projection" and (cin != cout or s != 1):
            self.proj = nn.Conv1d(cin, cout, 1, stride=s, bias=True)
        elif shortcut not in ("zero_pad", "projection"):
            raise ValueError("unknown shortcut %r" % shortcut)

    def forward(self, x):                     # x: [B, Cin, T]
        f = self.conv1(F.relu(self.bn1(x)))
        f = self.conv2(F.relu(self.bn2(f)))
        if self.shrink is not None:
            f = self.shrink(f)
        if self.proj is not None:
            sc = self.proj(x)
        else:
            sc = x[:, :, ::self.stride]
            extra = self.cout - self.cin
            if extra:
                sc = F.pad(sc, (0, 0, extra // 2, extra - extra // 2))
        return f + sc


class DRSN(nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.arch = copy.deepcopy(arch)
        eps = arch["bn_eps"]
        st = arch["stem"]
        check_options(arch)   # a typo must not train as the default and then fail to load in drsn
        self.pcen = PCEN(arch["bands"]) if arch.get("input", "log") == "pcen" else None
        self.stem = nn.Conv1d(arch["bands"], st["channels"], st["kernel"], stride=st["stride"],
                              padding=st["kernel"] // 2, bias=True)
        units, c = [], st["channels"]
        for u in arch["units"]:
            units.append(RSBU(c, u["channels"], u["kernel"], u["stride"], arch["variant"],
                              arch["shortcut"], eps))
            c = u["channels"]
        self.units = nn.ModuleList(units)
        self.bn = nn.BatchNorm1d(c, eps=eps)
        self.att = nn.Conv1d(c, 1, 1) if arch.get("pool", "mean") == "attention" else None
        self.fc = nn.Linear(c, arch["classes"])

    def forward(self, x):                     # x: [B, frames, bands] -> logits [B, classes]
        if self.pcen is not None:
            x = self.pcen(x)
        h = self.stem(x.transpose(1, 2))
        for u in self.units:
            h = u(h)
        h = F.relu(self.bn(h))
        if self.att is not None:
            h = (h * torch.softmax(self.att(h), dim=2)).sum(dim=2)
        else:
            h = h.mean(dim=2)
        return self.fc(h)

    def n_params(self):
        return sum(p.numel() for p in self.parameters())

    def macs(self):
        """Multiply-accumulates per window (convs + FCs), as drsn_model_macs()."""
        a = self.arch
        t = (a["frames"] - 1) // a["stem"]["stride"] + 1
        total = t * a["bands"] * a["stem"]["channels"] * a["stem"]["kernel"]
        for u in self.units:
            k = u.conv1.kernel_size[0]
            t = (t - 1) // u.stride + 1
            total += t * u.cin * u.cout * k + t * u.cout * u.cout * k
            if u.proj is not None:
                total += t * u.cin * u.cout
            if u.shrink is not None:
                total += u.cout * u.cout + u.cout * u.shrink.fc2.out_features
        if self.att is not None:
            total += t * self.fc.in_features
        total += self.fc.in_features * self.fc.out_features
        return total

    def state_tensors(self):
        """state_dict without BN's integer num_batches_tracked (not exported)."""
        return {k: v for k, v in self.state_dict().items() if not k.endswith("num_batches_tracked")}


def randomize_bn(model, generator):
    """Give every BatchNorm non-trivial affine parameters and running stats, so
    that a random-init model exercises BN folding (parity tests)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=generator))
                m.bias.copy_(0.2 * torch.randn(n, generator=generator))
                m.running_mean.copy_(0.3 * torch.randn(n, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(n, generator=generator))


def randomize_pcen(model, generator):
    """Spread a PCEN input's per-band parameters around their initial values
    (s 0.006-0.1, alpha 0.7-1, delta 0.7-5.4, r 0.3-0.8), so a parity test
    runs every band with its own."""
    if model.pcen is None:
        return
    with torch.no_grad():
        for p, lo, hi in ((model.pcen.log_s, 0.006, 0.1), (model.pcen.log_alpha, 0.7, 1.0),
                          (model.pcen.log_delta, 0.7, 5.4), (model.pcen.log_r, 0.3, 0.8)):
            u = torch.rand(p.shape, generator=generator)
            p.copy_(math.log(lo) + u * (math.log(hi) - math.log(lo)))


def randomize_att(model, generator):
    """Frame scores of a few units (pool "attention"), so that a random
    model's softmax over time is far from uniform."""
    if model.att is None:
        return
    with torch.no_grad():
        c = model.att.weight.shape[1]
        model.att.weight.copy_((torch.rand(model.att.weight.shape, generator=generator) * 2 - 1) * 4 / math.sqrt(c))


def build_random(arch, seed):
    """A random-init model (deterministic for a seed), in eval mode."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DRSN(arch)
    randomize_bn(model, g)
    randomize_pcen(model, g)
    randomize_att(model, g)
    return model.eval()


def load_state(model, tensors):
    """Load name -> numpy array (a safetensors file) into model (strict)."""
    sd = model.state_dict()
    missing = [k for k in sd if not k.endswith("num_batches_tracked") and k not in tensors]
    extra = [k for k in tensors if k not in sd]
    if missing or extra:
        raise ValueError("state mismatch: missing %s, unexpected %s" % (missing, extra))
    with torch.no_grad():
        for k, v in tensors.items():
            sd[k].copy_(torch.from_numpy(v).reshape(sd[k].shape))
    return model


if __name__ == "__main__":
    torch.set_num_threads(2)
    for name in ARCHS:
        for v in VARIANTS:
            m = DRSN(make_arch(name, v))
            print("%-8s %-6s params %7d  MACs/window %9d" % (name, v, m.n_params(), m.macs()))
