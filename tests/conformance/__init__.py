"""cri-tools' CRI validation specs (`critest`, kubernetes-sigs/cri-tools `pkg/validate`),
re-expressed in Python and run side by side on two endpoints of one node: `hexcri` and
`containerd-cri` (a second containerd serving its own CRI plugin), as a kubelet sees them:
through their CRI sockets only. `critest` itself cannot be installed here (no Go toolchain or
module proxy), so the specs are ported; each test's docstring is the upstream spec title.

    flock /tmp/hexcri-containerd.lock .venv/bin/pytest -q -p no:cacheprovider tests/conformance

The node (`conftest.py`, one per package run): the stack of `tests.support.stack` — a private
containerd under hexcri, the local docker-registry, CNI — plus `containerd_cri_beside`. The
images the specs name (`registry.k8s.io/e2e-test-images/…`, `gcr.io/k8s-staging-cri-tools/…`)
are stand-ins built from busybox-static (`images.py`), pushed to the local registry and pulled
by both runtimes through the same hosts.toml mirrors. Each case leaves its endpoint with no pod,
no container and only the images pulled at start-up.

Ported (file → module): runtime_info.go → test_runtime_info; pod.go, pod_linux.go → test_pod;
container.go → test_container; container_linux.go → test_container_linux; networking.go,
multi_container_linux.go → test_networking; image.go → test_image; idempotence.go →
test_idempotence; security_context_linux.go → test_security_context; streaming.go,
streaming_linux.go → test_streaming (networking_linux.go holds no spec, only the host-network
web server that module uses). consts.go and pkg/framework → framework.py.

Adapted to this node, the behaviour checked unchanged:
- the e2e busybox stand-in carries a `pgrep` script (Debian's busybox has no such applet);
  the nginx/httpd stand-ins serve a page with busybox httpd on port 80 and name themselves on
  stderr as they start;
- `testImageWithDigest` is our image's digest (upstream pins the digest of its own image);
- the host port of "port mapping with host port and container port" is a free port, not 12000;
- the systemd test slice of `GetCgroupParent` is named `/hexcri-e2e-conformance.slice`, so the
  stack's teardown removes it;
- streaming: the client is ours (`tests/support/spdy_client.py`, SPDY/3.1), not client-go; it
  opens the streams, request IDs and half-closes client-go does. SPDY only (upstream's optional
  WebSocket transports are not run). The port-forward host ports are free ports, not 12001
  and 12002; the hostnet-nginx stand-in (busybox httpd on 12003) is pushed by test_streaming.
- security: the nonewprivs and test-image-predefined-group stand-ins (`images.py`) are pushed
  by test_security_context; nonewprivs is a static setuid-root C program printing its
  effective uid. Our nginx stand-in is busybox httpd: HostPID starts it through a shell that
  writes its pid to /var/run/nginx.pid and looks for it with `pgrep httpd` (not `pidof nginx`);
  PodPID/ContainerPID look for httpd, not nginx's "master process", as pid 1. `ipcs -m` (no
  such applet in Debian's busybox) is `cat /proc/sysvipc/shm`; the stand-in has no brctl or
  netstat links, so `busybox brctl`, `busybox netstat`. MaskedPaths masks /bin/pgrep, not
  /bin/ls (a symlink to busybox here: masking it would mask every applet). The host's shm
  segment is removed afterwards. Three seccomp specs of an earlier revision of the
  file are kept (docker/default, now RuntimeDefault, with and without SYS_ADMIN; a path without
  `localhost/` in the deprecated string field), and two checks are ours, marked "(not
  upstream)": RuntimeDefault refuses unshare(CLONE_NEWUSER) where Unconfined allows it, and a
  Localhost profile missing from the node fails CreateContainer.

Calls, their order and waits are upstream's: `Eventually` on a container's state polls every
4 s for a minute, on logs and web pages every second (`framework.eventually`, `consistently`);
a log is read right after StartContainer where upstream reads it then, and a log file that is
not there fails the spec at once, as upstream's `parseLogLine` does. A check that goes beyond
upstream's says so ("ours"). Security's "if the container's primary UID belongs to some groups
in the image, runtime should add SupplementalGroups to them" is kept twice: cri-tools v1.26's,
in the "bucket" context (no policy, runs everywhere), and the later one gated on the
SupplementalGroupsPolicy feature.

Skipped when the runtime says so, as upstream does: the recursive read-only mount specs (no
`recursive_read_only_mounts` feature on the default handler), the metrics specs
(ListMetricDescriptors answers Unimplemented), and security's SupplementalGroupsPolicy (no
`supplemental_groups_policy` runtime feature) and UserNamespaces (no `user_namespaces`
feature on the default handler) specs.

Not ported:
- streaming_list.go ("Streaming List"): List RPCs streamed over gRPC, newer than the CRI v1
  stubs used here (upstream skips it on containerd);
- security: apparmor*.go, selinux*.go (the node has neither; upstream skips them there too),
  and UserNamespaces' "runtime should support NamespaceMode_POD" (needs an idmap-mount probe
  of the runtime's state dir, and no runtime here announces user namespaces);
- nri*.go and nri/: NRI plugins; image_volume.go: image volumes; checkpointing
  (CheckpointContainer): not part of this area, Unimplemented in hexcri;
- image_consistency.go, image_id_consistency.go, cgroup_mount_mode_linux.go: outside the areas
  this suite covers.
"""
