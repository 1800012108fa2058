"""A tiny model learns three lines drawn here by heart: the model, CTC loss and decoding fit together."""
import time

import cv2
import numpy as np
import torch

from htr.recognition.codec import Codec
from htr.recognition.decode import greedy_decode
from htr.recognition.model import RecConfig, build_model
from htr.recognition.recognizer import make_batch, normalize

TEXTS = ["abc", "cab ba", "bad"]


def draw(text: str) -> np.ndarray:
    img = np.full((24, 12 + 16 * len(text)), 245, np.uint8)  # small, to keep the test fast
    cv2.putText(img, text, (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 20, 1, cv2.LINE_AA)
    return img


def test_overfit_three_lines():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        codec = Codec("abcd ")
        model = build_model(RecConfig(num_classes=len(codec), height=24, channels=(8, 16, 32, 32), hidden=32,
                                         dropout=0.0))
        x, widths = make_batch([normalize(draw(t)) for t in TEXTS])
        targets = torch.tensor([i for t in TEXTS for i in codec.encode(t)])
        lengths = torch.tensor([len(t) for t in TEXTS])
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        ctc = torch.nn.CTCLoss(zero_infinity=True)
        start = time.time()
        for step in range(400):
            lp = model(x, widths).log_softmax(-1)
            loss = ctc(lp.transpose(0, 1), targets, model.frames(widths), lengths)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 24:
                model.eval()
                with torch.no_grad():
                    out = model(x, widths).log_softmax(-1).numpy()
                model.train()
                texts = [greedy_decode(out[i, : int(model.frames(widths[i]))], codec).text for i in range(3)]
                if texts == TEXTS or time.time() - start > 30:
                    break
        assert texts == TEXTS, f"after {step + 1} steps ({time.time() - start:.0f} s), loss {loss.item():.3f}"
    finally:
        torch.set_num_threads(threads)
