#!/usr/bin/python3
"""Fetch instrumental music from Debian's archive, for training and testing
against music false alarms.

  /usr/bin/python3 train/fetch_music.py --out train/music

Debian 12 has no music collection, but its games ship soundtracks. This
downloads the packages below with `apt-get download` (no root, nothing
installed) and copies their music into two folders, split by package so
that no track, and no composer's game, is on both sides:

  OUT/train/PACKAGE/   for train.py --event-music OUT/train
  OUT/test/PACKAGE/    for evaluate_events.py --music-dir OUT/test (with
                       lincity-ng-data's three tracks, the default)

The files are copied as they are (Ogg Vorbis or WAV); train.py and
evaluate_events.py decode them with sox.
"""
import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile

# package -> file patterns inside it (paths relative to /)
TRAIN = {
    'extremetuxracer-data': ['usr/share/games/etr/music/*.ogg'],          # 10 tracks, 9.5 min
    'btanks-data': ['usr/share/games/btanks/data/tunes/*.ogg'],             # 8 tracks, 12.2 min
    'xmoto-data': ['usr/share/games/xmoto/Textures/Musics/*.ogg'],          # 7 tracks, 11.6 min
    'abe-data': ['usr/share/games/abe/sounds/game.ogg', 'usr/share/games/abe/sounds/intro.ogg'],    # 2.4 min
}
TEST = {
    'frozen-bubble-data': ['usr/share/games/frozen-bubble/snd/*zik*.ogg'],  # 3 tracks, 11.7 min
    'alienblaster-data': ['usr/share/games/alienblaster/sound/intro.wav',
                          'usr/share/games/alienblaster/sound/playon.wav'],
}


def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise OSError(f'{" ".join(cmd)}: {(r.stderr or r.stdout).strip()[-300:]}')


def unpack(package, work, root):
    """The .deb of package in work (downloaded with `apt-get download` unless
    one is there), unpacked under root once (a marker beside the .deb keeps
    a second call from rewriting the files); returns the .deb's file name.
    Raises OSError naming the package."""
    def debs():
        return sorted(f for f in os.listdir(work) if f.startswith(package + '_') and f.endswith('.deb'))
    if not debs():
        run(['apt-get', 'download', package], cwd=work)
    if not debs():
        raise OSError(f'{package}: apt-get download left no .deb in {work}')
    deb = debs()[-1]
    done = os.path.join(work, deb + '.unpacked')
    if not os.path.exists(done):
        run(['dpkg-deb', '-x', os.path.join(work, deb), root])
        open(done, 'w').close()
    return deb


def fetch(package, patterns, dest, work):
    """Download package into work, copy the files matching patterns to
    dest; returns their names. Raises OSError naming the package."""
    root = os.path.join(work, package)
    unpack(package, work, root)
    got = []
    os.makedirs(dest, exist_ok=True)
    for d, _, files in os.walk(root):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(d, f), root)
            if any(fnmatch.fnmatch(rel, p) for p in patterns):
                shutil.copy(os.path.join(d, f), os.path.join(dest, f))
                got.append(f)
    if not got:
        raise OSError(f'{package}: no file matches {", ".join(patterns)}')
    return sorted(got)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'music'))
    a = ap.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix='drsn-music-') as work:
            for side, table in (('train', TRAIN), ('test', TEST)):
                for package, patterns in table.items():
                    got = fetch(package, patterns, os.path.join(a.out, side, package), work)
                    print(f'fetch_music: {side}/{package}: {len(got)} files', file=sys.stderr)
    except OSError as e:
        print(f'fetch_music: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
