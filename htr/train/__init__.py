"""Training: the recogniser (rec.py with data.py, augment.py, plot.py) and the detector (det.py with
det_data.py, det_targets.py and det_loss.py)."""
