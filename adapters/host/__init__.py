"""The local node: wall clock, the pod's files on disk, process limits."""
