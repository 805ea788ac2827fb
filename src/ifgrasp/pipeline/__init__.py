"""The grasp pipeline without ROS: stage objects and the ``GraspPipeline`` orchestrator.

    from ifgrasp.pipeline import GraspPipeline, PipelineRequest, make_generator
    from ifgrasp.pipeline.sim import SimWorld            # the pipeline on the MuJoCo scene
    result = SimWorld.build(width=320, height=240).pipeline(gen).run(PipelineRequest("pick up the mug by its handle"))
    result.error_code, result.stage_latencies_s, result.command_to_motion_s

ROS nodes (``ifgrasp_ros``), the demo and benchmarks call these same objects.
"""

from ifgrasp.pipeline.errors import (BusyError, CancelledError, ErrorCode, NoCameraDataError, NoGraspError,
                                     RemoteStageError, StageFailedError, StageTimeoutError, error_code)
from ifgrasp.pipeline.generator import GraspModel, generator_names, make_generator, register_generator
from ifgrasp.pipeline.orchestrator import (RUN_ORDER, STAGES, GraspPipeline, PipelineRequest, PipelineResult,
                                           StageFeedback)
from ifgrasp.pipeline.stages import (ExecuteStage, GenerateStage, Generator, Grounder, HandActions, LiftStage,
                                     PerceiveStage, Perceiver, Perception, Planner, PlanStage, SessionStage,
                                     globalize_part_ids,
                                     ground, sim_oracle_backend)

__all__ = ["BusyError", "CancelledError", "ErrorCode", "ExecuteStage", "GenerateStage", "Generator", "GraspModel",
           "GraspPipeline", "Grounder", "HandActions", "LiftStage", "NoCameraDataError", "NoGraspError", "PerceiveStage",
           "Perceiver", "Perception", "PipelineRequest", "PipelineResult", "PlanStage", "Planner", "RemoteStageError", "RUN_ORDER", "STAGES", "SessionStage", "StageFailedError",
           "StageFeedback", "StageTimeoutError", "error_code", "generator_names", "globalize_part_ids", "ground",
           "make_generator", "register_generator", "sim_oracle_backend"]
