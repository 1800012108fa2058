"""Build htr/synth/fonts_manifest.json: pin each @fontsource package (version + npm integrity hash).

    python scripts/make_font_manifest.py            # asks `npm view` for every name below

Names not published are reported and left out. Re-run to move the pins forward.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Google Fonts' handwriting category (school hands, cursive, print-script, brush and marker hands).
HANDWRITING = """
alex-brush allison allura amatic-sc annie-use-your-telescope architects-daughter arizonia bad-script
beth-ellen bilbo birthstone birthstone-bounce bonbon butterfly-kids calligraffitti caramel caveat
caveat-brush cedarville-cursive charm charmonman cherish chilanka comforter comforter-brush coming-soon
condiment cookie corinthia courgette covered-by-your-grace crafty-girls damion dancing-script
dawning-of-a-new-day dekko delicious-handrawn delius delius-swash-caps delius-unicase devonshire
dr-sugiyama edu-au-vic-wa-nt-hand edu-au-vic-wa-nt-pre edu-nsw-act-foundation edu-qld-beginner
edu-sa-beginner edu-tas-beginner edu-vic-wa-nt-beginner engagement ephesis estonia euphoria-script
explora felipa fleur-de-leah fuggles gaegu give-you-glory gloria-hallelujah gochi-hand grand-hotel
grape-nuts great-vibes grechen-fuemen gwendolyn hachi-maru-pop handlee herr-von-muellerhoff homemade-apple
hurricane indie-flower inspiration island-moments italianno itim julee just-another-hand
just-me-again-down-here kalam kaushan-script kite-one klee-one kolker-brush kristi la-belle-aurore
league-script leckerli-one licorice love-light loved-by-the-king lovers-quarrel luxurious-script mali
mansalva marck-script meddon merienda mea-culpa miss-fajardose monsieur-la-doulaise montecarlo montez
moon-dance mr-bedfort mr-dafoe mr-de-haviland mrs-saint-delafield mrs-sheppards ms-madi my-soul
nanum-pen-script neucha nothing-you-could-do norican oooh-baby ole over-the-rainbow pangolin parisienne
passions-conflict patrick-hand patrick-hand-sc permanent-marker petit-formal-script pinyon-script playball
playpen-sans playwrite-ar playwrite-at playwrite-au-nsw playwrite-au-qld playwrite-au-sa playwrite-au-tas
playwrite-au-vic playwrite-be-vlg playwrite-be-wal playwrite-br playwrite-ca playwrite-cl playwrite-co
playwrite-cu playwrite-cz playwrite-de-grund playwrite-de-la playwrite-de-sas playwrite-de-va
playwrite-dk-loopet playwrite-dk-uloopet playwrite-es playwrite-es-deco playwrite-fr-moderne
playwrite-fr-trad playwrite-gb-j playwrite-gb-s playwrite-hr playwrite-hr-lijeva playwrite-hu
playwrite-id playwrite-ie playwrite-in playwrite-is playwrite-it-moderna playwrite-it-trad playwrite-mx
playwrite-ng-modern playwrite-nl playwrite-no playwrite-nz playwrite-pe playwrite-pl playwrite-pt
playwrite-ro playwrite-sk playwrite-tz playwrite-us-modern playwrite-us-trad playwrite-vn playwrite-za
qwigley qwitcher-grypen rancho redressed reenie-beanie rochester rock-salt ruge-boogie ruthie sacramento
sassy-frass satisfy schoolbell sedgwick-ave send-flowers shadows-into-light shadows-into-light-two
shantell-sans short-stack smooch sofia square-peg stalemate sue-ellen-francisco sunshiney
swanky-and-moo-moo tangerine the-girl-next-door twinkle-star vibur vujahday-script waiting-for-the-sunrise
walter-turncoat water-brush waterfall whisper windsong yellowtail yesteryear zeyada
""".split()

# Print: serif, sans, monospace and typewriter faces for letterheads, labels and printed text.
PRINT = """
anonymous-pro arimo caladea cardo carlito courier-prime cousine crimson-text cutive cutive-mono
dejavu-sans dejavu-mono eb-garamond fira-mono gelasio ibm-plex-mono ibm-plex-sans ibm-plex-serif
im-fell-english inconsolata lato libre-baskerville libre-franklin lora merriweather noto-sans noto-serif
old-standard-tt open-sans overpass-mono pt-mono pt-sans pt-serif roboto roboto-mono roboto-slab
source-sans-3 source-serif-4 space-mono special-elite tinos vollkorn work-sans zilla-slab
""".split()

OUT = Path(__file__).resolve().parents[1] / "htr" / "synth" / "fonts_manifest.json"


def view(name: str) -> dict | None:
    """Pinned version, integrity and family name of @fontsource/NAME, or None when not published."""
    proc = subprocess.run(["npm", "view", f"@fontsource/{name}", "version", "dist.integrity", "description",
                           "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    info = json.loads(proc.stdout)
    match = re.search(r"Self-host the (.+?) font", info.get("description", ""))
    return {"package": f"@fontsource/{name}", "version": info["version"],
            "integrity": info["dist.integrity"], "family": match.group(1) if match else name}


def main() -> int:
    names = [(n, "handwriting") for n in HANDWRITING] + [(n, "print") for n in PRINT]
    with ThreadPoolExecutor(8) as pool:
        infos = list(pool.map(lambda item: view(item[0]), names))
    fonts, missing = [], []
    for (name, kind), info in zip(names, infos):
        if info is None:
            missing.append(name)
        else:
            fonts.append({**info, "kind": kind})
    OUT.write_text(json.dumps({"fonts": fonts}, indent=1) + "\n")
    counts = {k: sum(f["kind"] == k for f in fonts) for k in ("handwriting", "print")}
    print(f"wrote {OUT}: {counts}; not published: {' '.join(missing) or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
