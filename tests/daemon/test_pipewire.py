#!/usr/bin/python3
"""Live capture on PipeWire, the sound server of Debian 12 and Raspberry Pi
OS bookworm desktops: the live tests of test_live.py and test_truth.py run
again with a private PipeWire (pipewire + wireplumber + pipewire-pulse,
tests/daemon/pipewire.py) in place of PulseAudio. drsnd records the default
source (the monitor of a 16 kHz null sink) through ALSA's `pulse` device,
which talks to pipewire-pulse. Checked: device listing and selection, the
keywords of samples/keywords-clean.wav as level bursts with the player's
spacing, capture-to-socket latency, the server killed and restarted (drsnd
says so, retries, captures again), lost audio counted, and the shipped
model on samples/stream-noisy.wav against its ground truth."""
import test_live
import test_truth
from drsndtest import main, needs
from pipewire import PipeWire


@needs("portaudio")
def test_device_selection_pipewire():
    test_live.test_device_selection(Server=PipeWire)


@needs("portaudio")
def test_live_capture_and_device_loss_pipewire():
    test_live.test_live_capture_and_device_loss(Server=PipeWire)


@needs("portaudio")
def test_lost_audio_is_counted_and_logged_pipewire():
    test_live.test_lost_audio_is_counted_and_logged(Server=PipeWire)


@needs("portaudio")
def test_stream_sample_live_pipewire():
    """The sink runs at 16 kHz; drsnd records it at 16 kHz (README
    "PipeWire"). At the ALSA pulse device's default 44100 Hz, pipewire-pulse
    resamples it up, and the shipped model missed "left" and took it for "up"
    (9 of 10 keywords and a false detection, in 2 of 2 runs); recorded at
    16 kHz nothing resamples it. (A 48 kHz graph, PipeWire's
    default, resamples, and "left" came or went from run to run: not a test
    that can pass every time.)"""
    test_truth.test_stream_sample_live(Server=PipeWire, args=("--set", "audio.device_rate=16000"))


if __name__ == "__main__":
    main([test_device_selection_pipewire, test_live_capture_and_device_loss_pipewire,
          test_lost_audio_is_counted_and_logged_pipewire, test_stream_sample_live_pipewire])
