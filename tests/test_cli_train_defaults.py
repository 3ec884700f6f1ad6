"""``lungdx train`` options carry no defaults of their own: TrainConfig's are the only ones."""

from __future__ import annotations

from dataclasses import fields

from lungdx_widgets.cli import build_parser
from lungdx_widgets.cli.model import TRAIN_OPTIONS
from lungdx_widgets.model.train import TrainConfig


def test_unset_options_leave_train_config_defaults():
    args = build_parser().parse_args(["train", "--out", "weights/x.pt"])
    assert not any(hasattr(args, dest) for dest in TRAIN_OPTIONS), "no second copy of a TrainConfig default"
    given = build_parser().parse_args(["train", "--out", "weights/x.pt", "--lr", "0.5", "--size", "96"])
    assert (given.lr, given.size) == (0.5, 96)


def test_every_option_names_a_train_config_field():
    assert set(TRAIN_OPTIONS.values()) <= {f.name for f in fields(TrainConfig)}
