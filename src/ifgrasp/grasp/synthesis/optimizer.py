"""Batched annealed Langevin / Metropolis optimiser of the grasp energy (DexGraspNet's scheme).

Each step: an RMSProp-scaled gradient step on the continuous variables (wrist translation, 6-D
rotation, joints), random switching of the selected contact points, then a Metropolis test at a
temperature that decays geometrically from ``starting_temperature`` to ``final_temperature`` over
the run (DexGraspNet decays by 0.95 every 30 of 6,000 steps; here the same end points are reached in
however many steps are configured); rejected grasps keep their previous state. All grasps of a
batch move together; there is no Python loop over grasps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.grasp.synthesis.energy import EnergyWeights, GraspProblem, HandState, compute_energy
from ifgrasp.grasp.synthesis.init import finger_groups


class AnnealingConfig(Config):
    steps: int = Field(1200, gt=0, description="optimisation iterations")
    num_contacts: int = Field(4, ge=2, description="contact points used by the force-closure term")
    step_size: float = Field(0.005, gt=0, description="initial step scale (RMSProp-normalised)")
    final_step_size: float = Field(0.0005, gt=0, description="step scale at the last iteration")
    starting_temperature: float = Field(18.0, gt=0, description="Metropolis temperature at step 0")
    final_temperature: float = Field(0.01, gt=0, description="Metropolis temperature at the last iteration")
    switch_probability: float = Field(0.5, ge=0, le=1, description="chance a grasp re-draws one contact per step")
    rmsprop_mu: float = Field(0.98, gt=0, lt=1, description="EMA factor of the squared gradient")
    weights: EnergyWeights = Field(default_factory=EnergyWeights)


def anneal(
    hand,
    problem: GraspProblem,
    state: HandState,
    cfg: AnnealingConfig,
    generator: torch.Generator,
    progress: Callable[[int, dict[str, torch.Tensor]], None] | None = None,
) -> tuple[HandState, dict[str, torch.Tensor]]:
    """Optimise ``state`` in place of a copy; returns the final state and its energy terms (B,)."""
    groups = finger_groups(hand, cfg.num_contacts)
    group_of_slot = [torch.as_tensor(g) for g in groups]
    x = state.vector().detach().clone().requires_grad_(True)
    contact_idx = state.contact_idx.clone()
    terms = compute_energy(hand, problem, HandState.from_vector(x, contact_idx), cfg.weights)
    energy = terms["total"]
    (grad,) = torch.autograd.grad(energy.sum(), x)
    ema = torch.zeros(x.shape[1])
    B = x.shape[0]

    for step in range(cfg.steps):
        progress_frac = step / max(1, cfg.steps - 1)  # geometric schedules, whatever the step count
        step_scale = cfg.step_size * (cfg.final_step_size / cfg.step_size) ** progress_frac
        temperature = cfg.starting_temperature * (cfg.final_temperature / cfg.starting_temperature) ** progress_frac
        ema = cfg.rmsprop_mu * ema + (1 - cfg.rmsprop_mu) * (grad**2).mean(0)
        with torch.no_grad():
            x_new = x - step_scale * grad / (ema.sqrt() + 1e-6)
            switch = torch.rand(B, generator=generator) < cfg.switch_probability
            which = torch.randint(0, cfg.num_contacts, (B,), generator=generator)
            idx_new = contact_idx.clone()
            for slot, group in enumerate(group_of_slot):  # K slots, not a loop over grasps
                rows = torch.nonzero(switch & (which == slot)).squeeze(-1)
                pick = torch.randint(0, len(group), (len(rows),), generator=generator)
                idx_new[rows, slot] = group[pick]
        x_new.requires_grad_(True)
        terms_new = compute_energy(hand, problem, HandState.from_vector(x_new, idx_new), cfg.weights)
        energy_new = terms_new["total"]
        (grad_new,) = torch.autograd.grad(energy_new.sum(), x_new)
        with torch.no_grad():
            accept_p = torch.exp(((energy - energy_new) / temperature).clamp(max=0.0))
            accept = torch.rand(B, generator=generator) < accept_p
            a = accept.unsqueeze(-1)
            x = torch.where(a, x_new, x).detach().requires_grad_(True)
            grad = torch.where(a, grad_new, grad)
            contact_idx = torch.where(a, idx_new, contact_idx)
            energy = torch.where(accept, energy_new, energy)
            terms = {k: torch.where(accept, terms_new[k].detach(), v.detach()) for k, v in terms.items()}
        if progress is not None:
            progress(step, terms)
    return HandState.from_vector(x.detach(), contact_idx), terms
