"""Failure alerts through Luigi's own error e-mails, received by a local SMTP server."""
import email
from datetime import date

from luigi.execution_summary import LuigiStatusCode

from luigi_tasks.tasks import BhavcopyETL
from tests.smtp_server import SMTPServer


def test_a_failed_day_sends_an_error_email(data_dir, nse_server, run_tasks, luigi_config):
    with SMTPServer() as smtp:
        luigi_config("email", "receiver", "ops@example.com")
        luigi_config("email", "sender", "bhavcopy@example.com")
        luigi_config("email", "method", "smtp")
        luigi_config("email", "force_send", "true")  # pytest may run on a tty, where Luigi stays quiet
        luigi_config("smtp", "host", "127.0.0.1")
        luigi_config("smtp", "port", str(smtp.port))
        luigi_config("smtp", "no_tls", "true")
        result = run_tasks(BhavcopyETL(date=date(2025, 6, 20), load_to_clickhouse=False))

    assert result.status == LuigiStatusCode.FAILED
    # one alert for the day's run, naming it, and the scheduler's note that the run is not retried
    raw, disabled = smtp.messages
    message = email.message_from_string(raw)
    assert message["To"] == "ops@example.com"
    assert message["Subject"].startswith('Luigi: BhavcopyETL(date=2025-06-20, load_to_clickhouse=False, datasets=["cm"])'
                                         " FAILED")
    body = "".join(part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart())
    assert "DownloadBhavcopy(date=2025-06-20, dataset=cm): no bhavcopy" in " ".join(body.split())  # the stage, by name
    assert "no bhavcopy published for 2025-06-20" in body
    assert email.message_from_string(disabled)["Subject"].startswith("Luigi Scheduler: DISABLED BhavcopyETL")


def test_no_receiver_means_no_email(data_dir, nse_server, run_tasks, luigi_config):
    with SMTPServer() as smtp:
        luigi_config("smtp", "host", "127.0.0.1")
        luigi_config("smtp", "port", str(smtp.port))
        luigi_config("email", "force_send", "true")
        assert run_tasks(BhavcopyETL(date=date(2025, 6, 20), load_to_clickhouse=False)).status == LuigiStatusCode.FAILED
    assert smtp.messages == []
