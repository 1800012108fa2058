"""Text-line recognition: CRNN model (model.py), codec (blank = 0), CTC decoding with character and word spans
(decode.py), and the Recognizer that ties them to a weights file (recognizer.py).

Import from the modules: the package itself stays light so that the CLI starts without loading torch.
"""
