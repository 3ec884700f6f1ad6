"""HAM-style network: torchxrayvision DenseNet features + hierarchical attention heads.

After Ouyang et al., "Learning Hierarchical Attention for Weakly-Supervised Chest X-Ray
Abnormality Localization and Diagnosis" (IEEE TMI 2021): a foreground attention block
(channel, then position attention, residual scaled by a learnable factor initialised to 0 so
training starts from the plain backbone), one class attention map (CAM) per label pooled with
log-sum-exp, and an "anything abnormal?" map tied to the class maps by ordinal losses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

#: torchxrayvision's DenseNet-121 layout (the only one its pretrained weights fit).
DENSENET121 = (6, 12, 24, 16)


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild the network from a checkpoint (stored next to the weights)."""

    labels: tuple[str, ...]
    input_size: int = 224
    growth_rate: int = 32
    block_config: tuple[int, ...] = DENSENET121
    num_init_features: int = 64
    #: Drop the last transition's pooling so maps are 1/16 of the input (finer heatmaps).
    stride16: bool = False
    #: Fraction of the map border excluded from LSE pooling: evidence must come from inside the
    #: chest, not from burned-in markers and collimation edges.
    pool_margin: float = 0.0
    lse_r: float = 5.0
    #: Inference: average the image and its mirror image (maps mirrored back) — test-time augmentation
    #: for a model trained with left-right flips; it cancels a fixed side preference of the maps.
    flip_tta: bool = False
    #: Inference: weight the localisation maps by the anatomical lung-field prior
    #: (:func:`lungdx_widgets.model.localize.lung_field_prior`), so peaks and boxes fall in the lungs.
    lung_prior: bool = False
    #: Model v2: the input is the lung fields found by the segmenter (with a margin), histogram-
    #: equalised; localisation maps are zeroed outside the lungs (replaces ``lung_prior``).
    lung_crop: bool = False
    #: Model v2: the network carries the statistics of its training films' features (buffers
    #: ``ood_mean``/``ood_precision``); a film whose Mahalanobis distance exceeds this is flagged
    #: out of distribution. 0 = no guard.
    ood_threshold: float = 0.0
    #: Labels trained but reported as *not assessed*: they did not separate held-out films well
    #: enough to be shown (see :data:`lungdx_widgets.model.train.MIN_REPORTED_AUROC`).
    withheld: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["block_config"] = list(self.block_config)
        d["withheld"] = list(self.withheld)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["labels"] = tuple(known["labels"])
        for key in ("block_config", "withheld"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


class HamOutput(NamedTuple):
    """Raw network outputs (logits and maps at feature resolution)."""

    logits: torch.Tensor          # (B, C) per-label logits from LSE pooling of the CAMs
    abnormal_logit: torch.Tensor  # (B,) LSE pooling of the abnormality map
    cams: torch.Tensor            # (B, C, h, w) class map logits
    abnormal_map: torch.Tensor    # (B, 1, h, w) abnormality map logits
    embedding: torch.Tensor | None = None  # (B, D) mean feature vector (out-of-distribution guard)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: reweight feature channels by global context."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc(x.mean(dim=(2, 3))))
        return x * w[:, :, None, None]


class PositionAttention(nn.Module):
    """Self-attention over positions (DANet PAM); its residual starts switched off (gamma=0)."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        inner = max(channels // reduction, 8)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)            # (B, N, c')
        k = self.key(x).flatten(2)                               # (B, c', N)
        attn = torch.softmax(q @ k / q.shape[-1] ** 0.5, dim=-1)  # (B, N, N)
        v = self.value(x).flatten(2)                             # (B, C, N)
        out = (v @ attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * out


class ForegroundAttention(nn.Module):
    """Channel then position attention, added to the input with a learnable scale (init 0)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels)
        self.position = PositionAttention(channels)
        self.scale = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.position(self.channel(x))


def lse_pool(maps: torch.Tensor, r: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Log-sum-exp pooling (between mean and max as r grows) over the positions in ``mask``."""
    flat = maps.flatten(2) * r                                     # (B, K, N)
    if mask is not None:
        flat = flat.masked_fill(~mask.flatten()[None, None], float("-inf"))
        n: torch.Tensor | int = mask.sum()
    else:
        n = flat.shape[-1]
    return (torch.logsumexp(flat, dim=-1) - torch.log(torch.as_tensor(float(n)))) / r


def pooling_mask(h: int, w: int, margin: float) -> torch.Tensor:
    """Boolean (h, w) mask excluding a border band of ``margin`` of each side (at least 1 cell kept)."""
    m = torch.zeros(h, w, dtype=torch.bool)
    dy, dx = min(int(round(h * margin)), (h - 1) // 2), min(int(round(w * margin)), (w - 1) // 2)
    m[dy:h - dy, dx:w - dx] = True
    return m


def build_backbone(config: NetConfig, xrv_weights: str | None = None) -> nn.Module:
    """torchxrayvision DenseNet ``features`` (pretrained when ``xrv_weights`` names a file in the cache)."""
    import torchxrayvision as xrv

    if xrv_weights:
        from .weights import xrv_densenet  # keeps the offline/missing-file handling in one place
        net = xrv_densenet(xrv_weights)
    else:
        net = xrv.models.DenseNet(weights=None, growth_rate=config.growth_rate, block_config=config.block_config,
                                  num_init_features=config.num_init_features)
    features = net.features
    if config.stride16:
        last = f"transition{len(config.block_config) - 1}"
        getattr(features, last).pool = nn.Identity()
    return features


def _feature_channels(features: nn.Module) -> int:
    """Channels out of a torchxrayvision DenseNet ``features`` (its final ``norm5`` batch norm)."""
    norm5 = features.get_submodule("norm5")
    if not isinstance(norm5, nn.BatchNorm2d):
        raise TypeError(f"the backbone's norm5 is a {type(norm5).__name__}, not a BatchNorm2d")
    return norm5.num_features


class HamNet(nn.Module):
    """Backbone + foreground attention + per-class CAMs + abnormality map."""

    #: Training films' feature mean and precision (buffers, registered when the checkpoint is guarded).
    ood_mean: torch.Tensor
    ood_precision: torch.Tensor

    def __init__(self, config: NetConfig, xrv_weights: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.features = build_backbone(config, xrv_weights)
        channels = _feature_channels(self.features)
        self.attention = ForegroundAttention(channels)
        self.class_maps = nn.Conv2d(channels, len(config.labels), 1)
        self.abnormal = nn.Conv2d(channels, 1, 1)
        if config.ood_threshold > 0 or config.lung_crop:
            self.register_buffer("ood_mean", torch.zeros(channels))
            self.register_buffer("ood_precision", torch.eye(channels))
        self._masks: dict[tuple[int, int], torch.Tensor] = {}

    def _mask(self, h: int, w: int, device: torch.device) -> torch.Tensor | None:
        if self.config.pool_margin <= 0:
            return None
        if (h, w) not in self._masks:
            self._masks[(h, w)] = pooling_mask(h, w, self.config.pool_margin)
        return self._masks[(h, w)].to(device)

    def forward(self, x: torch.Tensor) -> HamOutput:
        f = F.relu(self.features(x))
        f = self.attention(f)
        cams = self.class_maps(f)
        abn = self.abnormal(f)
        mask = self._mask(cams.shape[2], cams.shape[3], cams.device)
        logits = lse_pool(cams, self.config.lse_r, mask)
        abnormal_logit = lse_pool(abn, self.config.lse_r, mask)[:, 0]
        return HamOutput(logits, abnormal_logit, cams, abn, f.mean(dim=(2, 3)))

    def ood_distance(self, embedding: torch.Tensor) -> torch.Tensor:
        """Mahalanobis distance of each (B, D) embedding from the training films' features."""
        d = embedding - self.ood_mean
        return torch.sqrt(torch.clamp(((d @ self.ood_precision) * d).sum(dim=1), min=0.0))
