# Experiment script of docs/experiments.md (ninth session); run from the repository root with PYTHONPATH=src.
"""One grasp command on a fresh simulated cell per scene seed, with the simulator's ground truth beside what the
pipeline saw: python cell_diagnose.py CHECKPOINT SEEDS OUT.jsonl [COMMAND CATEGORY PART]
(SEEDS comma-separated; default command: the demo's mug by its handle). Per seed: every ranked candidate's
approach angle from straight down (deg) and wrist height (m, base frame); the planned candidate's contacts, part
share and penetration against the true mesh (6,400 hand samples); the object's position when planned, when the
approach ended and when the hand had closed; the robot's contacts on it then (all, on the part); the outcome."""
import json
import sys

import numpy as np

from ifgrasp.demo import DEMO_INSTRUCTION, demo_scene_config
from ifgrasp.grasp.metrics import contact_stats, measuring_hand
from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.pipeline.generator import make_generator
from ifgrasp.pipeline.orchestrator import PipelineRequest
from ifgrasp.pipeline.sim import SimWorld

ckpt, seeds, out = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], sys.argv[3]
command, category, part = sys.argv[4:7] if len(sys.argv) > 6 else (DEMO_INSTRUCTION, "mug", "handle")
hand = measuring_hand()
for seed in seeds:
    world = SimWorld.build(demo_scene_config(seed))
    scene = world.scene
    i = next(i for i, o in enumerate(scene.objects) if o.category == category)
    obj, name = scene.objects[i], scene.object_names[i]
    sdf, part_index = ObjectSDF(obj.mesh.vertices, obj.mesh.faces), obj.part_names.index(part)
    rec = {"seed": seed, "checkpoint": ckpt, "command": command}

    def where() -> list:
        with world.lock:
            world.arm.read_state()  # physics up to the driver clock
            return scene.object_pose(name)[:3, 3].round(4).tolist()

    pipe = world.pipeline(make_generator("diffusion", model_path=ckpt), k=16)
    plan_stage, execute = pipe.plan_stage, pipe.execute

    def plan(q, grasps, cloud, lift=None):
        p = plan_stage(q, grasps, cloud, lift)
        T = grasps.T_frame_wrist
        rec["approach_from_down_deg"] = np.degrees(np.arccos(np.clip(T[:, 2, 2], -1, 1))).round(0).tolist()
        rec["wrist_z_m"] = T[:, 2, 3].round(3).tolist()
        chosen = grasps.select(np.array([p.candidate])).transformed(np.linalg.inv(scene.object_pose(name)), "object")
        st = contact_stats(hand, sdf, obj.face_part, part_index, chosen, obj.mesh.vertices)
        rec.update(candidate=int(p.candidate), contacts=int(st.num_contacts[0]),
                   part_share=round(float(st.part_share[0]), 2),
                   penetration_mm=round(1000 * float(st.max_penetration_m[0]), 1), at_plan=where())
        return p

    close = execute.hand.close

    def close_logged(*args, **kwargs):
        rec["at_approach_end"] = where()
        return close(*args, **kwargs)

    class ExecuteLogged:
        """The pipeline's execute stage (its attributes too), logging where the object is once the hand closed."""

        def __call__(self, *args, **kwargs):
            done = execute(*args, **kwargs)
            rec["at_closed"] = where()
            with world.lock:
                c = scene.robot_contacts(i)
            rec["robot_contacts_closed"] = [int(len(c)), int((c == part_index).sum())]
            return done

        def __getattr__(self, attr):
            return getattr(execute, attr)

    execute.hand.close = close_logged
    pipe.plan_stage, pipe.execute = plan, ExecuteLogged()
    r = pipe.run(PipelineRequest(command))
    rec.update(success=bool(r.success), code=r.error_code.name, message=r.message[:200])
    world.close()
    print(json.dumps(rec), flush=True)
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
