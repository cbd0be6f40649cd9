"""`make run`, the README's main job: tools/run-ember (make run's recipe once
`all` and `runtimes` are built, as `make integration` builds them) starts
emberd, deploys the three examples, prints the table of start times and keeps
serving until Ctrl-C, which stops it cleanly (exit 0).

It starts its own emberd (in a testbox of its own where KVM cannot boot Linux)
on 127.0.0.1:9000, the port README names."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = os.path.join(REPO, "tools", "run-ember")
DEADLINE = 1500  # seconds: a testbox boot plus three cold starts, emulated
EXAMPLES = {"hello-python": "Hello, warm!", "hello-nodejs": "Hello, warm!",
            "hello-provided": "Hello from C!"}


def test_make_run_prints_the_table_and_stops_on_ctrl_c():
    p = subprocess.Popen([sys.executable, RUN], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in p.stdout] + [lines.put(None)],
                     daemon=True).start()
    seen = []
    try:
        deadline = time.monotonic() + DEADLINE
        while not any(l.startswith("emberd serves ") for l in seen):
            left = deadline - time.monotonic()
            assert left > 0, "no table within the deadline:\n" + "".join(seen)
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, f"run-ember exited {p.wait()}:\n" + "".join(seen)
            seen.append(line)
        text = "".join(seen)
        # Each example answered (warm) with its greeting, then has a table row
        # with a cold, a restore and a warm time.
        for name, greeting in EXAMPLES.items():
            assert any(l.startswith(f"run: {name}: ") and greeting in l for l in seen), text
            row = [l for l in seen if l.startswith(name + " ")]
            assert len(row) == 1 and row[0].count(" ms") == 3, text
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=120) == 0, text + "".join(iter(lines.get, None))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
