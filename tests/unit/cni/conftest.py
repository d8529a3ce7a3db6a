"""Fake CNI plugins: small executable scripts that log each call and act as told by their config.

A fake plugin's config may say `"ip": "10.1.2.3/24"` (ADD adds that address on eth0 to the
prevResult), `"fail": "ADD"` (that command fails with the spec's error object), `"hang": "ADD"`
(that command sleeps until killed, after writing its pid) or `"garbage": true` (ADD prints
something that is not JSON). Every call is appended to `calls.jsonl` in the plugin dir.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

FAKE = """\
#!{python}
import json, os, sys, time
conf = json.load(sys.stdin)
cmd = os.environ["CNI_COMMAND"]
env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
call = {{"plugin": os.path.basename(sys.argv[0]), "env": env, "conf": conf}}
with open({log!r}, "a") as f:
    f.write(json.dumps(call) + "\\n")
if conf.get("hang") == cmd:
    with open({log!r} + ".pid", "w") as f:
        f.write(str(os.getpid()))
    time.sleep(3600)
if conf.get("fail") == cmd:
    print("plugin said no", file=sys.stderr)
    print(json.dumps({{"cniVersion": conf["cniVersion"], "code": 7, "msg": "bad thing",
                      "details": "more about it"}}))
    sys.exit(1)
if cmd == "ADD":
    if conf.get("garbage"):
        print("this is not json")
        sys.exit(0)
    result = conf.get("prevResult") or {{"cniVersion": conf["cniVersion"], "interfaces": [],
                                         "ips": []}}
    if "ip" in conf:
        result["interfaces"].append({{"name": env["CNI_IFNAME"], "sandbox": env["CNI_NETNS"]}})
        result["ips"].append({{"address": conf["ip"],
                              "interface": len(result["interfaces"]) - 1}})
    print(json.dumps(result))
"""


class FakePlugins:
    """A bin dir of fake plugins and the log of their calls."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.log = bin_dir / "calls.jsonl"
        bin_dir.mkdir(parents=True, exist_ok=True)

    def add(self, *names: str) -> None:
        for name in names:
            path = self.bin_dir / name
            path.write_text(FAKE.format(python=sys.executable, log=str(self.log)))
            path.chmod(0o755)

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def commands(self) -> list[tuple[str, str]]:
        return [(c["env"]["CNI_COMMAND"], c["plugin"]) for c in self.calls()]

    def wait_hung(self, timeout: float = 30.0) -> None:
        """Block until a hanging fake has written its pid."""
        deadline = time.monotonic() + timeout
        while not Path(str(self.log) + ".pid").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the fake plugin never started hanging")
            time.sleep(0.02)

    def hung_pid(self) -> int:
        return int(Path(str(self.log) + ".pid").read_text())


@pytest.fixture
def fakes(tmp_path: Path) -> FakePlugins:
    plugins = FakePlugins(tmp_path / "bin")
    plugins.add("fake-a", "fake-b", "fake-c")
    return plugins


def write_conflist(
    conf_dir: Path,
    plugins: list[dict[str, Any]],
    name: str = "fakenet",
    version: str = "1.0.0",
    filename: str = "10-fake.conflist",
) -> Path:
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / filename
    path.write_text(json.dumps({"cniVersion": version, "name": name, "plugins": plugins}))
    return path
