"""Exit 0 when the PostgreSQL server in argv[1] accepts connections (used by scripts/test.sh)."""

import sys

import psycopg


def main() -> int:
    url = sys.argv[1]
    # Connect to the maintenance database: the test run creates its own database.
    base, _, _ = url.rpartition("/")
    try:
        with psycopg.connect(f"{base}/postgres", connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
