"""What the end-to-end tests' private worlds share (tests/xl/xl_test.py,
tests/xapi/xapienv.py): where the built programs are, the environment that
points xl, libxenon and the VMM at a temp dir instead of /run and /var, a
private xenon-xenstored on its own socket, and a bounded wait."""
import os
import socket
import subprocess
import time

SRC = os.environ.get("XENON_SOURCE_ROOT", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("XENON_BUILD_ROOT", os.path.join(SRC, "build"))
XL = os.path.join(BUILD, "xl", "xl")
XENSTORED = os.path.join(BUILD, "xenstored", "xenon-xenstored")
VMM = os.path.join(BUILD, "vmm", "xenon-vmm")
XAPI = os.path.join(BUILD, "xapi", "xenon-xapi")


def wait_for(cond, secs):
    """cond()'s first true value within secs, else its last value."""
    end = time.time() + secs
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    return cond()


def private_env(tmp, xs_sock):
    """os.environ with the toolstack's directories and xenstored's socket
    under tmp."""
    return dict(os.environ,
                XENSTORED_PATH=xs_sock,
                XENON_STATE_DIR=os.path.join(tmp, "state"),
                XENON_RUN_DIR=os.path.join(tmp, "run"),
                XENON_LOG_DIR=os.path.join(tmp, "log"),
                XENON_VMM=VMM)


def listening(path):
    """Whether a unix socket at path accepts connections: its file appears
    at bind(), before listen(), when a connect is still refused."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def start_xenstored(tmp, xs_sock):
    """A xenon-xenstored on xs_sock with its data and log under tmp, once
    its socket accepts connections (killed, and SystemExit, if it does not
    come up in 10 s)."""
    xs = subprocess.Popen([XENSTORED, "-N", "--socket", xs_sock,
                           "--data-dir", os.path.join(tmp, "xsdata"),
                           "--pid-file", "",
                           "--log-file", os.path.join(tmp, "xs.log")])
    if not wait_for(lambda: listening(xs_sock), 10):
        xs.kill()
        xs.wait()
        raise SystemExit("xenstored did not start")
    return xs
