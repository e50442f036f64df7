"""`crm import` and `crm export`: the same services as the pages and the API, with a progress bar."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.core.errors import DomainError
from crm.customers.choices import ImportKind, ImportMode, JobStatus
from crm.customers.models import ImportJob
from crm.customers.transfer import exports, readers, services
from crm.identity.models import User


def _user(username: str | None) -> User:
    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        return user
    user = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        raise CommandError("give --user USERNAME (no active superuser to act as)")
    return user


def _fail(exc: DomainError) -> CommandError:
    lines = [str(exc.detail)] + [f"  {field}: {'; '.join(msgs)}" for field, msgs in exc.errors.items()]
    return CommandError("\n".join(lines))


class ImportCommand(BaseCommand):
    help = "Import customers, contacts or orders from a CSV or XLSX file (inline with a progress bar by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--kind", choices=ImportKind.values, default="customers")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.ALL_OR_NOTHING)
        parser.add_argument("--upsert-by", choices=["", "external_id", "email", "phone"], default="")
        parser.add_argument("--encoding", choices=["", *readers.ENCODINGS], default="")
        parser.add_argument("--dry-run", action="store_true", help="check every row, save nothing")
        parser.add_argument("--user", help="act as this user (default: the first superuser)")
        parser.add_argument("--background", action="store_true", help="queue for the worker and follow its progress")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        actor = _user(options["user"])
        try:
            with path.open("rb") as fh:
                job = services.create_import_job(
                    actor=actor,
                    upload=fh,
                    file_name=path.name,
                    kind=options["kind"],
                    mode=options["mode"],
                    upsert_by=options["upsert_by"],
                    encoding=options["encoding"],
                    dry_run=options["dry_run"],
                )
            job = services.start_import(job, actor=actor, dry_run=options["dry_run"], enqueue=options["background"])
        except DomainError as exc:
            raise _fail(exc) from exc
        self.stderr.write(f"import #{job.pk}: {path.name} ({job.encoding or 'xlsx'}), columns {job.mapping['columns']}")
        runner: threading.Thread | None = None
        if not options["background"]:
            runner = threading.Thread(target=self._run_inline, args=(job.pk,), daemon=True)
            runner.start()
        self._follow(job, runner, quiet=options["no_progress"])
        job.refresh_from_db()
        for error in job.errors[:20]:
            self.stderr.write(f"  row {error['row']} {error['field']}: {error['message']}")
        if job.error_count > 20:
            self.stderr.write(f"  … {job.error_count - 20} more (GET /api/v1/imports/{job.pk}/errors)")
        self.stdout.write(f"{job.status}: {job.message}")
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"import #{job.pk} {job.status}")

    @staticmethod
    def _run_inline(job_id: int) -> None:
        try:
            services.execute_import(job_id)
        finally:
            connection.close()

    def _follow(self, job: ImportJob, runner: threading.Thread | None, *, quiet: bool) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        bar = tqdm(total=job.total_rows or None, unit="rows", disable=quiet, file=sys.stderr)
        done = 0
        try:
            while True:
                if runner is not None:
                    runner.join(timeout=0.3)
                    finished = not runner.is_alive()
                else:
                    time.sleep(0.5)
                    job.refresh_from_db()
                    finished = job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
                processed = int(services.progress_from_file(job) or 0)
                if processed > done:
                    bar.update(processed - done)
                    done = processed
                if finished:
                    break
        except KeyboardInterrupt:
            services.cancel_import(job, actor=None)
            self.stderr.write("cancelling: everything written is rolled back")
            if runner is not None:
                runner.join()
        finally:
            bar.close()


class ExportCommand(BaseCommand):
    help = "Export customers, contacts or orders as CSV or XLSX to stdout (or --output), as a given user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=list(exports.MODEL_OF), default="customers")
        parser.add_argument("--format", choices=exports.FORMATS, default="csv", dest="file_format")
        parser.add_argument("--user", required=True, help="whose access scope and field rules apply")
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = _user(options["user"])
        kind, file_format = options["kind"], options["file_format"]
        try:
            columns, qs = exports.plan(actor, kind)
        except DomainError as exc:
            raise _fail(exc) from exc
        header = [str(c.label) for c in columns]
        counter = exports.Counter()
        out = Path(options["output"]).open("wb") if options["output"] else sys.stdout.buffer  # noqa: SIM115
        try:
            if file_format == "xlsx":
                target = exports.temporary_xlsx()
                try:
                    exports.write_xlsx(header, exports.rows(kind, columns, qs), target, counter)
                    with target.open("rb") as fh:
                        shutil.copyfileobj(fh, out)
                finally:
                    target.unlink(missing_ok=True)
            else:
                for chunk in exports.stream_csv(header, exports.rows(kind, columns, qs), counter):
                    out.write(chunk)
            out.flush()
        finally:
            if options["output"]:
                out.close()
        exports.audit_export(actor, kind, file_format, {}, counter.rows)
        self.stderr.write(f"exported {counter.rows} {kind}")
