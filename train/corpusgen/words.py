"""The 22-class keyword task and the words that make up _unknown_.

TARGETS are the 20 core words of Speech Commands v2. _unknown_ is spoken by
the Speech Commands auxiliary words plus many others, most of them chosen to
be *near* a target (one phoneme away: "yet"/"yes", "town"/"down",
"heaven"/"seven") so that the model must listen to the whole word. Exact
homophones of a target ("know", "won", "too", "to", "for", "ate",
"write"; and "hate", which espeak-ng's West Midlands accent says without
its h) are left out on purpose: a synthesizer says them exactly like the
target, so as _unknown_ they would only be label noise. tests/train/test_corpus.py
checks with espeak-ng's phonemizer that no word here sounds like a target.
"""

TARGETS = ("yes no up down left right on off stop go "
           "zero one two three four five six seven eight nine").split()
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
LABELS = [SILENCE, UNKNOWN] + TARGETS   # class order (as train/export.py's DEFAULT_LABELS)

# Speech Commands v2 auxiliary words (its "unknown" words).
SC_AUXILIARY = ("bed bird cat dog happy house marvin sheila tree wow "
                "backward forward follow learn visual").split()

# One or two phonemes away from a target (grouped by the target they mimic).
NEAR_TARGETS = """
yet yeah yell mess guess less
now nose snow note new noon
cup pup hop sup
town gown brown crown clown dawn
lift loft theft lest
light ride bright fight wrote
own in gone john upon
of cough often awful
stock shop top step drop spot
goal ago goat glow grow show
zoo hero arrow zebra sierra
done fun run gun sun once
tooth tube tune true soup
free thread through thrill
fork fort floor door core more
hive fine file wife dive fire
sex sick sax fix mix sticks
heaven eleven several sever
bait gate late weight aid
nice line mine night dine knife
""".split()

# Other common words: commands, numbers and everyday speech.
OTHER = ("hello okay computer music water table window morning yellow orange "
         "apple baby number ten twelve twenty hundred thousand please thanks "
         "open close start pause play next back turn light volume").split()

UNKNOWN_WORDS = sorted(set(SC_AUXILIARY + NEAR_TARGETS + OTHER) - set(TARGETS))

# English words spoken exactly like a keyword: word -> the keyword
HOMOPHONES = {'know': 'no', 'to': 'two', 'too': 'two', 'for': 'four', 'fore': 'four', 'won': 'one',
              'ate': 'eight', 'write': 'right', 'rite': 'right'}


def label_index(label):
    """Class index of a label name (ValueError if it is not one of LABELS)."""
    return LABELS.index(label)
