"""The turn classifier's network: build it, fit it with torch, export it to ONNX.

Needs the ``train`` extra (torch, onnx); the session only ever runs the exported graph
on onnxruntime (models/turn/classifier).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omnivox.models.turn.features import EXTRA_DIM, FRAME_DIM, N_MELS, TEXT_BUCKETS, WINDOW_FRAMES


@dataclass
class Examples:
    """Model inputs and targets, one row per query of a clip."""

    frames: np.ndarray  # (n, WINDOW_FRAMES, FRAME_DIM) float16 to halve memory
    mask: np.ndarray
    extra: np.ndarray
    task: np.ndarray  # 0 overlap (p_takeover), 1 pause (p_finished)
    target: np.ndarray  # 1 take-over / finished


def _build_model(stats: dict[str, np.ndarray]) -> Any:
    import torch
    from torch import nn

    class TurnNet(nn.Module):
        """Convolutions over frames, masked mean/max and newest-frames pooling, plus an
        MLP over text and context; outputs (p_takeover, p_finished)."""

        def __init__(self) -> None:
            super().__init__()
            for name, value in stats.items():
                self.register_buffer(name, torch.tensor(value, dtype=torch.float32))
            self.conv = nn.Sequential(
                nn.Conv1d(FRAME_DIM, 32, 5, stride=2, padding=2),
                nn.ReLU(),
                nn.Conv1d(32, 48, 5, stride=2, padding=2),
                nn.ReLU(),
                nn.Conv1d(48, 64, 3, padding=1),
                nn.ReLU(),
            )
            self.side = nn.Sequential(nn.Linear(EXTRA_DIM, 64), nn.ReLU())
            self.head = nn.Sequential(
                nn.Dropout(0.3),
                nn.Linear(3 * 64 + 64, 64),
                nn.ReLU(),
                nn.Dropout(0.3),
                nn.Linear(64, 2),
            )

        def logits(self, frames: Any, mask: Any, extra: Any) -> Any:
            x = (frames - self.frame_mean) / self.frame_std * mask.unsqueeze(-1)
            h = self.conv(x.transpose(1, 2))  # (batch, 64, WINDOW_FRAMES / 4)
            m = mask[:, 3::4].unsqueeze(1)  # a strided step exists if its last frame does
            count = m.sum(dim=2)
            mean = (h * m).sum(dim=2) / count.clamp(min=1.0)
            peak = (h * m - (1.0 - m) * 1e4).max(dim=2).values * (count > 0.5).float()
            newest = h[:, :, -5:].mean(dim=2)
            side = self.side((extra - self.extra_mean) / self.extra_std)
            return self.head(torch.cat([mean, peak, newest, side], dim=1))

        def forward(self, frames: Any, mask: Any, extra: Any) -> Any:
            return torch.sigmoid(self.logits(frames, mask, extra))

    return TurnNet()


def _stats(data: Examples) -> dict[str, np.ndarray]:
    valid = data.mask.astype(bool)
    frames = data.frames[valid].astype(np.float32)
    return {
        "frame_mean": frames.mean(axis=0),
        "frame_std": frames.std(axis=0) + 1e-3,
        "extra_mean": data.extra.mean(axis=0),
        "extra_std": data.extra.std(axis=0) + 1e-3,
    }


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties counted half)."""
    pos, neg = score[positive], score[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return 0.5
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(above / (len(pos) * len(neg)))


def validation_auc(probs: np.ndarray, val: Examples) -> float:
    """Mean over the two tasks of each output's AUC on that task's rows.

    The model is chosen by this rather than by loss: the early overlap queries (200 ms
    of "yeah" or of "wait" sound alike) dominate the loss and punish confidence, while
    the decision thresholds are tuned afterwards anyway.
    """
    return float(
        np.mean([_auc(probs[val.task == k, k], val.target[val.task == k] > 0.5) for k in (0, 1)])
    )


def train(data: Examples, val: Examples, epochs: int, max_train_s: float, seed: int) -> Any:
    """Fit on ``data``; keep the weights with the best validation AUC; stop after
    ``epochs`` or once ``max_train_s`` is spent."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    model = _build_model(_stats(data))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    # Each task's two classes weigh the same, whatever their counts.
    weight = np.ones(len(data.target), np.float32)
    for task in (0, 1):
        for cls in (0.0, 1.0):
            pick = (data.task == task) & (data.target == cls)
            weight[pick] = 0.5 * (data.task == task).sum() / max(pick.sum(), 1)

    def tensors(d: Examples, rows: Any) -> tuple[Any, ...]:
        return (
            torch.from_numpy(d.frames[rows].astype(np.float32)),
            torch.from_numpy(d.mask[rows]),
            torch.from_numpy(d.extra[rows]),
        )

    def perturbed(d: Examples, rows: Any) -> tuple[Any, ...]:
        """SpecAugment-style masks (a band of mel channels, a stretch of time) and, for
        half the rows, no bag of words: the model may not lean on one phrase's words."""
        frames, mask, extra = tensors(d, rows)
        for i in range(len(rows)):
            band = int(rng.integers(0, N_MELS - 6))
            frames[i, :, band : band + int(rng.integers(0, 7))] = 0.0
            start = int(rng.integers(0, WINDOW_FRAMES - 20))
            frames[i, start : start + int(rng.integers(0, 21)), :N_MELS] = 0.0
        drop = torch.from_numpy(rng.random(len(rows)) < 0.5)
        extra[drop, EXTRA_DIM - TEXT_BUCKETS :] = 0.0
        return frames, mask, extra

    def loss_of(out: Any, d: Examples, rows: Any, w: Any) -> Any:
        logit = out.gather(1, torch.from_numpy(d.task[rows]).unsqueeze(1)).squeeze(1)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logit, torch.from_numpy(d.target[rows]), reduction="none"
        )
        return (bce * w).sum() / w.sum()

    started, best, best_state = time.monotonic(), -1.0, None
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(data.target))
        for i in range(0, len(order), 128):
            rows = order[i : i + 128]
            loss = loss_of(
                model.logits(*perturbed(data, rows)), data, rows, torch.from_numpy(weight[rows])
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            score = validation_auc(model(*tensors(val, np.arange(len(val.target)))).numpy(), val)
        if score > best:
            best = score
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        print(
            f"epoch {epoch + 1}/{epochs}: train loss {float(loss.detach()):.3f}, "
            f"validation AUC {score:.3f}",
            file=sys.stderr,
        )
        if time.monotonic() - started > max_train_s:
            print("training time budget spent; stopping", file=sys.stderr)
            break
    model.load_state_dict(best_state)
    model.eval()
    return model


def export(model: Any, path: Path, check: Examples, metadata: dict[str, str]) -> None:
    """Write the ONNX graph, prove onnxruntime agrees with torch, add the metadata."""
    import warnings

    import onnx
    import onnxruntime as ort
    import torch

    rows = np.arange(min(64, len(check.target)))
    inputs = (
        torch.from_numpy(check.frames[rows].astype(np.float32)),
        torch.from_numpy(check.mask[rows]),
        torch.from_numpy(check.extra[rows]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model,
            inputs,
            str(path),
            input_names=["frames", "mask", "extra"],
            output_names=["probs"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={n: {0: "batch"} for n in ("frames", "mask", "extra", "probs")},
        )
    graph = onnx.load(str(path))
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    with torch.no_grad():
        expected = model(*inputs).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(
        ["probs"],
        {"frames": inputs[0].numpy(), "mask": inputs[1].numpy(), "extra": inputs[2].numpy()},
    )
    worst = float(np.abs(got - expected).max())
    if worst > 1e-4:
        raise RuntimeError(f"onnxruntime and torch disagree by {worst:.2e} on the check batch")


def set_metadata(path: Path, updates: dict[str, str]) -> None:
    import onnx

    graph = onnx.load(str(path))
    kept = [p for p in graph.metadata_props if p.key not in updates]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    for key, value in updates.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
