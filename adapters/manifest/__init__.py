"""Inbound adapter: Kubernetes v1 Pod manifests run on the domain's use cases (static pods,
`hexcri play`), without a kubelet."""
