"""Left-right flips in training, test-time flip averaging and the lung-field prior.

These are the measures against this data's location shortcut (every pneumonia peak on one side),
so each one is checked for doing exactly what it claims: flipping image and box mask together,
mirror-consistent predictions, and a prior that moves peaks into the lungs without touching scores.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from lungdx_widgets.model.analyze import Analyzer, forward
from lungdx_widgets.model.data import augment
from lungdx_widgets.model.localize import lung_field_prior, peak


def test_hflip_mirrors_image_and_box_mask_together():
    images = torch.zeros(64, 1, 32, 32)
    images[:, :, 10:14, 2:6] = 1.0          # a bright patch on the image's left
    masks = (images > 0).float()            # its box mask
    _, flipped_masks = augment(images.clone(), masks.clone(), torch.Generator().manual_seed(0), hflip=True)
    left = flipped_masks[..., :16].sum(dim=(1, 2, 3))
    right = flipped_masks[..., 16:].sum(dim=(1, 2, 3))
    moved = right > left
    assert 10 < int(moved.sum()) < 54, "about half of the batch is mirrored"
    _, kept = augment(images.clone(), masks.clone(), torch.Generator().manual_seed(0), hflip=False)
    assert (kept[..., 16:].sum(dim=(1, 2, 3)) < kept[..., :16].sum(dim=(1, 2, 3))).all()


def test_flip_tta_makes_predictions_mirror_consistent(tiny_checkpoint, shared_data):
    analyzer = Analyzer.load(tiny_checkpoint)
    analyzer.model.config = replace(analyzer.config, flip_tta=True, lung_prior=False)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, analyzer.input_size, analyzer.input_size, generator=gen) * 2048 - 1024
    a, b = forward(analyzer.model, x), forward(analyzer.model, x.flip(-1))
    np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.class_maps, b.class_maps[..., ::-1], rtol=1e-5, atol=1e-6)
    analyzer.model.config = replace(analyzer.config, flip_tta=False)
    plain, mirrored = forward(analyzer.model, x), forward(analyzer.model, x.flip(-1))
    assert not np.allclose(plain.class_maps, mirrored.class_maps[..., ::-1], atol=1e-6), "the untrained check can fail"


def test_lung_prior_peaks_over_the_lungs_and_is_symmetric():
    prior = lung_field_prior(8, 8)
    assert prior.shape == (8, 8) and np.isclose(prior.max(), 1.0)
    np.testing.assert_allclose(prior, prior[:, ::-1], atol=1e-6)
    x, y = peak(prior)
    assert 1 <= x <= 3.5 or 4.5 <= x <= 7, "peak over a lung field, not the mediastinum"
    assert prior[0, 0] < 0.05 and prior[-1, -1] < 0.2, "corners (markers, shoulders) are suppressed"
    assert prior[4, 4] < prior[4, 2], "the mediastinum weighs less than the lung beside it"


def test_lung_prior_moves_peaks_but_not_scores(tiny_checkpoint):
    analyzer = Analyzer.load(tiny_checkpoint)
    x = torch.rand(3, 1, analyzer.input_size, analyzer.input_size, generator=torch.Generator().manual_seed(2)) * 2048 - 1024
    analyzer.model.config = replace(analyzer.config, flip_tta=False, lung_prior=False)
    without = forward(analyzer.model, x)
    analyzer.model.config = replace(analyzer.config, flip_tta=False, lung_prior=True)
    with_prior = forward(analyzer.model, x)
    np.testing.assert_allclose(with_prior.probabilities, without.probabilities)
    np.testing.assert_allclose(with_prior.evidence_maps, without.class_maps)
    prior = lung_field_prior(*without.class_maps.shape[-2:])
    np.testing.assert_allclose(with_prior.class_maps, without.class_maps * prior, rtol=1e-6)


def test_boxes_split_at_the_midline_only_when_asked():
    from lungdx_widgets.model.localize import boxes_from_map

    heat = np.zeros((64, 64), dtype=np.float32)
    heat[20:40, 10:54] = 1.0          # one region bridging both halves (lungs joined across the mediastinum)
    heat[25:35, 14:24] = 2.0          # hottest part in the left half
    joined = boxes_from_map(heat, relative_threshold=0.4)
    assert len(joined) == 1 and joined[0][2] == 44
    left, right = boxes_from_map(heat, relative_threshold=0.4, split_midline=True)
    assert left[:4] == (10.0, 20.0, 22.0, 20.0) and left[4] == 2.0, "hottest first, ends before the midline"
    assert right[:4] == (33.0, 20.0, 21.0, 20.0) and right[4] == 1.0
