"""The log-mel front end, PyTorch reference of src/features (C).

Training computes its features with exactly this code, and tests/parity
checks that the C front end (`drsn features X.wav -o X.npy`) agrees with it to
1e-3 in the log domain. The definition (include/drsn/features.h):

    frame i covers samples [i*hop_length, i*hop_length + win_length): no
        centring, no padding, so n samples give 1 + (n - win_length) // hop_length
        frames (98 for 1 s at 16 kHz) and 0 when n < win_length;
    periodic Hann window of win_length, zero-padded to n_fft, real FFT;
    power spectrum |X|^2;
    torchaudio.functional.melscale_fbanks(n_fft//2+1, f_min, f_max, n_mels,
        sample_rate, norm=None, mel_scale="htk")  (unnormalised HTK triangles);
    log(mel + log_offset).

torch.stft pads a window shorter than n_fft symmetrically inside the n_fft
frame; padding the signal by the same amounts (left (n_fft-win)//2, right the
rest) with center=False makes its frame i cover exactly the samples above. The
padding only shifts the phase, so the power spectrum equals the C one's
(window at the start of the frame, zeros after).

Parameters travel as JSON with the same keys as the C side
(`drsn features --params`); numbers are float32 in C, so f_min, f_max and
log_offset are rounded to float32 here too.
"""
import dataclasses
import json
import math
import warnings

import torch
import torch.nn as nn
import torchaudio

INT_KEYS = ("sample_rate", "win_length", "hop_length", "n_fft", "n_mels")
FLOAT_KEYS = ("f_min", "f_max", "log_offset")
# Fixed parts of the definition: written out, checked when read back.
FIXED = {"window": "hann_periodic", "mel_scale": "htk", "power": 2}


def _f32(v):
    return float(torch.tensor(float(v), dtype=torch.float32).item())


def _short(v):
    for prec in range(6, 10):
        s = float("%.*g" % (prec, v))
        if _f32(s) == v:
            return s
    return v


@dataclasses.dataclass
class FrontEndParams:
    sample_rate: int = 16000
    win_length: int = 400
    hop_length: int = 160
    n_fft: int = 512
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 8000.0
    log_offset: float = 1e-6

    def __post_init__(self):
        for k in FLOAT_KEYS:
            setattr(self, k, _f32(getattr(self, k)))

    @property
    def n_bins(self):
        return self.n_fft // 2 + 1

    def frames_for(self, n_samples):
        """Frames that n_samples give (drsn_features_frames_for)."""
        if n_samples < self.win_length:
            return 0
        return 1 + (n_samples - self.win_length) // self.hop_length

    def validate(self):
        """Raise ValueError naming the field, as drsn_features_params_validate does."""
        def bad(key, msg):
            raise ValueError("%s: %s" % (key, msg))
        if not 1000 <= self.sample_rate <= 384000:
            bad("sample_rate", "%d Hz is outside 1000..384000" % self.sample_rate)
        if not 2 <= self.n_fft <= 65536:
            bad("n_fft", "%d is outside 2..65536" % self.n_fft)
        if not 2 <= self.win_length <= self.n_fft:
            bad("win_length", "%d is outside 2..n_fft (%d)" % (self.win_length, self.n_fft))
        if not 1 <= self.hop_length <= 1000000:
            bad("hop_length", "%d is outside 1..1000000" % self.hop_length)
        if not 1 <= self.n_mels <= self.n_bins:
            bad("n_mels", "%d is outside 1..n_fft/2+1 (%d)" % (self.n_mels, self.n_bins))
        if not (math.isfinite(self.f_min) and self.f_min >= 0):
            bad("f_min", "%g Hz must be finite and >= 0" % self.f_min)
        if not (math.isfinite(self.f_max) and self.f_min < self.f_max <= self.sample_rate // 2):
            bad("f_max", "%g Hz must be > f_min (%g) and <= sample_rate/2 (%d)"
                % (self.f_max, self.f_min, self.sample_rate // 2))
        if not (math.isfinite(self.log_offset) and self.log_offset > 0):
            bad("log_offset", "%g must be finite and > 0" % self.log_offset)
        empty = (mel_filterbank(self, check=False).max(dim=0).values == 0).nonzero()
        if len(empty):
            bad("n_mels", "band %d of %d covers no FFT bin (lower n_mels, widen f_min..f_max "
                "or raise n_fft)" % (int(empty[0]), self.n_mels))
        return self

    def to_dict(self):
        d = dataclasses.asdict(self)
        for k in FLOAT_KEYS:  # shortest decimal of the float32: 1e-06, not 9.99999997e-07
            d[k] = _short(d[k])
        d.update(FIXED)
        return d

    def to_json(self, indent=None):
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d, base=None):
        """Keys as in to_dict; missing keys keep base's (default) values.
        Unknown keys, wrong types and unsupported values raise ValueError
        naming the key (drsn_features_params_from_json)."""
        if not isinstance(d, dict):
            raise ValueError("front-end params: expected a JSON object")
        kw = dataclasses.asdict(base if base is not None else cls())
        for k, v in d.items():
            if k in INT_KEYS:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != math.floor(v):
                    raise ValueError('front-end params: "%s" must be an integer' % k)
                kw[k] = int(v)
            elif k in FLOAT_KEYS:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError('front-end params: "%s" must be a finite number' % k)
                kw[k] = float(v)
            elif k in FIXED:
                if v != FIXED[k] or isinstance(v, bool):
                    raise ValueError('front-end params: "%s" must be %r (the only one supported)'
                                     % (k, FIXED[k]))
            else:
                raise ValueError('front-end params: unknown key "%s"' % k)
        return cls(**kw).validate()

    @classmethod
    def from_json(cls, text, base=None):
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError("front-end params: invalid JSON: %s" % e) from None
        return cls.from_dict(d, base)


def default_params():
    """drsn_features_params_default."""
    return FrontEndParams()


def load_params(path):
    with open(path) as f:
        try:
            return FrontEndParams.from_json(f.read())
        except ValueError as e:
            raise ValueError("%s: %s" % (path, e)) from None


def dump_params(p, path):
    with open(path, "w") as f:
        f.write(p.to_json(indent=2) + "\n")


def mel_filterbank(p, check=True):
    """[n_fft//2+1, n_mels] float64 weights: torchaudio's HTK unnormalised
    filterbank, evaluated in double precision as the C side does."""
    old = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)  # melscale_fbanks builds with linspace
        with warnings.catch_warnings():
            # An empty band is reported by validate() with the C wording.
            warnings.simplefilter("ignore", UserWarning)
            fb = torchaudio.functional.melscale_fbanks(
                p.n_bins, p.f_min, p.f_max, p.n_mels, p.sample_rate, norm=None, mel_scale="htk")
    finally:
        torch.set_default_dtype(old)
    if check and (fb.max(dim=0).values == 0).any():
        p.validate()
    return fb


class FrontEnd(nn.Module):
    """Waveforms [batch, samples] (or [samples]) in [-1, 1] at p.sample_rate
    -> float32 log-mel features [batch, frames, n_mels] (or [frames, n_mels]).

    Like the C front end it computes in float64 between float32 input and
    output: a float32 FFT's rounding noise (~1e-7 of a frame's energy per bin)
    gives errors of 1e-3..1e-2 in quiet bands of loud frames at a 1e-6 log
    floor, and C and torch would round differently. Keep the module in
    float64 (do not call .float() / .half() on it; a model's .to(device) is
    fine)."""

    def __init__(self, params=None):
        super().__init__()
        p = params if params is not None else default_params()
        if isinstance(p, dict):
            p = FrontEndParams.from_dict(p)
        self.params = p.validate()
        self.register_buffer("window", torch.hann_window(p.win_length, periodic=True,
                                                         dtype=torch.float64))
        self.register_buffer("fb", mel_filterbank(p))

    def forward(self, wav):
        p = self.params
        squeeze = wav.dim() == 1
        x = wav.unsqueeze(0) if squeeze else wav
        if x.dim() != 2:
            raise ValueError("FrontEnd: expected [batch, samples] or [samples], got %s" % (tuple(wav.shape),))
        x = x.to(torch.float32).to(self.window.dtype)  # the C side's float32 input
        n_frames = p.frames_for(x.shape[-1])
        if n_frames == 0:
            out = x.new_zeros((x.shape[0], 0, p.n_mels))
        else:
            left = (p.n_fft - p.win_length) // 2
            x = torch.nn.functional.pad(x, (left, p.n_fft - p.win_length - left))
            spec = torch.stft(x, p.n_fft, hop_length=p.hop_length, win_length=p.win_length,
                              window=self.window, center=False, normalized=False,
                              onesided=True, return_complex=True)   # [batch, bins, frames]
            power = spec.real.square() + spec.imag.square()
            out = torch.log(torch.matmul(power.transpose(1, 2), self.fb) + p.log_offset)
        out = out.to(torch.float32)
        return out[0] if squeeze else out

    def extra_repr(self):
        return self.params.to_json()
