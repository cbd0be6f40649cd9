"""Runtime images (runtimes/, `make runtimes`): the files, and the layout a function sees.

The image files are checked as files (erofs magic, size, fsck, package
versions). The layout is checked from inside: the image is mounted
read-only (erofs, loop) in a private mount and PID namespace (unshare), with
the function's code on /var/task, a tmpfs on /tmp, proc and devtmpfs, and a
script runs chrooted as the function user (uid 993, sbx_user1051), as
ember-init runs a function in the guest. That needs root and a host kernel
that mounts erofs; without them the test skips here and fails in CI. What
the runtimes do against ember-init's Runtime API is tested in real guests:
test_lambda_runtimes.py and test_runtime_shims.py.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import skip_here_fail_in_ci

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
IMAGES = os.path.join(BUILD, "runtimes")
SBX_UID, SBX_GID = 993, 990
# Generous bounds: a regression (docs, locales, a dragged-in toolchain) shows up.
MAX_MB = {"provided": 40, "python": 80, "nodejs": 150}
# Only guards against a hang: a cold node start in the chroot takes seconds on a
# loaded 2-core host, so a minute is far from any real run.
HANG_S = 60
EROFS_MAGIC = 0xE0F5E1E2  # at byte 1024, little-endian
NO_EROFS = 97  # the mount script's exit status when the host cannot mount the image


def image(name):
    path = os.path.join(IMAGES, f"{name}.erofs")
    if not os.path.exists(path):
        skip_here_fail_in_ci(f"{path} is not built (make runtimes)")
    return path


def run_in_image(name, files, argv):
    """Runs argv in image `name`, chrooted as the function user, with files as
    /var/task; returns (exit status, stdout, stderr)."""
    img = image(name)
    if os.geteuid() != 0:
        skip_here_fail_in_ci("needs root: mount, unshare and chroot")
    if not shutil.which("unshare"):
        skip_here_fail_in_ci("unshare (util-linux) is not installed")
    with tempfile.TemporaryDirectory(prefix=f"ember-rt-{name}-") as tmp:
        code, mnt = os.path.join(tmp, "task"), os.path.join(tmp, "mnt")
        os.makedirs(mnt)
        os.makedirs(code)
        os.chmod(tmp, 0o755)
        os.chmod(code, 0o755)
        for rel, text in files.items():
            with open(os.path.join(code, rel), "w") as f:
                f.write(text)
            os.chmod(os.path.join(code, rel), 0o644)
        script = f"""set -e
mount -t erofs -o loop,ro '{img}' '{mnt}' || exit {NO_EROFS}
mount --bind '{code}' '{mnt}/var/task'
mount -o remount,bind,ro '{mnt}/var/task'
mount -t tmpfs -o mode=1777 tmpfs '{mnt}/tmp'
mount -t proc proc '{mnt}/proc'
mount -t devtmpfs devtmpfs '{mnt}/dev'
exec chroot --userspec={SBX_UID}:{SBX_GID} '{mnt}' "$@"
"""
        # Its own process group, killed whole on a hang: the uid change in chroot
        # clears the parent-death signal that --kill-child sets up.
        p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--pid",
                              "--fork", "--kill-child", "sh", "-c", script, "sh", *argv],
                             env={"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = p.communicate(timeout=HANG_S)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
    if p.returncode == NO_EROFS:
        skip_here_fail_in_ci(f"this host cannot mount the erofs image {img}: {err.strip()}")
    return p.returncode, out, err


# --- the images ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["provided", "python", "nodejs"])
def test_image_file(name):
    path = image(name)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(1024)
        assert int.from_bytes(f.read(4), "little") == EROFS_MAGIC
    assert size < MAX_MB[name] << 20, f"{name}.erofs is {size >> 20} MiB"
    if shutil.which("fsck.erofs"):
        r = subprocess.run(["fsck.erofs", path], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    versions = open(os.path.join(IMAGES, f"{name}.versions")).read()
    assert re.search(r"^busybox-static \S+$", versions, re.M)
    assert re.search(r"^ca-certificates \S+$", versions, re.M)
    want = {"provided": r"^curl 7\.", "python": r"^python3\.11 3\.11\.", "nodejs": r"^nodejs 18\."}[name]
    assert re.search(want, versions, re.M), versions
    # Install-only packages stay out (runtimes/exclude.packages).
    assert not re.search(r"^(dpkg|perl-base|debconf|tar) ", versions, re.M)


def test_runtime_table():
    # runtimes/runtimes.json: every Lambda name maps to an image with a recipe.
    table = json.load(open(os.path.join(REPO, "runtimes", "runtimes.json")))
    table.pop("_comment", None)
    for runtime, name in table.items():
        assert os.path.exists(os.path.join(REPO, "runtimes", name, "packages")), runtime
    for runtime in ("python3.12", "nodejs20.x", "provided", "provided.al2", "provided.al2023"):
        assert runtime in table
    assert {n for r, n in table.items() if r.startswith("python")} == {"python"}
    assert {n for r, n in table.items() if r.startswith("nodejs")} == {"nodejs"}


LAYOUT_CHECK = r"""
set -e
test -d /var/task && test -d /tmp && test -d /proc && test -d /sys && test -d /dev
test -d /var/runtime
test ! -e /usr/share/doc && test ! -e /usr/share/man && test ! -e /usr/share/locale
grep -q '^sbx_user1051:x:993:990:' /etc/passwd
grep -q 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt
id -u; id -un
touch /tmp/ok
! touch /etc/nope 2>/dev/null
! touch /var/task/nope 2>/dev/null
ls /bin/sh /bin/ls /usr/bin/env >/dev/null
case "$1" in
provided) curl --version | head -1 ;;
python) test -x /var/runtime/bootstrap
	python3 -c 'import ssl, sys; print(sys.version.split()[0], len(ssl.create_default_context().get_ca_certs()) > 100)' ;;
nodejs) test -x /var/runtime/bootstrap
	node -e 'console.log(process.versions.node, require("tls").rootCertificates.length > 100)' ;;
esac
echo layout-ok
"""


@pytest.mark.parametrize("name", ["provided", "python", "nodejs"])
def test_image_layout(name):
    rc, out, err = run_in_image(name, {"check.sh": LAYOUT_CHECK},
                                ["/bin/sh", "/var/task/check.sh", name])
    assert rc == 0, out + err
    lines = out.split()
    assert lines[:2] == ["993", "sbx_user1051"], out
    assert out.rstrip().endswith("layout-ok")
    if name == "python":
        assert re.search(r"^3\.11\.\d+ True$", out, re.M), out
    if name == "nodejs":
        assert re.search(r"^18\.\d+\.\d+ true$", out, re.M), out
