"""Drivers for the xArm7 and the LEAP Hand: one interface per device kind, real or simulated.

    from ifgrasp.drivers import make_driver
    with make_driver("hand", "leap", {"port": "/dev/ttyUSB0"}) as hand:
        state = hand.read_state()
        sent = hand.send_command(state.position_rad + 0.05)   # what was actually sent

Nothing here imports a vendor SDK; each backend imports its own, lazily (see ``registry``).
"""

from ifgrasp.drivers.arm import ArmDriver
from ifgrasp.drivers.base import JointDriver, JointState, TrajectoryFeedback
from ifgrasp.drivers.hand import HandDriver
from ifgrasp.drivers.limits import JointLimits
from ifgrasp.drivers.registry import make_driver, register
from ifgrasp.drivers.safety import SafetyConfig, SafetyFilter

__all__ = ["ArmDriver", "HandDriver", "JointDriver", "JointLimits", "JointState", "SafetyConfig",
           "SafetyFilter", "TrajectoryFeedback", "make_driver", "register"]
