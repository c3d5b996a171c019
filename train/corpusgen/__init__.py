"""Noisy keyword corpus generator: synthetic speech from Debian's synthesizers, noise,
augmentation, and the Speech Commands folder layout that train.py reads.

Modules (one job each):
  words    the 22-class task and the _unknown_ vocabulary
  voices   every English voice of espeak-ng, flite and festival; the
           speaker-disjoint split; rendering one word with one voice
  noise    Gaussian, pink, Laplacian and recorded background noise; mixing
           at a given SNR
  augment  trimming, speed, time shift, gain, synthetic room reverb
  wavio    deterministic 16-bit WAV writing; reading any audio at 16 kHz
  layout   the Speech Commands layout (ours or a real download)
"""
