"""Uncertainty weighting (Kendall, Gal, Cipolla, CVPR 2018), one learnable log-variance per ALWA group."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import GROUPS, LossWeighting
from .collectives import all_reduce_mean, distributed


class UncertaintyWeighting(LossWeighting):
    """``loss = sum_g 0.5 * exp(-s_g) * L_g + 0.5 * s_g`` with ``s_g = log sigma_g^2`` learned by the optimiser.

    The trainer adds :meth:`parameters` to the optimiser, without weight decay, as LibMTL does. The reported weight
    of a group is ``0.5 * exp(-s_g)``, read once per epoch.

    Under DDP the log-variances live outside the DDP module, so DDP never averages their gradients; a gradient hook
    averages them over the ranks exactly as DDP averages the model's (Ultralytics' world-size scaling of the loss then
    cancels the same way), so every rank takes the same step and holds the same log-variances.
    """

    name = "uw"
    learnable = True

    def __init__(self, groups: Sequence[str], names: Sequence[str] | None = None):
        super().__init__(groups, names)
        self.log_vars = torch.nn.Parameter(torch.zeros(len(GROUPS)))
        self.log_vars.register_hook(lambda grad: all_reduce_mean(grad) if distributed() else grad)
        self.set_weights(0.5, 0.5)

    def parameters(self) -> list[torch.nn.Parameter]:
        """The learnable log-variances, for the optimiser."""
        return [self.log_vars]

    def weight(self, terms: torch.Tensor) -> torch.Tensor:
        """``0.5 exp(-s_g) t_k + 0.5 s_g / n_g`` per term: the sum over terms is the UW loss.

        Products and sums, not matrix products: under ``autocast`` a matmul runs in half precision, and the
        log-variances' gradient (loss scale x batch x loss, millions under AMP) would overflow fp16.
        """
        mask = self.group_matrix(terms)  # (2, n_terms)
        s = (mask * self.log_vars.to(terms.device, terms.dtype)[:, None]).sum(0)  # each term's group log-variance
        n = (mask * mask.sum(1, keepdim=True)).sum(0).clamp(min=1)  # terms in each term's group
        return 0.5 * torch.exp(-s) * terms + 0.5 * s / n

    def epoch_end(self) -> None:
        """Record the epoch's losses and refresh the reported weights from the log-variances (one host read)."""
        super().epoch_end()
        w = (0.5 * torch.exp(-self.log_vars.detach())).cpu().tolist()
        self.set_weights(*w)

    def to(self, device: torch.device | str) -> UncertaintyWeighting:
        """Move the log-variances in place, so the optimiser keeps pointing at the same parameter."""
        self.log_vars.data = self.log_vars.data.to(device)
        return self

    def state_dict(self) -> dict:
        """Also the log-variances (their optimiser state is in the optimiser's)."""
        return {**super().state_dict(), "log_vars": self.log_vars.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the log-variances in place, on their current device."""
        super().load_state_dict(state)
        self.log_vars.data.copy_(state["log_vars"].to(self.log_vars.device))
