"""flite with the span of every word of an utterance, for keywords said
inside running speech said by flite's voices (gen_incontext.py --engine
flite); espeak_timed.py does the same for espeak-ng.

flite's command line prints each segment (phone) of what it says with its
end time (-psdur), but not which word a phone belongs to. Each word said
alone gives its phones (-ps): flite's US English front end takes them from
its lexicon and letter-to-sound rules, the same in a phrase as alone. The
phrase's phones, pauses left out, must be the words' phones one after the
other; a word then spans from the end of the segment before its first phone
to the end of its last. A phrase whose phones do not match gets no spans.
Same voices and settings (stretch, f0) as voices.py's renderings;
deterministic.
"""
import functools

from . import voices


def _segments(out):
    """[(phone, end in seconds)] of flite -psdur's output line."""
    segs = []
    for tok in out.decode(errors='replace').split():
        ph, sep, t = tok.rpartition(':')
        if not sep:
            raise RuntimeError(f'flite -psdur: unexpected output {tok!r}')
        segs.append((ph, float(t)))
    return segs


@functools.lru_cache(maxsize=None)
def word_phones(name, word):
    """flite voice name's phones of word said alone, pauses left out."""
    out = voices._run(['flite', '-voice', name, '-ps', '-t', word, '-o', 'none'], f'flite:{name} -ps "{word}"')
    return tuple(ph for ph in out.decode(errors='replace').split() if ph != 'pau')


def render(voice_id, words, params):
    """(float32 samples, rate, spans): words said as one utterance by the
    flite voice voice_id ('flite:<name>') with voices.render_params()'s
    settings; spans[i] = (first, end) sample of words[i], or None for every
    word when the phrase's phones are not its words' phones. Raises
    ValueError for a word that is not lower-case letters, an engine other
    than flite or a voice flite does not have, RuntimeError when flite
    fails."""
    engine, name = voice_id.split(':', 1)
    if engine != 'flite':
        raise ValueError(f'{voice_id}: only flite voices have flite word times')
    if name not in voices.FLITE_VOICES:      # flite itself says the default voice instead
        raise ValueError(f'{voice_id}: no flite voice {name!r} ({", ".join(voices.FLITE_VOICES)})')
    for w in words:
        voices._check_word(w)
    x, sr, out = voices.flite_say(name, ' '.join(words), params, '-psdur')
    segs = _segments(out)
    spans, i = [], 0
    phones = [(k, ph) for k, (ph, _) in enumerate(segs) if ph != 'pau']
    for w in words:
        want = word_phones(name, w)
        got = phones[i:i + len(want)]
        if not want or tuple(ph for _, ph in got) != want:
            return x, sr, [None] * len(words)
        first, last = got[0][0], got[-1][0]
        start = segs[first - 1][1] if first > 0 else 0.0
        spans.append((min(x.size, round(start * sr)), min(x.size, round(segs[last][1] * sr))))
        i += len(want)
    if i != len(phones):
        return x, sr, [None] * len(words)
    return x, sr, spans
