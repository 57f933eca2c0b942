"""The domain check: how typical a picture is of the pictures the model was trained on.

At the end of training the run keeps a compact description of its training pictures (``domain.safetensors``):
the backbone features of up to :data:`MAX_REFERENCE` training pictures (the reference set), and the distance from
each held-out picture to its nearest reference picture (the typical nearest-neighbour distances). A new picture's
``domain_score`` is the share of those held-out distances at least as large as its own, in percent: 100 = closer
to the training pictures than every held-out picture, 50 = a typical held-out picture, 0 = farther than all of
them. ``in_domain`` is ``domain_score >= threshold`` (:data:`IN_DOMAIN_AT`, 1 by default: a picture of the
training domain falls below it about 1 time in 100).

Distances are cosine distances ``1 - <a, b>`` between L2-normalised frozen-backbone features (ten crops: the mean
of the crops' features), :func:`domain_vectors`. Not the image head's embeddings: the head is trained to map every
picture into the places and times it knows, and so it maps a real photo next to generated ones. On the demo's
model, embeddings marked 3 of the 9 real fixture photos out of domain, raw backbone features all 9 (with 99.2 % of
the demo's generated test world in domain either way).

Which held-out pictures set the typical distances decides what "in domain" means. Frames held out at random from
a few webcams have near-duplicates among the training frames of their own camera, so their distances are tiny and
every frame of a new camera fell out of domain, even where the model was useful on it. With ``groups`` (a camera
or trip per training picture) the typical distances are those of each group's pictures to the reference pictures
of the *other* groups (and of held-out groups to the training ones): "in domain" then means "as close to the
training pictures as a new camera of the training set was", the case in which validation measured the answers.
Distances between cameras spread more than those of frames (the oddest training camera sets the far tail), so the
threshold is then :data:`GROUP_IN_DOMAIN_AT` (10): a picture is in domain when it is at least as close as 90 % of
the typical distances. On the webcam worlds' leave-one-camera-out fold models (``bench_small_data.py``) the
frames of 23 of 24 held-out cameras were mostly in domain at 1 or 10, while the 9 real fixture photos were in
domain 12.0 % of the time at 1 and 3.7 % at 10 (0 % at 20, where 22 of 24 cameras stayed in).

What a picture outside the domain is told is worded once, here: :func:`domain_label` (one picture's flag) and
:func:`out_of_domain_warning` (the warning that ``predict``, ``verify``, the web page and a printed prediction show)
and :func:`scored_out_of_domain_warning` (``evaluate``'s, over the scored predictions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gtloc.data.features import picture_features
from gtloc.errors import GtlocError
from gtloc.io import atomic_path

DOMAIN_FILE = "domain.safetensors"
MAX_REFERENCE = 2048
IN_DOMAIN_AT = 1.0
GROUP_IN_DOMAIN_AT = 10.0


def domain_vectors(features: torch.Tensor) -> torch.Tensor:
    """Backbone features ``(N, D)`` or ten-crop ``(N, C, D)`` -> the L2-normalised ``(N, D)`` vectors the domain
    check compares (the crops' mean for ten crops)."""
    return F.normalize(picture_features(features), dim=-1)


def domain_label(in_domain: bool, domain_score: float) -> str:
    """One picture's flag: ``in domain (domain_score 63.0)`` or ``OUT OF DOMAIN (domain_score 0.0)``."""
    return f"{'in domain' if in_domain else 'OUT OF DOMAIN'} (domain_score {domain_score:.1f})"


def out_of_domain_warning(
    in_domain: Sequence[bool] | None, domain_scores: Sequence[float], names: Sequence[str] | None = None
) -> str | None:
    """The one warning, in words, when pictures lie outside the model's domain (``None`` when none does, or when
    ``in_domain`` is ``None``: the run has no domain check). ``in_domain`` and ``domain_scores``: one entry per
    picture looked at; ``names``: theirs (``None`` for one unnamed picture: "this picture")."""
    if in_domain is None:
        return None
    outside = [i for i, ok in enumerate(in_domain) if not ok]
    if not outside:
        return None
    if names is None:
        subject, detail = "this picture is", f"domain_score {float(domain_scores[outside[0]]):.1f} of 100"
    else:
        listed = [names[i] for i in outside]
        detail = ", ".join(listed[:3]) + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")
        subject = f"{len(outside)} of {len(in_domain)} pictures are"
    them = "it" if len(outside) == 1 else "them"
    return (
        f"{subject} outside the model's domain ({detail}): {_untrusted(them)}, and claims about {them} cannot be judged"
    )


def _untrusted(them: str) -> str:
    look = "it looks" if them == "it" else "they look"
    return (
        f"{look} unlike the pictures the model was trained on, so its places, times and probabilities for {them} are "
        "not to be trusted"
    )


def scored_out_of_domain_warning(outside: int, judged: int) -> str:
    """The out-of-domain warning of scores over many predictions (``gtloc evaluate``): ``outside`` of the ``judged``
    predictions lie outside the model's domain, so the scores do not say how the model does on pictures it knows."""
    them = "it" if outside == 1 else "them"
    return (
        f"{outside} of {judged} predictions ({100 * outside / judged:.0f} %) are outside the model's domain "
        f"(in_domain = false): {_untrusted(them)}, and these metrics do not say how it does on pictures it knows; "
        f"train on pictures like {them} before reading the numbers as its accuracy"
    )


@torch.inference_mode()
def nearest_distances(vectors: torch.Tensor, reference: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """Cosine distance from each of ``vectors`` ``(N, E)`` to its nearest row of ``reference`` ``(M, E)`` (both
    L2-normalised) -> ``(N,)``; ``exclude_self`` skips the diagonal (``vectors`` is ``reference``)."""
    out = []
    for start, chunk in zip(range(0, len(vectors), 1024), vectors.float().split(1024), strict=True):
        sims = chunk @ reference.float().T
        if exclude_self:
            rows = torch.arange(len(chunk))
            sims[rows, rows + start] = -float("inf")
        out.append(1.0 - sims.max(dim=1).values)
    return torch.cat(out) if out else vectors.new_zeros(0)


@torch.inference_mode()
def nearest_other_group(vectors: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Cosine distance from each of ``vectors`` ``(N, E)`` (L2-normalised) to its nearest row of another group
    (``codes`` ``(N,)`` integer group codes) -> ``(N,)``; inf for a row when every row is of its group."""
    out = []
    for start in range(0, len(vectors), 1024):
        chunk = vectors[start : start + 1024].float()
        sims = chunk @ vectors.float().T
        sims[codes[start : start + 1024, None] == codes[None, :]] = -float("inf")
        out.append(1.0 - sims.max(dim=1).values)
    return torch.cat(out) if out else vectors.new_zeros(0)


@dataclass
class DomainProfile:
    """``reference`` ``(M, D)`` training-picture :func:`domain_vectors` (float16); ``typical`` ``(R,)`` held-out
    nearest-neighbour distances, sorted; ``threshold``: the ``domain_score`` (percent) at and above which a picture
    is in domain."""

    reference: torch.Tensor
    typical: torch.Tensor
    threshold: float = IN_DOMAIN_AT

    @classmethod
    def build(
        cls,
        train: torch.Tensor,
        held_out: torch.Tensor | None = None,
        seed: int = 0,
        threshold: float | None = None,
        groups: list[str] | None = None,
    ) -> DomainProfile:
        """From the backbone features of the training pictures ``train`` ``(N, D)`` or ``(N, C, D)`` (a random
        :data:`MAX_REFERENCE` of them are kept) and of held-out ones; without held-out pictures, the kept ones'
        leave-one-out distances serve. ``groups`` (one value per training picture, at least two distinct): the kept
        pictures' distances to the nearest kept picture of another group are typical too (module docstring).
        ``threshold``: default :data:`IN_DOMAIN_AT`, or :data:`GROUP_IN_DOMAIN_AT` with groups."""
        if len(train) < 2:
            raise GtlocError(f"a domain profile needs at least 2 training pictures, got {len(train)}")
        keep = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:MAX_REFERENCE]
        reference = domain_vectors(train[keep])
        parts = []
        if held_out is not None and len(held_out):
            parts.append(nearest_distances(domain_vectors(held_out), reference))
        grouped = groups is not None and len(set(groups)) >= 2
        if grouped:
            index = {name: i for i, name in enumerate(sorted(set(groups)))}
            codes = torch.tensor([index[g] for g in groups])[keep]
            across = nearest_other_group(reference, codes)
            parts.append(across[torch.isfinite(across)])
        if not sum(len(part) for part in parts):
            parts.append(nearest_distances(reference, reference, exclude_self=True))
        if threshold is None:
            threshold = GROUP_IN_DOMAIN_AT if grouped else IN_DOMAIN_AT
        return cls(reference.half(), torch.cat(parts).sort().values, threshold)

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """``domain_score`` ``(N,)`` in [0, 100] for backbone features ``(N, D)`` or ten-crop ``(N, C, D)`` (high =
        typical; module docstring)."""
        distance = nearest_distances(domain_vectors(features), self.reference)
        at_least = len(self.typical) - torch.searchsorted(self.typical, distance, right=False)
        return 100.0 * at_least.float() / len(self.typical)

    def in_domain(self, scores: torch.Tensor) -> torch.Tensor:
        """``(N,)`` bool: ``scores >= threshold``."""
        return scores >= self.threshold

    def describe(self) -> dict:
        """What the model card says about the check."""
        return {
            "space": "cosine distance of backbone features to the nearest",
            "reference": len(self.reference),
            "held_out": len(self.typical),
            "threshold": self.threshold,
        }

    def save(self, run_dir: str | Path) -> None:
        """Write ``run_dir/domain.safetensors`` atomically."""
        with atomic_path(Path(run_dir) / DOMAIN_FILE) as tmp:
            save_file(
                {"reference": self.reference.contiguous(), "typical": self.typical.float().contiguous()},
                str(tmp),
                metadata={"threshold": repr(float(self.threshold))},
            )

    @classmethod
    def load(cls, run_dir: str | Path) -> DomainProfile | None:
        """The profile saved in ``run_dir``, or ``None`` when it has none (imported weights, older runs)."""
        path = Path(run_dir) / DOMAIN_FILE
        if not path.is_file():
            return None
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                threshold = float((f.metadata() or {}).get("threshold", IN_DOMAIN_AT))
            tensors = load_file(str(path))
            return cls(tensors["reference"], tensors["typical"], threshold)
        except (SafetensorError, KeyError, ValueError, OSError) as exc:
            raise GtlocError(f"{path}: not a gtloc domain profile ({exc})") from None
