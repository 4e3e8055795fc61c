"""Two-spirals toy dataset and a tiny torch MLP classifier for the quickstart demo.

Everything here is seeded so that the same arguments give bit-identical metrics run to
run on the same machine: the quickstart's promotion gates are written against these
numbers, so they must not drift between invocations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

__all__ = ["SpiralNet", "TrainResult", "make_spirals", "train"]

# Each spiral arm sweeps this many radians. 1.5 turns is hard enough that a very small
# net visibly underfits, yet easy enough that a modest MLP separates it in a few seconds.
_SWEEP_RADIANS = 3.0 * np.pi
# Adam step size for full-batch training; large enough to converge in ~1k epochs.
_LEARNING_RATE = 0.01


def make_spirals(
    n_points: int, noise: float, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Generate the interleaved two-spirals dataset.

    Args:
        n_points: Total number of points; split as evenly as possible between the classes.
        noise: Standard deviation of the Gaussian jitter added to each coordinate (the
            spirals themselves span roughly [-1, 1]).
        seed: Seed for the numpy ``Generator``; the same seed gives the same dataset.

    Returns:
        ``(X, y)``: ``float32`` features of shape ``(n_points, 2)`` and ``int64`` labels of
        shape ``(n_points,)`` with values 0 or 1, in shuffled order so that any prefix/suffix
        split is a random, roughly class-balanced split.
    """
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2, got {n_points}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    n_class1 = n_points // 2
    n_class0 = n_points - n_class1
    labels = np.concatenate([np.zeros(n_class0, np.int64), np.ones(n_class1, np.int64)])
    # sqrt makes points uniform along the arm's area instead of crowding the centre.
    theta = np.sqrt(rng.uniform(0.0, 1.0, n_points)) * _SWEEP_RADIANS
    radius = theta / _SWEEP_RADIANS
    # Class 1 is class 0 rotated by pi, which interleaves the two arms.
    phase = np.where(labels == 1, np.pi, 0.0)
    points = np.stack(
        [radius * np.cos(theta + phase), radius * np.sin(theta + phase)], axis=1
    ) + rng.normal(0.0, noise, (n_points, 2))
    order = rng.permutation(n_points)
    return points[order].astype(np.float32), labels[order]


class SpiralNet(nn.Module):
    """A small fully connected classifier: ``depth`` hidden tanh layers, 2 output logits."""

    def __init__(self, hidden: int, depth: int) -> None:
        """Build the network.

        Args:
            hidden: Width of every hidden layer.
            depth: Number of hidden layers (at least 1).
        """
        super().__init__()
        if hidden < 1 or depth < 1:
            raise ValueError(f"hidden and depth must be >= 1, got {hidden=} {depth=}")
        layers: list[nn.Module] = []
        width_in = 2
        for _ in range(depth):
            # tanh rather than ReLU: smooth decision boundaries suit the curved spirals and
            # small nets do not suffer dead units.
            layers += [nn.Linear(width_in, hidden), nn.Tanh()]
            width_in = hidden
        layers.append(nn.Linear(width_in, 2))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, 2)`` float features to ``(batch, 2)`` class logits."""
        out: torch.Tensor = self.layers(x)
        return out


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`: the fitted model (in eval mode) and its metrics."""

    model: SpiralNet
    train_accuracy: float
    val_accuracy: float
    val_loss: float


def _evaluate(
    model: nn.Module, features: torch.Tensor, labels: torch.Tensor
) -> tuple[float, float]:
    """Return ``(accuracy, mean cross-entropy)`` of ``model`` on one batch."""
    with torch.no_grad():
        logits = model(features)
        loss = nn.functional.cross_entropy(logits, labels).item()
        accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    return float(accuracy), float(loss)


def train(
    hidden: int,
    depth: int,
    epochs: int,
    seed: int,
    X_train: npt.NDArray[np.float32],
    y_train: npt.NDArray[np.int64],
    X_val: npt.NDArray[np.float32],
    y_val: npt.NDArray[np.int64],
) -> TrainResult:
    """Train a :class:`SpiralNet` with full-batch Adam on CPU.

    Args:
        hidden: Hidden-layer width.
        depth: Number of hidden layers.
        epochs: Number of full-batch optimisation steps.
        seed: Seed for weight initialisation (via ``torch.manual_seed``).
        X_train: Training features, ``float32`` of shape ``(n, 2)``.
        y_train: Training labels, ``int64`` of shape ``(n,)``.
        X_val: Validation features, ``float32`` of shape ``(m, 2)``.
        y_val: Validation labels, ``int64`` of shape ``(m,)``.

    Returns:
        A :class:`TrainResult` whose model is in eval mode, with training accuracy and
        validation accuracy/loss measured after the last step.
    """
    # Full-batch training has no data-order randomness, so seeding the initialisation
    # is all it takes for the result to be deterministic.
    torch.manual_seed(seed)
    model = SpiralNet(hidden=hidden, depth=depth)
    optimizer = torch.optim.Adam(model.parameters(), lr=_LEARNING_RATE)
    features = torch.from_numpy(np.ascontiguousarray(X_train, dtype=np.float32))
    labels = torch.from_numpy(np.ascontiguousarray(y_train, dtype=np.int64))
    model.train()
    # One intra-op thread: these tensors are far too small to gain from parallelism, a
    # second thread makes training many times slower when other processes compete for the
    # cores, and a fixed thread count keeps float reductions (hence metrics) reproducible
    # across machines with different core counts. The caller's setting is restored.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(features), labels)
            # Same as loss.backward(), which is untyped in torch's stubs (fails mypy --strict).
            torch.autograd.backward(loss)
            optimizer.step()
    finally:
        torch.set_num_threads(previous_threads)
    model.eval()
    train_accuracy, _ = _evaluate(model, features, labels)
    val_accuracy, val_loss = _evaluate(
        model,
        torch.from_numpy(np.ascontiguousarray(X_val, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(y_val, dtype=np.int64)),
    )
    return TrainResult(
        model=model,
        train_accuracy=train_accuracy,
        val_accuracy=val_accuracy,
        val_loss=val_loss,
    )
