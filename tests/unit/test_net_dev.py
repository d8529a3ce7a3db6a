"""The interface counters parsed from /proc/net/dev (the pod's network stats)."""

from __future__ import annotations

from adapters.netns.namespaces import _parse_net_dev

SAMPLE = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0
  eth0: 98765432109  700    3    1    0     0          0         0   4321   50    7    0    0     0       0          0
"""  # noqa: E501


def test_each_interface_with_its_byte_and_error_counters() -> None:
    stats = {s.name: s for s in _parse_net_dev(SAMPLE)}
    assert set(stats) == {"lo", "eth0"}
    eth0 = stats["eth0"]
    assert (eth0.rx_bytes, eth0.rx_errors, eth0.tx_bytes, eth0.tx_errors) == (
        98765432109,
        3,
        4321,
        7,
    )
    assert stats["lo"].rx_bytes == 1234
