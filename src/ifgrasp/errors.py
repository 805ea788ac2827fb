"""One exception root for the whole project.

Every message names what was wrong and what is allowed, e.g.
``UnknownPartError("object 'mug' has no part 'blade'; known: body, handle")``.
"""

from __future__ import annotations


class IfgraspError(Exception):
    """Root of every error ifgrasp raises on purpose."""


class ConfigError(IfgraspError):
    """A configuration file or value is invalid."""


class InputError(IfgraspError):
    """Bad input data: empty cloud, NaNs, wrong units, mismatched sizes."""


class UnknownObjectError(IfgraspError):
    """A category or object name that the project does not know."""


class UnknownPartError(IfgraspError):
    """A part name that the object does not have."""


class KinematicsError(IfgraspError):
    """IK failed, a pose is unreachable, or a configuration is outside limits."""


class SimulationError(IfgraspError):
    """The MuJoCo scene could not be built or stepped."""


class DriverError(IfgraspError):
    """A hardware or simulated driver failed (disconnected, timeout, fault bit)."""


class SafetyError(DriverError):
    """A command was refused because it would break a safety limit."""


class ModelError(IfgraspError):
    """A model file is missing, corrupt, or for another hand."""


def known(names) -> str:
    """Format a list of valid choices for an error message: ``'a, b, c'``."""
    return ", ".join(sorted(str(n) for n in names))
