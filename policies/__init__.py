"""Authorization as data: the Casbin model, the policy files and the decision engine."""
from __future__ import annotations

from policies.engine import Decision, PolicyEngine
from policies.masks import MASKS, apply_mask

__all__ = ["MASKS", "Decision", "PolicyEngine", "apply_mask"]
