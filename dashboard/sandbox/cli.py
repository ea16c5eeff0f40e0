"""`sandbox` subcommand: run the offline Khalti server in the foreground."""

import argparse
import sys
from collections.abc import Callable
from typing import Any

from dashboard.sandbox.server import SandboxServer, check_key


def _key_argument(kind: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        try:
            return check_key(value, kind)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _not_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {number}")
    return number


def add_parser(subparsers: Any) -> None:
    """Register the `sandbox` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "sandbox",
        help="run the offline Khalti sandbox server",
        description=(
            "Serve an offline copy of Khalti's merchant API with deterministic demo data, "
            "until Ctrl-C."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=_not_negative, default=8765, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument(
        "--records", type=_not_negative, default=5000, help="seeded transactions (default 5000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the demo data")
    parser.add_argument(
        "--secret-key",
        type=_key_argument("secret"),
        help="secret key to accept (default: derived from the seed)",
    )
    parser.add_argument(
        "--public-key",
        type=_key_argument("public"),
        help="public key to accept (default: derived from the seed)",
    )
    parser.add_argument(
        "--page-size", type=_positive, default=50, help="transactions per list page"
    )


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print how to reach it, and serve until interrupted."""
    try:
        server = SandboxServer(
            records=args.records,
            seed=args.seed,
            secret_key=args.secret_key,
            public_key=args.public_key,
            host=args.host,
            port=args.port,
            page_size=args.page_size,
        )
    except ValueError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(f"Khalti sandbox listening on {server.url}")
    print(f"  records      {server.total} (seed {args.seed})")
    print(f"  secret key   {server.secret_key}")
    print(f"  public key   {server.public_key}")
    print("Checkout tokens (status state: token, amount in paisa):")
    for state, (token, amount) in server.demo_tokens.items():
        print(f"  {state:<20} {token}  {amount}")
    print("ePayment pidx (lookup status: pidx):")
    for status, pidx in server.demo_pidx.items():
        print(f"  {status:<20} {pidx}")
    print("Test payers 9800000000 to 9800000005, MPIN 1111, OTP 987654.")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
