"""`htr view`: correcting pages in the browser. ``htr.view.pages`` finds, reads, saves and exports the pages;
``htr.view.server`` is the local web app (Flask) over them, with its page in ``static/``."""
