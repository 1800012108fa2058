"""`htr view PATH...`: correct pages in the browser (a local web app); `--export-only`: write the corrected pages
as training data."""
from __future__ import annotations

import sys
from pathlib import Path

from htr.cli.options import add_reader_options, reader
from htr.errors import HTRError, plural


def register(commands) -> None:
    p = commands.add_parser(
        "view", help="correct pages in the browser; export the corrected ones for training",
        description="Serve a local web app to check and correct pages: the scan, zoomable, with its line and word "
                    "polygons; the text of each line beside it, editable; words under --threshold highlighted. A page "
                    "without a result is read on first view, into htr's cache: looking writes nothing beside the "
                    "scans. Save writes KEY.page.xml (PAGE-XML 2019) beside the result (or the scan), or under --out, "
                    "keeping the file it replaces as KEY.page.xml.bak; lines a person edited or marked carry "
                    "'htr {checked:true;}' in their custom attribute. Export (the button, or --export-only) writes "
                    "the pages with checked lines, with their scans, to a folder `htr train rec --data` and "
                    "`htr data compile` take; lines not checked keep their outline but no text.",
        epilog="Example: htr batch scans/ out/ && htr view out/ scans/, then open the address it prints. "
               "Exit codes: 0 stopped with Ctrl-C (or exported), 1 no pages found or nothing to export, "
               "2 bad arguments.")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="page images (or PDFs), PAGE/ALTO/JSON results, or folders of them, e.g. an `htr batch` "
                        "output folder and its input folder (pages are matched by their path under each folder)")
    p.add_argument("--port", type=int, default=8765, help="the port (default: 8765; 0: a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to serve on (default: 127.0.0.1, this machine only; another address lets anyone "
                        "who reaches it read and change the pages)")
    p.add_argument("--threshold", type=float, default=0.7,
                   help="highlight words whose confidence is under this (0-1; default: 0.7)")
    p.add_argument("--out", metavar="DIR",
                   help="save pages under DIR (DIR/KEY.page.xml) instead of beside their result or scan")
    p.add_argument("--export", default="corrected", metavar="DIR",
                   help="the folder exports are written to (default: ./corrected)")
    p.add_argument("--export-only", action="store_true",
                   help="write the pages with checked lines to --export's folder and exit, without serving")
    add_reader_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from htr.view.pages import Pages, export, find_pages
    from htr.view.server import is_loopback, make_view_server

    found = find_pages(args.paths, skip=[args.export])
    if not found:
        raise HTRError(f"no page images or PAGE/ALTO/JSON results in {', '.join(args.paths)}")
    if args.export_only:
        count = export(found, args.export)
        if not count["pages"]:
            raise HTRError(f"none of the {plural(len(found), 'page')} has a checked line yet: nothing exported")
        print(f"{plural(count['pages'], 'page')}, {plural(count['lines'], 'checked line')} exported to "
              f"{Path(args.export)}")
        return 0
    pages = Pages(found, make_reader=lambda: reader(args), out=args.out)
    try:
        server = make_view_server(pages, args.host, args.port, args.export, args.threshold)
    except OSError as err:
        raise HTRError(f"cannot serve on {args.host}:{args.port} ({err.strerror or err})") from err
    if not is_loopback(args.host):
        print(f"htr: warning: serving on {args.host}: anyone who can reach it can read and change the pages",
              file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"htr view: {plural(len(found), 'page')} at http://{host}:{server.server_port}/ (Ctrl-C stops)",
          file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        pages.close()
    return 0
