"""Ground truth on disk: pages beside their images (pages.py) and their lines as recogniser crops (lines.py);
corpora compiled from them for training (compile.py, corpus.py, sources.py, report.py, normalize.py)."""
