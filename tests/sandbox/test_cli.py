import argparse
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from dashboard.sandbox import cli

ROOT = Path(__file__).resolve().parents[2]
# A shell that starts pytest in the background leaves SIGINT ignored in its children.
LAUNCH = """
import argparse, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from dashboard.sandbox import cli
parser = argparse.ArgumentParser(prog="dashboard")
cli.add_parser(parser.add_subparsers(dest="command", required=True))
sys.exit(cli.run(parser.parse_args(sys.argv[1:])))
"""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="dashboard")
    cli.add_parser(root.add_subparsers(dest="command", required=True))
    return root


def test_defaults():
    args = parser().parse_args(["sandbox"])
    assert (args.host, args.port, args.records, args.seed, args.page_size) == (
        "127.0.0.1",
        8765,
        5000,
        42,
        50,
    )
    assert args.secret_key is None and args.public_key is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--secret-key", "sk_live_123"],
        ["--secret-key", "test_public_key_" + "a" * 32],
        ["--public-key", "test_public_key_" + "a" * 31],
        ["--page-size", "0"],
        ["--records", "-1"],
    ],
)
def test_bad_options_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["sandbox", *argv])
    assert exited.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_busy_port_is_reported(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = parser().parse_args(["sandbox", "--port", str(port), "--records", "10"])
        assert cli.run(args) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_run_prints_what_it_serves_and_stops_on_ctrl_c():
    secret = "live_secret_key_" + "0123456789abcdef" * 2
    options = ["--port", "0", "--records", "40", "--secret-key", secret, "--page-size", "15"]
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "sandbox", *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = process.stdout.readline()
            assert line, process.stderr.read()
            lines.append(line.rstrip())
        output = "\n".join(lines)
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", output).group(1)
        assert secret in output
        assert re.search(r"public key\s+test_public_key_[0-9a-f]{32}", output)
        for state in ("Complete", "Confirmed", "Failed", "Expired", "User canceled"):
            assert re.search(rf"^  {state} +\w{{22}}", output, re.MULTILINE), state
        page = requests.get(
            f"{url}/api/v2/merchant-transaction/",
            headers={"Authorization": f"Key {secret}"},
            timeout=10,
        ).json()
        assert page["total_records"] == 40 and page["total_pages"] == 3
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()
