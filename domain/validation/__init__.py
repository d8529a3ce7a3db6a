"""Checks of client requests, run before a use case creates anything: pure functions that
raise InvalidArgument naming the field and quoting at most ~100 characters of the value.

One module per concern (paths, resources, sysctls, identities, names, network, security,
images); `sandbox.check_sandbox` and `container.check_container` check a whole request.
Host facts come in through `NodeOptions`, never from files.
"""
