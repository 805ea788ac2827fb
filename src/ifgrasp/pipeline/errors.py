"""Pipeline outcomes: error codes (the ``ExecuteGrasp`` action's result codes) and the errors the
orchestrator raises itself; ``error_code(exc)`` maps any ``IfgraspError`` to its code."""

from __future__ import annotations

from enum import IntEnum

from ifgrasp.errors import (DriverError, IfgraspError, InputError, KinematicsError, UnknownObjectError,
                            UnknownPartError)


class ErrorCode(IntEnum):
    """Same numbers as ``ifgrasp_interfaces/action/ExecuteGrasp`` result constants."""

    OK = 0
    UNKNOWN_OBJECT = 1
    UNKNOWN_PART = 2
    NO_CAMERA_DATA = 3
    NO_GRASP = 4
    UNREACHABLE = 5
    CANCELLED = 6
    BUSY = 7
    STAGE_FAILED = 8
    AMBIGUOUS = 9
    INVALID_GOAL = 10
    TIMEOUT = 11
    DROPPED = 12
    HOLDING = 13
    NOT_HOLDING = 14


class StageTimeoutError(IfgraspError):
    """A wait ran out; ``source`` names the topic, service or node waited on."""

    def __init__(self, message: str, source: str = ""):
        super().__init__(message)
        self.source = source


class NoCameraDataError(StageTimeoutError):
    """No camera frame arrived in time (the message names the topic)."""


class NoGraspError(IfgraspError):
    """The generator returned no usable grasp candidate."""


class CancelledError(IfgraspError):
    """The command was cancelled; the arm was stopped and holds its position."""


class BusyError(IfgraspError):
    """A command is already running; a second one is refused."""


class DroppedError(IfgraspError):
    """After the lift the hand's measurements say the object is not held (the message: the evidence)."""


class HoldingError(IfgraspError):
    """A grasp was asked while the hand holds an object."""


class NotHoldingError(IfgraspError):
    """A place was asked with nothing in the hand."""


class StageFailedError(IfgraspError):
    """A stage's node crashed or answered with an error; ``stage`` names it."""


class RemoteStageError(IfgraspError):
    """A stage running elsewhere (a ROS node) failed and sent back its ``code`` (``ErrorCode``) with
    its message: the pipeline reports that code, as if the stage had raised in-process."""

    def __init__(self, message: str, code: int, candidates: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.code = ErrorCode(int(code))
        self.candidates = list(candidates)  # described targets to choose from (AMBIGUOUS)


def error_code(exc: BaseException) -> ErrorCode:
    """The action result code for an exception (``STAGE_FAILED`` for anything unexpected)."""
    from ifgrasp.perception.errors import AmbiguousTargetError, TargetNotFoundError

    if isinstance(exc, RemoteStageError):
        return exc.code
    table: list[tuple[type, ErrorCode]] = [
        (UnknownObjectError, ErrorCode.UNKNOWN_OBJECT), (UnknownPartError, ErrorCode.UNKNOWN_PART),
        (NoCameraDataError, ErrorCode.NO_CAMERA_DATA), (StageTimeoutError, ErrorCode.TIMEOUT),
        (NoGraspError, ErrorCode.NO_GRASP), (KinematicsError, ErrorCode.UNREACHABLE),
        (CancelledError, ErrorCode.CANCELLED), (BusyError, ErrorCode.BUSY),
        (DroppedError, ErrorCode.DROPPED), (HoldingError, ErrorCode.HOLDING), (NotHoldingError, ErrorCode.NOT_HOLDING),
        (AmbiguousTargetError, ErrorCode.AMBIGUOUS), (TargetNotFoundError, ErrorCode.UNKNOWN_OBJECT),
        (InputError, ErrorCode.INVALID_GOAL), (DriverError, ErrorCode.STAGE_FAILED),
    ]
    for cls, code in table:
        if isinstance(exc, cls):
            return code
    return ErrorCode.STAGE_FAILED
