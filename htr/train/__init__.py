"""Training: the recogniser (rec.py with data.py, augment.py, plot.py) and the detector (det.py)."""
