"""Text detection: DBNet maps (model.py, with its input normalisation), post-processing to polygons.

``from htr.detection.detector import Detector`` loads weights and detects; ``postprocess`` is torch-free. The
detector's training data, targets and loss are in ``htr.train`` (``det_data``, ``det_targets``, ``det_loss``).
"""
