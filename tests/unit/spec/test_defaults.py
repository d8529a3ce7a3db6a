"""The default spec (containerd's populateDefaultUnixSpec)."""

from __future__ import annotations

from domain.spec.capabilities import DEFAULT_CAPABILITIES
from domain.spec.defaults import default_spec, without_default_security_settings
from domain.spec.pipeline import apply


def test_default_spec_shape() -> None:
    spec = default_spec()
    assert spec["root"] == {"path": "rootfs"}
    proc = spec["process"]
    assert proc["user"] == {"uid": 0, "gid": 0} and proc["cwd"] == "/"
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    caps = proc["capabilities"]
    assert set(caps) == {"bounding", "effective", "permitted"}
    assert all(caps[k] == list(DEFAULT_CAPABILITIES) for k in caps)
    assert len(DEFAULT_CAPABILITIES) == 14 and "CAP_AUDIT_WRITE" in DEFAULT_CAPABILITIES
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert set(mounts) >= {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"}
    assert "ro" in mounts["/sys"]["options"]
    assert mounts["/sys/fs/cgroup"]["type"] == "cgroup"
    assert "ro" in mounts["/sys/fs/cgroup"]["options"]
    lx = spec["linux"]
    assert [n["type"] for n in lx["namespaces"]] == ["pid", "ipc", "uts", "mount", "network"]
    assert "/proc/kcore" in lx["maskedPaths"] and "/proc/sys" in lx["readonlyPaths"]
    rules = lx["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in rules


def test_without_default_security_settings_drops_rlimits_and_seccomp() -> None:
    base = default_spec()
    base["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO"}
    base["process"]["apparmorProfile"] = "x"
    spec = apply(base, [without_default_security_settings])
    assert "rlimits" not in spec["process"] and "apparmorProfile" not in spec["process"]
    assert "seccomp" not in spec["linux"]
