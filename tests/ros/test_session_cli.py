"""A user's ROS 2 session through the two verbs only: ``ifgrasp launch sim`` in one process (the
graph sim.launch.xml describes, started with the parser the tests use), ``ifgrasp ask`` in others:
plan only, a grasp verified from the hand's reading, a grasp while holding, "put it back", the next
grasp with no manual recover, a second goal rejected while one runs, a killed stage node reported
by name within seconds, and Ctrl-C stopping every node cleanly."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

REPO = Path(__file__).resolve().parents[2]


def cli_env(domain: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IFGRASP_ROS_ENV",)}
    env.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1",
               PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    env.setdefault("MUJOCO_GL", "osmesa")
    env.setdefault("PYOPENGL_PLATFORM", "osmesa")
    return env


class Launch:
    """``ifgrasp launch ...`` in the background; its lines collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "ifgrasp.cli", "launch", *args], env=env, cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            self.lines.append(raw.decode(errors="replace").rstrip())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float, after: int = 0) -> re.Match:
        """The first match of ``pattern`` in the launcher's output from character ``after`` on."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text[after:])
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"no '{pattern}' from ifgrasp launch within {timeout_s} s:\n{self.text[-5000:]}")


def ask(args: list[str], env, timeout_s: float = 240.0) -> tuple[int, str]:
    out = subprocess.run([sys.executable, "-m", "ifgrasp.cli", "ask", *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=timeout_s)
    return out.returncode, out.stdout + out.stderr


def test_launch_then_ask_a_whole_session(ros_domain, student_model):
    env = cli_env(ros_domain)
    launch = Launch(["sim", f"model_path:={student_model}"], env)
    try:
        launch.wait_for(r"graph ready in [0-9.]+ s", 240.0)
        for item in ("service /ifgrasp/ground", "service /ifgrasp/perceive", "service /ifgrasp/generate_grasps",
                     "service /ifgrasp/plan_grasp", "action /ifgrasp/execute_grasp",
                     "camera /camera/camera/color/image_raw"):
            assert f"ready after" in launch.text and item in launch.text, item
        assert re.search(r"^\[commander\s*\] ", launch.text, re.M)  # logs streamed with node prefixes

        code, out = ask(["--plan-only", "grab the mug by the handle"], env)
        assert code == 0 and "planned in" in out and "mug / handle" in out, out
        code, out = ask(["pick up the banana"], env)
        assert code == 1 and "UNKNOWN_OBJECT" in out and "mug" in out, out
        code, out = ask(["x" * 400], env)
        assert code == 1 and "limit is 300" in out, out

        # a grasp: stages printed as they happen (in run order), execute with its progress
        code, out = ask(["pick up the mug by its handle"], env)
        stages = re.findall(r"^\[\s*[0-9.]+ s\] (\w+)$", out, re.M)
        assert stages[:7] == ["ground", "perceive", "generate", "plan", "execute", "lift", "verify"], out
        assert re.search(r"\] execute\s+\d+%", out), out
        if code == 0:
            assert "HELD: the mug by its handle" in out and "fingers stopped short" in out, out
            code, out = ask(["grab the spray bottle by its body"], env)
            if "the mug is no longer in the hand" in out:  # it slipped out since: the hold measured again says so
                ask(["let go"], env, 60.0)  # whatever this grasp left in the hand
            else:
                assert code == 1 and "HOLDING" in out and "put it back" in out, out
                code, out = ask(["put it back"], env)
                if "the mug is no longer in the hand" not in out:  # (or it slipped out just now: said so)
                    assert code == 0 and "put the mug back down" in out, out
                else:
                    assert code == 1 and "NOT_HOLDING" in out, out
        else:
            assert "DROPPED" in out and "fingers" in out, out  # a drop is a drop, with its evidence

        # the next grasp runs with no manual recover; a second goal meanwhile is rejected at once
        mark = len(launch.text)  # the earlier commands' log lines are not this one's
        nxt = subprocess.Popen([sys.executable, "-m", "ifgrasp.cli", "ask", "pick up the mug by its handle"],
                               env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        launch.wait_for(r"/ifgrasp/ground: ok in", 120.0, after=mark)  # the stage nodes' own log lines, streamed
        code2, out2 = ask(["let go"], env, 60.0)
        out_n, _ = nxt.communicate(timeout=240.0)
        if "] execute" in out_n:  # the grasp ran for seconds past the release's arrival: it must have been refused
            assert code2 == 2 and "REJECTED" in out2, out2
        # it runs its stages with no recover asked for; where the mug now stands its handle may be hidden
        # from the camera (INVALID_GOAL at perceive) or have no collision-free grasp (at plan)
        assert "] perceive" in out_n and "STAGE_FAILED" not in out_n and "recover" not in out_n, out_n
        assert "] plan" in out_n or "has no valid depth point" in out_n, out_n

        # a stage node dies: reported by name by the launcher, and the next command fails fast naming it
        pid = int(re.search(r"started grasp_generator \(pid (\d+)\)", launch.text).group(1))
        os.kill(pid, signal.SIGKILL)
        launch.wait_for(r"node 'grasp_generator' died \(killed by signal 9\)", 10.0)
        # the scene as it started, then an empty hand so the next grasp is allowed: after the session the
        # mug may lie out of view or with its handle hidden, and perceive would end the command
        # (UNKNOWN_OBJECT, INVALID_GOAL) before the dead generator is reached
        ask(["--reset-sim", "let go"], env, 60.0)
        t0 = time.monotonic()
        code, out = ask(["pick up the mug by its body"], env)
        took = time.monotonic() - t0
        assert code == 1 and "STAGE_FAILED" in out and "/ifgrasp/generate_grasps" in out and "grasp_generator" in out, out
        print(f"killed generator reported to ask in {took:.1f} s (incl. ask's own start)")
    finally:
        if launch.proc.poll() is None:
            launch.proc.send_signal(signal.SIGINT)
        code = launch.proc.wait(90.0)
        launch.thread.join(5.0)
    text = launch.text
    assert "stopping" in text and "killed after" not in text, text[-3000:]
    assert "Traceback" not in text, text[-5000:]
    # every node but the killed one left with code 0; the launcher says one died
    codes = dict(re.findall(r"(\w+) (-?\d+)", text.split("exit codes:")[-1].splitlines()[0]))
    assert codes.pop("grasp_generator") == "-9" and set(codes.values()) == {"0"}, text[-2000:]
    assert code == 1
