"""Run one batch of days' stage tasks with Luigi's own worker, on a scheduler of the batch's own.

Luigi's local scheduler walks every task it holds on each request for work, so a backfill whose
one scheduler held every stage of every day would cost the square of its task count (hours for
NSE's full history; BENCHMARKS.md). The outer scheduler holds one BhavcopyETL per day, which
Luigi batches; each batch gives its days' stages to a fresh Luigi worker here. The stages stay
Luigi tasks: their targets, `[retries]` (by Luigi's retry policy, under `[worker] keep_alive`),
events, metrics and status messages are those of any Luigi run.
"""
import contextlib
import multiprocessing

import luigi
import luigi.cmdline_parser
import luigi.interface
import luigi.rpc
import luigi.scheduler
import luigi.worker

from .errors import OneLineFailures


def _scheduler():
    """luigid when the command line used it (so the visualiser shows every stage), else a local one.

    luigid counts each worker's own tasks, so a batch's stages cost it no more than a day's would;
    a `luigi.build(...)` call from Python has no command line and gets a local scheduler.
    """
    command_line = luigi.cmdline_parser.CmdlineParser.get_instance()
    core = luigi.interface.core()
    if command_line is None or core.local_scheduler:
        return luigi.scheduler.Scheduler(prune_on_get_work=True, record_task_history=False)  # as luigi.build's
    url = core.scheduler_url or f"http://{core.scheduler_host}:{core.scheduler_port:d}/"
    return luigi.rpc.RemoteScheduler(url)


@contextlib.contextmanager
def _pings_allowed():
    """Let the batch's worker ping its scheduler when the batch runs in a process Luigi forked.

    Luigi forks a worker process while holding `luigi.worker.fork_lock`, and the child runs its task
    inside that hold. A worker made in the child pings from a thread that takes the same lock, and
    exiting waits for that thread: with `--workers 2` every batch longer than `[worker]
    ping_interval` hung. The child's copy of the lock is its own; it is free while the batch runs.
    """
    held = multiprocessing.parent_process() is not None and luigi.worker.fork_lock.locked()
    if held:
        luigi.worker.fork_lock.release()
    try:
        yield
    finally:
        if held:
            luigi.worker.fork_lock.acquire()


def run(tasks: list, on_success=lambda task: None) -> tuple[list[tuple[luigi.Task, BaseException]], bool]:
    """Run `tasks` and what they require that is not done.

    Returns the (task, error) of each failure, and whether Luigi scheduled and ran all of it.

    No stage sends an e-mail of its own: the batch's single failure does, listing them all.
    """
    failures: list[tuple[luigi.Task, BaseException]] = []

    def failed(task, exception):
        failures.append((task, exception))

    luigi.Task.event_handler(luigi.Event.FAILURE)(failed)
    luigi.Task.event_handler(luigi.Event.SUCCESS)(on_success)
    OneLineFailures.inside_batch = True
    scheduler = _scheduler()
    try:
        with _pings_allowed(), luigi.worker.Worker(scheduler=scheduler, worker_processes=1,
                                                   send_failure_email=False) as worker:
            scheduled = all([worker.add(task) for task in tasks])
            ran = worker.run()
    finally:
        OneLineFailures.inside_batch = False
        luigi.Task.remove_event_handler(luigi.Event.FAILURE, failed)
        luigi.Task.remove_event_handler(luigi.Event.SUCCESS, on_success)
        if hasattr(scheduler, "close"):
            scheduler.close()
    return failures, scheduled and ran

