"""The local web app of `htr view` (Flask): one page (``static/``) over a small JSON API on ``htr.view.pages``.

    GET  /                 the app: the scan with its lines and words drawn, the text of each line beside it
    GET  /api/pages        the pages: id, read or not, lines and checked lines
    GET  /api/page/ID      a page's lines and words; 202 while a page not yet read is being read
    GET  /api/image/ID     its scan, as JPEG
    POST /api/page/ID      save: {"version": ..., "lines": [{"id": "l3", "text": "...", "checked": true}, ...]}
    POST /api/export       write the pages with checked lines to the export folder, for training

A page is looked up by its id, never by joining a path, so nothing outside the pages can be asked for: an
unknown page is a 404, a malformed save a 400 (nothing written), a save of a page changed on disk since a 409.
Served on a loopback address, a request that names another host (DNS rebinding) gets 403, and so does a POST
from a page of another origin.
"""
from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, abort, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server

from htr.errors import HTRError, one_line
from htr.view.pages import Conflict, EditError, Pages, ViewPage, export, image_jpeg, load, page_json, summary

STATIC = Path(__file__).with_name("static")
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(pages: Pages, export_to: str | Path, threshold: float = 0.7, local_only: bool = True) -> Flask:
    """The app over ``pages``; ``export_to``: the folder the Export button writes; ``threshold``: words under
    this confidence are highlighted; ``local_only``: refuse requests that name a host other than this machine."""
    export_to = Path(export_to).resolve()
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 8 * 2 ** 20

    def lookup(page_id: str) -> ViewPage:
        page = pages.pages.get(page_id)
        if page is None:
            abort(404, f"no page {page_id[:80]!r}")
        return page

    @app.before_request
    def guard():
        if local_only and (urlsplit("//" + request.host).hostname or "") not in LOCAL_NAMES:
            abort(403, "this server answers requests for this machine only (start it with --host to serve others)")
        origin = request.headers.get("Origin")
        if request.method == "POST" and origin and urlsplit(origin).netloc != request.host:
            abort(403, "requests from pages of another site are refused")

    @app.errorhandler(HTTPException)
    def as_json(err: HTTPException):
        return jsonify(error=err.description), err.code

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get("/api/pages")
    def list_pages():
        return {"pages": [summary(pages.pages[i]) for i in pages.order], "threshold": threshold,
                "export": str(export_to)}

    @app.get("/api/page/<path:page_id>")
    def get_page(page_id: str):
        page = lookup(page_id)
        reading = pages.reading(page)
        if reading is not None:
            if not reading.done():
                return {"id": page.id, "status": "reading"}, 202
            pages.forget(page)
            if reading.exception() is not None:
                return {"error": f"cannot read the page: {one_line(reading.exception())}"}, 500
        try:
            doc, checked = load(page)
        except HTRError as err:
            return {"error": one_line(err)}, 500
        index = pages.order.index(page.id)
        following = pages.pages[pages.order[index + 1]] if index + 1 < len(pages.order) else None
        if following is not None and following.result is None and following.image is not None:
            pages.reading(following)  # read the next page meanwhile
        return page_json(page, doc, checked)

    @app.get("/api/image/<path:page_id>")
    def get_image(page_id: str):
        page = lookup(page_id)
        if page.image is None:
            abort(404, "no scan found for this page")
        try:
            data = image_jpeg(page)
        except HTRError as err:
            abort(500, one_line(err))
        return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=600"})

    @app.post("/api/page/<path:page_id>")
    def save_page(page_id: str):
        page = lookup(page_id)
        body = request.get_json(silent=True)
        if body is None:
            abort(400, "the body must be JSON (Content-Type: application/json)")
        try:
            return pages.save(page, body)
        except Conflict as err:
            abort(409, str(err))
        except EditError as err:
            abort(400, str(err))

    @app.post("/api/export")
    def export_pages():
        if request.get_json(silent=True) is None:
            abort(400, "the body must be JSON (Content-Type: application/json)")
        return export([pages.pages[i] for i in pages.order], export_to)

    return app


def make_view_server(pages: Pages, host: str, port: int, export_to: str | Path,
                     threshold: float = 0.7) -> BaseWSGIServer:
    """A threaded HTTP server of the app on ``host``:``port`` (0: a free port, ``server.server_port``); run it
    with ``serve_forever()``, stop it with ``shutdown()``. Requests are not logged, errors are."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(pages, export_to, threshold, local_only=is_loopback(host))
    return make_server(host, port, app, threaded=True)
