"""ifgrasp: language-guided functional grasping for a uFactory xArm7 with a LEAP Hand.

The core package imports no ROS. Data flows one way:
camera -> perception -> grounding -> grasp generation -> ranking -> planning -> drivers.
"""

__version__ = "0.1.0"
