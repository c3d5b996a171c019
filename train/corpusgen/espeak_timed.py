"""espeak-ng through its library (libespeak-ng.so.1, ctypes), for the one
thing its command line cannot give: where each word of an utterance starts.

The library reports a word event with the sample at which the word's first
phoneme begins (speak_lib.h, espeakEVENT_WORD). A phrase rendered as one
utterance then comes with the span of every word in it, and a keyword said
inside running speech can be cut out with its neighbours around it and its
own position known. Same voices (voices.py's espeak ids), same SSML prosody
as voices.py's command-line renderings; deterministic.

espeak-ng joins some unstressed words to their neighbour and reports one
event for both ("for the"): a word without an event of its own has no span.
"""
import ctypes
import ctypes.util
import os
import pickle

import numpy as np

from . import voices

_EV_WORD, _EV_END, _EV_MSG_TERMINATED = 1, 5, 6
_SYNCHRONOUS = 2          # espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS
_CHARS_UTF8, _SSML = 1, 0x10
_POS_CHARACTER = 1


class _Id(ctypes.Union):
    _fields_ = [('number', ctypes.c_int), ('name', ctypes.c_char_p), ('string', ctypes.c_char * 8)]


class _Event(ctypes.Structure):      # espeak_EVENT
    _fields_ = [('type', ctypes.c_int), ('unique_identifier', ctypes.c_uint),
                ('text_position', ctypes.c_int), ('length', ctypes.c_int),
                ('audio_position', ctypes.c_int), ('sample', ctypes.c_int),
                ('user_data', ctypes.c_void_p), ('id', _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


class _Lib:
    """The library, initialised once per process and never used there: each
    utterance is synthesised in a forked child, which starts from the state
    just after initialisation. The library keeps state from one utterance
    to the next (the same text renders a few samples longer or shorter the
    second time), and espeak_Terminate followed by espeak_Initialize hangs."""

    def __init__(self):
        name = ctypes.util.find_library('espeak-ng') or 'libespeak-ng.so.1'
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise RuntimeError(f'espeak-ng library: {e} (apt-get install libespeak-ng1)') from e
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, None, 0)
        if self.rate <= 0:
            raise RuntimeError('espeak-ng library: espeak_Initialize failed (is espeak-ng-data installed?)')
        self.lib = lib
        self.chunks, self.events = [], []
        self.cb = _CALLBACK(self._on_audio)      # kept alive as long as the library holds it
        lib.espeak_SetSynthCallback(self.cb)

    def _on_audio(self, wav, n, ev):
        if wav and n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (n,)).astype(np.float32) / 32768.0)
        i = 0
        while ev[i].type != 0:
            e = ev[i]
            self.events.append((e.type, e.text_position, e.length, e.sample))
            i += 1
        return 0

    def synth(self, voice, text):
        """(float32 samples at self.rate, [(type, text position (1-based
        characters), length, sample)]) of SSML text in voice."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise RuntimeError(f'espeak-ng library: no voice {voice!r}')
        self.chunks, self.events = [], []
        data = text.encode()
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _SSML, None, None)
        if err != 0:
            raise RuntimeError(f'espeak-ng library: espeak_Synth returned {err} for {text!r}')
        x = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        return x, list(self.events)


def _in_child(fn, *args):
    """fn(*args) in a forked child with a library of its own; its result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                         # child: never returns
        code = 0
        try:
            os.close(r)
            try:
                res = ('ok', fn(*args))
            except Exception as e:       # handed to the parent, which raises it
                res = ('error', f'{type(e).__name__}: {e}')
            with os.fdopen(w, 'wb') as f:
                pickle.dump(res, f, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, 'rb') as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f'espeak-ng library: the rendering process died (wait status {status})')
    kind, val = pickle.loads(data)
    if kind != 'ok':
        raise RuntimeError(val)
    return val


_lib = None


def _synth(voice, text):
    x, events = _lib.synth(voice, text)
    return x, _lib.rate, events


def render(voice_id, words, params):
    """Render the words (a list) as one utterance in an espeak voice id
    ('espeak:ACCENT+VARIANT') with voices.render_params() prosody. Returns
    (float32 samples, rate, spans) where spans[i] is (start, end) in samples
    of words[i], or None when espeak-ng gave that word no event of its own.
    A word ends where the next event (word or clause end) begins."""
    engine, name = voice_id.split(':', 1)
    if engine != 'espeak':
        raise ValueError(f'voice {voice_id!r}: only espeak-ng voices report word times')
    for w in words:
        voices._check_word(w)
    global _lib
    if _lib is None:
        _lib = _Lib()
    head = f'<speak><prosody rate="{params["rate"]}%" pitch="{params["pitch"]:+d}%">'
    pos, p = [], len(head) + 1          # espeak counts characters from 1
    for w in words:
        pos.append(p)
        p += len(w) + 1
    text = head + ' '.join(words) + '.</prosody></speak>'
    x, rate, events = _in_child(_synth, voices._espeak_cmd(name), text)
    marks = sorted((s, t, tp) for t, tp, _, s in events if t in (_EV_WORD, _EV_END, _EV_MSG_TERMINATED))
    spans = []
    for q in pos:
        starts = [s for s, t, tp in marks if t == _EV_WORD and tp == q]
        if not starts:
            spans.append(None)
            continue
        after = [s for s, _, _ in marks if s > starts[0]]
        spans.append((starts[0], min(after) if after else x.size))
    return x, rate, spans
