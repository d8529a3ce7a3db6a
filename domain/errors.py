"""The domain's error hierarchy; the CRI adapter maps each class to one gRPC status code."""


class HexcriError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(HexcriError):
    """The object named by the request does not exist."""


class AlreadyExists(HexcriError):
    """A name or ID the request wants is taken."""


class InvalidArgument(HexcriError):
    """The request itself is malformed."""


class FailedPrecondition(HexcriError):
    """The request is well formed but the object is in the wrong state for it."""


class DeadlineExceeded(HexcriError):
    """The operation did not finish in the time it was given."""


class Unimplemented(HexcriError):
    """This backend cannot serve the request."""


class Unavailable(HexcriError):
    """A dependency (containerd, a registry) cannot be reached right now."""


class ResourceExhausted(HexcriError):
    """The node ran out of something: disk space, inodes."""


class Internal(HexcriError):
    """Something failed that is not the client's fault."""


class StillRunning(Internal):
    """The process has not exited, so its task cannot be released yet (the runtime ports'
    answer; to a client an internal error, as containerd's)."""
