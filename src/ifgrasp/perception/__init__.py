"""Perception: depth -> points, object clouds, instances, depth noise, segmentation backends.

    from ifgrasp.perception import depth_to_points, build_object_cloud, add_depth_noise, find_instances
    from ifgrasp.perception.segmentation import make_backend
"""

from ifgrasp.perception.cloud import CloudConfig, build_object_cloud, farthest_point_sampling, sample_indices
from ifgrasp.perception.depth import backproject, depth_to_points, transform_points, validate_depth
from ifgrasp.perception.errors import AmbiguousTargetError, TargetCandidate, TargetNotFoundError
from ifgrasp.perception.instances import InstanceConfig, Instances, find_instances
from ifgrasp.perception.noise import DepthNoiseConfig, add_depth_noise, axial_sigma_m

__all__ = [
    "AmbiguousTargetError", "CloudConfig", "DepthNoiseConfig", "InstanceConfig", "Instances", "TargetCandidate",
    "TargetNotFoundError", "add_depth_noise", "axial_sigma_m", "backproject", "build_object_cloud",
    "depth_to_points", "farthest_point_sampling", "find_instances", "sample_indices", "transform_points",
    "validate_depth",
]
