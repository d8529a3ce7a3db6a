"""A Pod model → the domain's SandboxConfig and ContainerConfigs, as kubelet converts them.

`plan_pod` checks what needs the whole file (volume references, ConfigMaps, Secrets, unique
names) and makes the sandbox config; `PodPlan.container_config` makes one container's config
once the pod's IP and volume directories are known.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import posixpath
from dataclasses import dataclass, field

from adapters.manifest.expand import expand
from adapters.manifest.load import Manifest, ManifestError
from adapters.manifest.models import (
    ConfigMapVolume,
    Container,
    KeyToPath,
    Pod,
    SeccompProfile,
    SecretVolume,
)
from adapters.manifest.quantity import byte_count, millicores
from domain.model import (
    LOCALHOST,
    RUNTIME_DEFAULT,
    UNCONFINED,
    Capabilities,
    ContainerConfig,
    ContainerMetadata,
    ContainerSecurity,
    DNSConfig,
    KeyValue,
    LinuxResources,
    Mount,
    NamespaceMode,
    NamespaceOptions,
    PortMapping,
    Protocol,
    SandboxConfig,
    SandboxMetadata,
    SandboxSecurity,
    SecurityProfile,
)
from ports.files import VolumeFile

# the labels and annotations kubelet sets
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
RESTART_COUNT = "io.kubernetes.container.restartCount"
GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_HASH = "kubernetes.io/config.hash"
# hexcri's own: which file a static pod came from
MANIFEST_FILE = "io.hexcri.manifest.file"

# kubelet's CFS period and minimums (pkg/kubelet/cm/helpers_linux.go)
CPU_PERIOD = 100_000
MIN_SHARES = 2
MIN_QUOTA = 1000
# kubelet's oom_score_adj by QoS class (pkg/kubelet/qos/policy.go)
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
KUBELET_SECCOMP_ROOT = "/var/lib/kubelet/seccomp"


@dataclass(frozen=True)
class NodeFacts:
    """What the conversion needs to know about the node."""

    memory_capacity: int = 0
    host_dns: DNSConfig = field(default_factory=DNSConfig)
    log_root: str = "/var/log/pods"
    seccomp_root: str = KUBELET_SECCOMP_ROOT


@dataclass(frozen=True)
class VolumePlan:
    """A pod volume: a directory the runtime makes under the pod's directory (emptyDir, files
    of a ConfigMap or Secret) or a host path checked against its type."""

    name: str
    kind: str  # emptyDir, hostPath, configMap, secret
    memory: bool = False
    files: tuple[VolumeFile, ...] = ()
    host_path: str = ""
    host_type: str = ""


@dataclass(frozen=True)
class PodPlan:
    """One pod of a file, checked and converted as far as it can be before it runs."""

    source: str
    pod: Pod
    uid: str
    hash: str
    sandbox: SandboxConfig
    volumes: tuple[VolumePlan, ...]
    qos: str
    node: NodeFacts = field(default_factory=NodeFacts)

    @property
    def name(self) -> str:
        return self.pod.metadata.name

    @property
    def namespace(self) -> str:
        return self.pod.metadata.namespace

    @property
    def restart_policy(self) -> str:
        return self.pod.spec.restart_policy

    @property
    def grace_period(self) -> int:
        return self.pod.spec.termination_grace_period_seconds

    def container_config(
        self, container: Container, attempt: int, pod_ip: str, volume_paths: dict[str, str]
    ) -> ContainerConfig:
        """The CRI-equivalent config of `container`'s attempt `attempt`."""
        return container_config(self, container, attempt, pod_ip, volume_paths)


def pod_uid(source: str, namespace: str, name: str) -> str:
    """A stable uid: the same file and pod name give the same uid across restarts."""
    return hashlib.sha256(f"{source}\n{namespace}\n{name}".encode()).hexdigest()[:32]


def pod_hash(pod: Pod, manifest: Manifest) -> str:
    """What the running pod was made from: the pod and the ConfigMaps and Secrets it uses."""
    used: list[object] = [pod.model_dump(mode="json", by_alias=True)]
    for volume in pod.spec.volumes:
        if volume.config_map is not None:
            cm = manifest.config_maps.get((pod.metadata.namespace, volume.config_map.name))
            used.append(cm.model_dump(mode="json") if cm else None)
        if volume.secret is not None:
            sec = manifest.secrets.get((pod.metadata.namespace, volume.secret.secret_name))
            used.append(sec.model_dump(mode="json") if sec else None)
    return hashlib.sha256(json.dumps(used, sort_keys=True).encode()).hexdigest()[:16]


def _fail(path: str, message: str) -> ManifestError:
    return ManifestError(f"{path}: {message}")


# --- whole-pod checks -------------------------------------------------------------------------


def _containers(pod: Pod) -> list[tuple[str, Container]]:
    spec = pod.spec
    return [(f"spec.initContainers[{i}]", c) for i, c in enumerate(spec.init_containers)] + [
        (f"spec.containers[{i}]", c) for i, c in enumerate(spec.containers)
    ]


def _check_names(pod: Pod) -> None:
    seen: set[str] = set()
    for path, c in _containers(pod):
        if c.name in seen:
            raise _fail(f"{path}.name", f"container name {c.name!r} is used twice")
        seen.add(c.name)
    volumes: set[str] = set()
    for i, v in enumerate(pod.spec.volumes):
        if v.name in volumes:
            raise _fail(f"spec.volumes[{i}].name", f"volume name {v.name!r} is used twice")
        volumes.add(v.name)
        if len(v.sources()) != 1:
            raise _fail(
                f"spec.volumes[{i}]", "exactly one of emptyDir, hostPath, configMap, secret"
            )
    for path, c in _containers(pod):
        mounted: set[str] = set()
        for j, m in enumerate(c.volume_mounts):
            if m.name not in volumes:
                raise _fail(f"{path}.volumeMounts[{j}].name", f"no volume named {m.name!r}")
            if m.mount_path in mounted:
                raise _fail(f"{path}.volumeMounts[{j}].mountPath", "mounted twice")
            mounted.add(m.mount_path)


def _check_resources(pod: Pod) -> None:
    for path, c in _containers(pod):
        res = c.resources
        for name, limit in res.limits.items():
            request = res.requests.get(name)
            if request is not None and _amount(name, request) > _amount(name, limit):
                raise _fail(
                    f"{path}.resources.requests.{name}",
                    f"must be less than or equal to the {name} limit",
                )


def _amount(name: str, value: str | int | float) -> int:
    return millicores(value) if name == "cpu" else byte_count(value)


def _check_security(pod: Pod) -> None:
    pod_sc = pod.spec.security_context
    if pod_sc.seccomp_profile is not None:
        _check_seccomp(pod_sc.seccomp_profile, "spec.securityContext.seccompProfile")
    for path, c in _containers(pod):
        sc = c.security_context
        if sc.seccomp_profile is not None:
            _check_seccomp(sc.seccomp_profile, f"{path}.securityContext.seccompProfile")
        non_root = sc.run_as_non_root if sc.run_as_non_root is not None else pod_sc.run_as_non_root
        uid = sc.run_as_user if sc.run_as_user is not None else pod_sc.run_as_user
        if non_root and uid == 0:
            raise _fail(f"{path}.securityContext.runAsNonRoot", "runAsUser is 0 (root)")
        if sc.privileged and sc.allow_privilege_escalation is False:
            raise _fail(
                f"{path}.securityContext.allowPrivilegeEscalation",
                "cannot be false for a privileged container",
            )


def _check_seccomp(profile: SeccompProfile, path: str) -> None:
    if (profile.type == "Localhost") != bool(profile.localhost_profile):
        raise _fail(f"{path}.localhostProfile", "is required for type Localhost, and only then")


# --- volumes ----------------------------------------------------------------------------------


def _decode(data: str, path: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(path, "is not valid base64") from None


def _projected(
    items: tuple[KeyToPath, ...], data: dict[str, bytes], mode: int, path: str
) -> tuple[VolumeFile, ...]:
    if not items:
        return tuple(VolumeFile(path=k, content=v, mode=mode) for k, v in sorted(data.items()))
    files = []
    for i, item in enumerate(items):
        if item.key not in data:
            raise _fail(f"{path}.items[{i}].key", f"no key {item.key!r}")
        files.append(VolumeFile(path=item.path, content=data[item.key], mode=item.mode or mode))
    return tuple(files)


def _config_map_files(
    pod: Pod, source: ConfigMapVolume, manifest: Manifest, path: str
) -> tuple[VolumeFile, ...]:
    cm = manifest.config_maps.get((pod.metadata.namespace, source.name))
    if cm is None:
        if source.optional:
            return ()
        raise _fail(f"{path}.name", f"no ConfigMap {source.name!r} in this file")
    where = f"ConfigMap {source.name}"
    data = {k: v.encode() for k, v in cm.data.items()}
    data.update({k: _decode(v, f"{where} binaryData.{k}") for k, v in cm.binary_data.items()})
    return _projected(source.items, data, source.default_mode, path)


def _secret_files(
    pod: Pod, source: SecretVolume, manifest: Manifest, path: str
) -> tuple[VolumeFile, ...]:
    secret = manifest.secrets.get((pod.metadata.namespace, source.secret_name))
    if secret is None:
        if source.optional:
            return ()
        raise _fail(f"{path}.secretName", f"no Secret {source.secret_name!r} in this file")
    where = f"Secret {source.secret_name}"
    data = {k: _decode(v, f"{where} data.{k}") for k, v in secret.data.items()}
    data.update({k: v.encode() for k, v in secret.string_data.items()})
    return _projected(source.items, data, source.default_mode, path)


def _volumes(pod: Pod, manifest: Manifest) -> tuple[VolumePlan, ...]:
    plans = []
    for i, v in enumerate(pod.spec.volumes):
        path = f"spec.volumes[{i}]"
        if v.empty_dir is not None:
            memory = v.empty_dir.medium == "Memory"
            plans.append(VolumePlan(name=v.name, kind="emptyDir", memory=memory))
        elif v.host_path is not None:
            plans.append(
                VolumePlan(
                    name=v.name,
                    kind="hostPath",
                    host_path=v.host_path.path,
                    host_type=v.host_path.type,
                )
            )
        elif v.config_map is not None:
            files = _config_map_files(pod, v.config_map, manifest, f"{path}.configMap")
            plans.append(VolumePlan(name=v.name, kind="configMap", files=files))
        elif v.secret is not None:
            files = _secret_files(pod, v.secret, manifest, f"{path}.secret")
            plans.append(VolumePlan(name=v.name, kind="secret", files=files))
    return tuple(plans)


# --- resources --------------------------------------------------------------------------------


def qos_class(pod: Pod) -> str:
    """Guaranteed, Burstable or BestEffort, as the API computes it."""
    containers = [c for _, c in _containers(pod)]
    if not any(c.resources.requests or c.resources.limits for c in containers):
        return "BestEffort"
    for c in containers:
        res = c.resources
        for name in ("cpu", "memory"):
            limit = res.limits.get(name)  # type: ignore[call-overload]
            request = res.requests.get(name, limit)  # type: ignore[call-overload]
            if limit is None or request is None or _amount(name, request) != _amount(name, limit):
                return "Burstable"
    return "Guaranteed"


def oom_score_adj(qos: str, memory_request: int, memory_capacity: int) -> int:
    """kubelet's GetContainerOOMScoreAdjust."""
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort" or memory_capacity <= 0:
        return BESTEFFORT_OOM_SCORE_ADJ
    score = 1000 - (1000 * memory_request) // memory_capacity
    if score < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if score == BESTEFFORT_OOM_SCORE_ADJ:
        return score - 1
    return score


def linux_resources(container: Container, qos: str, memory_capacity: int) -> LinuxResources:
    """kubelet's generateLinuxContainerResources: shares from the cpu request (the limit when
    only it is set), quota from the cpu limit, the memory limit, oom_score_adj by QoS."""
    res = container.resources
    cpu_request = res.requests.get("cpu", res.limits.get("cpu"))
    cpu_limit = res.limits.get("cpu")
    shares = millicores(cpu_request) * 1024 // 1000 if cpu_request is not None else 0
    quota = 0
    if cpu_limit is not None:
        quota = max(millicores(cpu_limit) * CPU_PERIOD // 1000, MIN_QUOTA)
    memory_request = res.requests.get("memory", res.limits.get("memory"))
    memory_limit = res.limits.get("memory")
    return LinuxResources(
        cpu_period=CPU_PERIOD,
        cpu_quota=quota,
        cpu_shares=max(shares, MIN_SHARES),
        memory_limit_in_bytes=byte_count(memory_limit) if memory_limit is not None else 0,
        oom_score_adj=oom_score_adj(
            qos, byte_count(memory_request) if memory_request is not None else 0, memory_capacity
        ),
    )


# --- security ---------------------------------------------------------------------------------


def _profile(profile: SeccompProfile | None, root: str) -> SecurityProfile:
    if profile is None or profile.type == "Unconfined":
        return SecurityProfile(kind=UNCONFINED)
    if profile.type == "RuntimeDefault":
        return SecurityProfile(kind=RUNTIME_DEFAULT)
    return SecurityProfile(
        kind=LOCALHOST, localhost_ref=posixpath.join(root, profile.localhost_profile)
    )


def namespace_options(pod: Pod) -> NamespaceOptions:
    spec = pod.spec
    pid = NamespaceMode.CONTAINER
    if spec.host_pid:
        pid = NamespaceMode.NODE
    elif spec.share_process_namespace:
        pid = NamespaceMode.POD
    return NamespaceOptions(
        network=NamespaceMode.NODE if spec.host_network else NamespaceMode.POD,
        pid=pid,
        ipc=NamespaceMode.NODE if spec.host_ipc else NamespaceMode.POD,
    )


def container_security(pod: Pod, container: Container, node: NodeFacts) -> ContainerSecurity:
    pod_sc, sc = pod.spec.security_context, container.security_context
    return ContainerSecurity(
        capabilities=Capabilities(add=sc.capabilities.add, drop=sc.capabilities.drop),
        privileged=sc.privileged,
        namespace_options=namespace_options(pod),
        run_as_user=sc.run_as_user if sc.run_as_user is not None else pod_sc.run_as_user,
        run_as_group=sc.run_as_group if sc.run_as_group is not None else pod_sc.run_as_group,
        readonly_rootfs=sc.read_only_root_filesystem,
        supplemental_groups=pod_sc.supplemental_groups,
        no_new_privs=sc.allow_privilege_escalation is False,
        seccomp=_profile(sc.seccomp_profile or pod_sc.seccomp_profile, node.seccomp_root),
    )


def runs_as_non_root(pod: Pod, container: Container) -> bool:
    sc, pod_sc = container.security_context, pod.spec.security_context
    value = sc.run_as_non_root if sc.run_as_non_root is not None else pod_sc.run_as_non_root
    return bool(value)


# --- the sandbox --------------------------------------------------------------------------------


def dns_config(pod: Pod, node: NodeFacts) -> DNSConfig | None:
    """kubelet's DNS for a pod without cluster DNS: ClusterFirst falls back to Default (the
    node's resolv.conf), hostNetwork keeps the node's; `dnsConfig` is merged in; None is only
    `dnsConfig`."""
    spec = pod.spec
    extra = spec.dns_config
    if spec.dns_policy == "None":
        base = DNSConfig()
    elif spec.host_network and extra is None:
        return None
    else:
        base = node.host_dns
    if extra is None:
        return base
    options = {o.split(":", 1)[0]: o for o in base.options}
    for o in extra.options:
        options[o.name] = o.name if o.value is None else f"{o.name}:{o.value}"
    return DNSConfig(
        servers=tuple(dict.fromkeys((*base.servers, *extra.nameservers)))[:3],
        searches=tuple(dict.fromkeys((*base.searches, *extra.searches)))[:32],
        options=tuple(options.values()),
    )


def port_mappings(pod: Pod) -> tuple[PortMapping, ...]:
    return tuple(
        PortMapping(
            protocol=Protocol(p.protocol),
            container_port=p.container_port,
            host_port=p.host_port,
            host_ip=p.host_ip,
        )
        for c in pod.spec.containers
        for p in c.ports
        if p.host_port
    )


def log_directory(pod: Pod, uid: str, node: NodeFacts) -> str:
    m = pod.metadata
    return posixpath.join(node.log_root, f"{m.namespace}_{m.name}_{uid}")


def sandbox_config(
    pod: Pod, uid: str, digest: str, source: str, node: NodeFacts, attempt: int = 0
) -> SandboxConfig:
    m, spec = pod.metadata, pod.spec
    sc = spec.security_context
    return SandboxConfig(
        metadata=SandboxMetadata(name=m.name, uid=uid, namespace=m.namespace, attempt=attempt),
        hostname=spec.hostname or m.name[:63].rstrip("-."),
        log_directory=log_directory(pod, uid, node),
        dns_config=dns_config(pod, node),
        port_mappings=port_mappings(pod),
        labels={**m.labels, POD_NAME: m.name, POD_NAMESPACE: m.namespace, POD_UID: uid},
        annotations={
            **m.annotations,
            CONFIG_SOURCE: "file",
            CONFIG_HASH: digest,
            MANIFEST_FILE: source,
        },
        security=SandboxSecurity(
            namespace_options=namespace_options(pod),
            privileged=any(c.security_context.privileged for _, c in _containers(pod)),
            run_as_user=sc.run_as_user,
            run_as_group=sc.run_as_group,
            supplemental_groups=sc.supplemental_groups,
            seccomp=_profile(sc.seccomp_profile, node.seccomp_root),
        ),
        sysctls={s.name: s.value for s in sc.sysctls},
    )


def plan_pod(pod: Pod, manifest: Manifest, source: str, node: NodeFacts) -> PodPlan:
    """Check the pod against its file and convert what can be converted before it runs."""
    _check_names(pod)
    _check_resources(pod)
    _check_security(pod)
    volumes = _volumes(pod, manifest)
    uid = pod_uid(source, pod.metadata.namespace, pod.metadata.name)
    digest = pod_hash(pod, manifest)
    return PodPlan(
        source=source,
        pod=pod,
        uid=uid,
        hash=digest,
        sandbox=sandbox_config(pod, uid, digest, source, node),
        volumes=volumes,
        qos=qos_class(pod),
        node=node,
    )


def plan_manifest(manifest: Manifest, source: str, node: NodeFacts) -> list[PodPlan]:
    """Every pod of a file; ManifestError (naming the pod and field) for the first bad one."""
    plans = []
    for pod in manifest.pods:
        try:
            plans.append(plan_pod(pod, manifest, source, node))
        except ManifestError as exc:
            raise ManifestError(f"pod {pod.metadata.name}: {exc}") from None
    return plans


# --- containers -------------------------------------------------------------------------------


def _env(plan: PodPlan, container: Container, pod_ip: str) -> tuple[KeyValue, ...]:
    fields = {
        "metadata.name": plan.name,
        "metadata.namespace": plan.namespace,
        "metadata.uid": plan.uid,
        "status.podIP": pod_ip,
    }
    values: dict[str, str] = {}
    for var in container.env:
        if var.value_from is not None:
            values[var.name] = fields[var.value_from.field_ref.field_path]
        else:
            values[var.name] = expand(var.value, values)
    return tuple(KeyValue(key=k, value=v) for k, v in values.items())


def _mounts(container: Container, volume_paths: dict[str, str]) -> tuple[Mount, ...]:
    mounts = []
    for m in container.volume_mounts:
        host = volume_paths[m.name]
        if m.sub_path:
            host = posixpath.join(host, m.sub_path)
        mounts.append(Mount(container_path=m.mount_path, host_path=host, readonly=m.read_only))
    return tuple(mounts)


def container_config(
    plan: PodPlan, container: Container, attempt: int, pod_ip: str, volume_paths: dict[str, str]
) -> ContainerConfig:
    envs = _env(plan, container, pod_ip)
    values = {kv.key: kv.value for kv in envs}
    return ContainerConfig(
        metadata=ContainerMetadata(name=container.name, attempt=attempt),
        image=container.image,
        command=tuple(expand(a, values) for a in container.command),
        args=tuple(expand(a, values) for a in container.args),
        working_dir=container.working_dir,
        envs=envs,
        mounts=_mounts(container, volume_paths),
        labels={
            CONTAINER_NAME: container.name,
            POD_NAME: plan.name,
            POD_NAMESPACE: plan.namespace,
            POD_UID: plan.uid,
        },
        annotations={
            RESTART_COUNT: str(attempt),
            GRACE_PERIOD: str(plan.grace_period),
        },
        log_path=posixpath.join(container.name, f"{attempt}.log"),
        stdin=container.stdin,
        stdin_once=container.stdin_once,
        tty=container.tty,
        resources=linux_resources(container, plan.qos, plan.node.memory_capacity),
        security=container_security(plan.pod, container, plan.node),
    )
