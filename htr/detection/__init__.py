"""Text detection: DBNet maps (model.py), targets and loss for training, post-processing to polygons.

``from htr.detection.detector import Detector`` loads weights and detects; ``postprocess`` is torch-free.
"""
