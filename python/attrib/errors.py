"""Python exceptions for libattrib's status codes.

Every failing library call raises AttribError carrying the library's own
status (its number and its constant name, e.g. ATTRIB_E_TRUNCATED) and the
message attrib_last_error() gave on the calling thread, which names the
offending key, tensor, offset or argument.
"""
import enum

from ._capi import lib


class Status(enum.IntEnum):
    OK = 0
    E_INVALID_ARG = 1
    E_IO = 2
    E_NOMEM = 3
    E_LIMIT = 4
    E_BAD_MAGIC = 10
    E_BAD_VERSION = 11
    E_TRUNCATED = 12
    E_BAD_COUNT = 13
    E_BAD_STRING = 14
    E_BAD_TYPE = 15
    E_BAD_DIMS = 16
    E_BAD_OFFSET = 17
    E_BAD_ALIGNMENT = 18
    E_OVERLAP = 19
    E_DUPLICATE = 20
    E_METADATA_TYPE = 21
    E_MISSING = 22
    E_SHAPE = 23
    E_UNSUPPORTED = 24
    E_BAD_JSON = 25
    E_BAD_VALUE = 26
    E_NUMERIC = 27
    E_BAD_TEXT = 28
    E_INTERNAL = 99


class AttribError(Exception):
    """A libattrib call failed.

    status       the attrib_status number (an int; Status(status) if known)
    status_name  the library's name for it, e.g. "ATTRIB_E_TRUNCATED"
    message      attrib_last_error(): what was wrong
    """

    def __init__(self, status, message, what=None):
        self.status = int(status)
        self.status_name = lib.attrib_status_name(self.status).decode()
        self.message = message
        self.what = what
        prefix = "%s: " % what if what else ""
        super().__init__("%s%s (%s)" % (prefix, message, self.status_name))


def check(status, what=None):
    """Raises AttribError for a non-zero status, with this thread's last error."""
    if status != 0:
        msg = lib.attrib_last_error()
        raise AttribError(status, msg.decode("utf-8", "replace") if msg else "", what)
