"""Each HAM loss term contributes its own gradient (so switching it off is a real ablation)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from lungdx_widgets.model.data import prepare, read_records, to_network_units
from lungdx_widgets.model.losses import LossWeights, ham_loss
from lungdx_widgets.model.network import HamNet, NetConfig
from lungdx_widgets.model.train import ARCHITECTURES

LABELS = ("Pneumonia", "Infiltration")


@pytest.fixture(scope="module")
def batch(shared_data):
    records = read_records(shared_data / "labels.csv", shared_data / "boxes.csv")
    boxed = [r for r in records if any(b.label == "Pneumonia" for b in r.boxes)][:2]
    normal = [r for r in records if r.abnormal == 0.0][:2]
    return prepare(boxed + normal, shared_data / "images", LABELS, 64)


def _gradient(batch, weights: LossWeights) -> torch.Tensor:
    torch.manual_seed(0)
    net = HamNet(NetConfig(LABELS, input_size=64, stride16=True, **ARCHITECTURES["compact"]))
    out = net(to_network_units(batch.images))
    loss, _ = ham_loss(out, batch.targets, batch.abnormal, batch.box_masks.float(), batch.has_box, weights)
    loss.backward()
    return torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])


@pytest.mark.parametrize("term", ["labels", "abnormal", "box", "inside", "cover"])
def test_each_term_changes_the_gradient(batch, term):
    assert batch.has_box.any(), "the batch needs a boxed image for the box term"
    full = _gradient(batch, LossWeights())
    without = _gradient(batch, replace(LossWeights(), **{term: 0.0}))
    assert not torch.allclose(full, without), f"switching off '{term}' left the gradient unchanged"


def test_all_terms_off_gives_zero_gradient(batch):
    off = LossWeights(labels=0, abnormal=0, box=0, inside=0, cover=0)
    assert torch.count_nonzero(_gradient(batch, off)) == 0


def test_unknown_labels_are_masked(batch):
    net = HamNet(NetConfig(LABELS, input_size=64, stride16=True, **ARCHITECTURES["compact"]))
    out = net(to_network_units(batch.images))
    unknown = torch.full_like(batch.targets, float("nan"))
    _, parts = ham_loss(out, unknown, batch.abnormal, batch.box_masks.float(), batch.has_box, LossWeights())
    assert parts["labels"] == 0.0
