# Experiment script of docs/experiments.md (eighth session); run from the repository root with PYTHONPATH=src.
"""Paired held-out evaluation of several student checkpoints (same cases, same per-case noise, release critic,
default physics): python encoder_aug_eval.py OUT.jsonl K MAX_CASES JUDGES name=ckpt [name=ckpt ...]
(JUDGES: comma-separated, or "none" for the geometric measures only). Environment: PHYSICS=off for the raw
sampler (no self-collision repair or rejection), CRITIC=none to rank without the learned term, CATEGORIES=a,b."""
import json
import os
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
from ifgrasp.grasp.diffusion.critic import resolve_critic  # noqa: E402
from ifgrasp.grasp.diffusion.evaluate import evaluate_student  # noqa: E402
from ifgrasp.grasp.diffusion.generator import GraspGenerator  # noqa: E402
from ifgrasp.grasp.diffusion.physics import PhysicsConfig  # noqa: E402
from ifgrasp.grasp.diffusion.train import load_checkpoint  # noqa: E402

out, k, n, judges = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
judges = () if judges == "none" else tuple(judges.split(","))
critic = resolve_critic(os.environ.get("CRITIC", "models/student/critic.pt"), Path("models/student/student.pt"))
physics = (PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9) if os.environ.get("PHYSICS") == "off"
           else PhysicsConfig(refine_steps=8) if os.environ.get("PHYSICS") == "on" else PhysicsConfig())
categories = os.environ["CATEGORIES"].split(",") if os.environ.get("CATEGORIES") else None
gens = {}
for arg in sys.argv[5:]:
    name, path = arg.split("=")
    gens[name] = GraspGenerator(load_checkpoint(path), backend="torch", critic=critic, physics=physics)  # steps: the checkpoint's own (DDIM 8, flow 4)
rep = evaluate_student(gens, Path(os.environ.get("VIEWS", "data/views/heldout")), k=k, views_per_object=8, judges=judges, log_path=out,
                       max_cases=n, categories=categories)
Path(str(out) + ".summary.json").write_text(json.dumps(rep, indent=1))
for name, v in rep.items():
    o = v["overall"]
    line = {"cases": o["cases"], "part": round(o["part_contact_share"], 3),
            "tip_mm": round(o["precheck"]["tip_part_distance_mean_mm"], 1),
            "self>1mm": o["precheck"]["self_penetration_over_1mm"]}
    for j in ("v1", "v2", "v2_lift"):
        if j in o:
            line[j] = (round(o[j]["top1_lift"], 3), [round(x, 3) for x in o[j]["top1_ci95"]], round(o[j]["topk_lift"], 3))
    for key in ("touching_nothing", "part_share_when_touching"):
        line[key] = round(o.get(key, float("nan")), 3)
    print(name, line)
    print("   ", {t: round(s["part_contact_share"], 2) for t, s in v["per_task"].items()})
