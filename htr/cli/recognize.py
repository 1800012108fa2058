"""`htr recognize LINE.png...`: the text of cropped line images."""
from __future__ import annotations

import json

from htr.cli.options import add_json, add_recognizer_options, recognizer


def register(commands) -> None:
    p = commands.add_parser("recognize", help="read the text of line images",
                            description="Recognise the text of line images (one text line per image, cropped).")
    p.add_argument("images", nargs="+", help="line images (one text line each, any height)")
    add_recognizer_options(p)
    add_json(p, "print JSON: confidences, character and word spans")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print each line image's text (prefixed with its file name when there are several)."""
    from htr.imageio import load_image

    rec = recognizer(args)
    results = rec.recognize([load_image(path) for path in args.images])
    if args.json:
        out = [{"file": str(p), **r.to_dict()} for p, r in zip(args.images, results)]
        print(json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False, indent=1))
    else:
        for path, r in zip(args.images, results):
            print(r.text if len(args.images) == 1 else f"{path}\t{r.text}")
    return 0
