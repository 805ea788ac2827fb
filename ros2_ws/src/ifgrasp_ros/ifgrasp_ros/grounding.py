"""``grounding``: the ``/ifgrasp/ground`` service (``ifgrasp_interfaces/srv/Ground``) over
``ifgrasp.pipeline.ground`` (the deterministic parser with synonyms, ``ifgrasp.grounding``).

An instruction -> object, part, parts to avoid, attributes, relations; an empty instruction checks
an explicit object (+ part) instead. An unknown object or part answers ``success = false`` with
UNKNOWN_OBJECT / UNKNOWN_PART and a message listing the known names. Parameters: config/grounding.yaml.

    install/ifgrasp_ros/lib/ifgrasp_ros/grounding
"""

from __future__ import annotations

from rclpy.node import Node

from ifgrasp.pipeline import ground
from ifgrasp_interfaces.srv import Ground

from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.stage_conversions import grounded_to_msg
from ifgrasp_ros.stage_service import serve


class GroundingNode(Node):
    def __init__(self) -> None:
        super().__init__("grounding")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("service", "/ifgrasp/ground"),
        )}
        serve(self, Ground, p["service"], self.on_ground)
        self.get_logger().info(f"grounding ready: {p['service']}")

    @staticmethod
    def on_ground(req, resp) -> None:
        g = ground(req.instruction, req.object_name, req.part_name)
        resp.grounded = grounded_to_msg(g)
        resp.message = f"{g.part} of the {g.category}" + (f", avoiding {', '.join(g.avoid_parts)}" if g.avoid_parts else "")


def main(args=None) -> int:
    return run_node(GroundingNode, args, default_params="grounding.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
