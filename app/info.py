"""The effective configuration as containerd's CRI plugin names it, for `crictl info`.

Status with verbose=true returns it under `info["config"]`; where hexcri has the same concept
as containerd's CRI config, the key is containerd's (`sandboxImage`,
`maxContainerLogLineSize`, `cni.confDir`, ...), so that tools reading containerd's info find
it. hexcri's own settings follow under `hexcri`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.settings import Settings
from domain.spec import NodeOptions


def cri_config(settings: Settings, streaming_url: str, node: NodeOptions) -> dict[str, Any]:
    """`info["config"]`: containerd's CRI config keys, then hexcri's whole settings."""
    ctd, cni, registry = settings.containerd, settings.cni, settings.registry
    bound = urlsplit(streaming_url)
    return {
        "containerd": {
            "snapshotter": ctd.snapshotter,
            "defaultRuntimeName": "runc",
            "runtimes": {"runc": {"runtimeType": ctd.runtime}},
        },
        "cni": {
            "binDir": cni.bin_dirs[0] if cni.bin_dirs else "",
            "binDirs": list(cni.bin_dirs),
            "confDir": cni.conf_dir,
            "maxConfNum": 1,
            "confTemplate": "",
        },
        "registry": {"configPath": registry.config_path},
        "streamServerAddress": bound.hostname or "",
        "streamServerPort": str(bound.port or ""),
        "enableSelinux": False,
        "sandboxImage": settings.sandbox_image,
        "systemdCgroup": settings.cgroup_driver == "systemd",
        "enableTLSStreaming": False,
        "maxContainerLogLineSize": settings.max_container_log_line_size,
        "disableApparmor": True,  # the node has no AppArmor: profiles run unconfined
        "restrictOOMScoreAdj": node.min_oom_score_adj is not None,
        "maxConcurrentDownloads": registry.max_concurrent_downloads,
        "imagePullProgressTimeout": f"{registry.no_progress_timeout:g}s",
        "containerdRootDir": ctd.root,
        "containerdEndpoint": ctd.address,
        "rootDir": settings.root_dir,
        "stateDir": settings.state_dir,
        "hexcri": settings.model_dump(mode="json"),
    }
