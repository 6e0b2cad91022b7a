"""Anomaly detectors, alert rules, and notifiers sending to real servers on 127.0.0.1."""

import datetime as dt
import logging
import ssl
import time

import numpy as np
import pytest
from aiosmtpd.controller import Controller

from a1lab.monitoring.alerts import AlertBook, Rule
from a1lab.monitoring.anomaly import RollingIQR, RollingZScore
from a1lab.monitoring.notify import Channel, Dispatcher
from a1lab.testing import free_port


def planted(n=2000, every=97, size=8.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    idx = np.arange(60, n, every)
    x[idx] += size * rng.choice([-1, 1], len(idx))
    return x, set(idx.tolist())


@pytest.mark.parametrize("make", [lambda: RollingZScore(50, 4.0, 30), lambda: RollingIQR(50, 3.0, 30)],
                         ids=["zscore", "iqr"])
def test_detectors_find_planted_anomalies(make):
    x, truth = planted()
    det = make()
    flagged = {i for i, v in enumerate(x) if det.update(v)}
    tp = len(flagged & truth)
    assert tp / max(len(flagged), 1) >= 0.9  # precision
    assert tp / len(truth) >= 0.9  # recall


def test_warmup_flags_nothing():
    det = RollingZScore(50, 3.0, warmup=10)
    assert not any(det.update(v) for v in [0, 0, 0, 100, 0, 0, 0, 0, 0, 0])


def test_threshold_dedup_cooldown_escalation_health():
    book = AlertBook([Rule("rps_gap", "rps_gap", threshold=0.01, cooldown=100, escalate_after=2)])
    assert book.health() == 1.0
    sent = []
    for t in range(0, 1000, 10):  # firing every 10 s for 1000 s
        sent += book.observe("rps_gap", 0.02, now=t)
    assert [a.at for a in sent] == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]  # one per cooldown
    assert [a.severity for a in sent[:5]] == ["warning", "warning", "critical", "critical", "critical"]
    assert book.health() == pytest.approx(0.5)
    assert book.observe("rps_gap", 0.0, now=990) == [] and book.health() == 1.0
    assert book.observe("rps_gap", 0.05, now=995) == []  # a new episode, but inside the cooldown of the last send
    fresh = book.observe("rps_gap", 0.05, now=1001)
    assert [(a.severity, a.repeat) for a in fresh] == [("warning", 1)]  # resolved: escalation starts over


def test_staleness_rule():
    book = AlertBook([Rule("feed_quiet", "events", kind="staleness", max_age=60, severity="critical")])
    book.observe("events", 1, now=0)
    assert book.check_staleness(now=30) == []
    alerts = book.check_staleness(now=61)
    assert len(alerts) == 1 and alerts[0].severity == "critical" and "no events" in alerts[0].message
    book.observe("events", 1, now=62)
    assert book.check_staleness(now=70) == [] and book.health() == 1.0


def test_anomaly_rule():
    x, truth = planted(n=400, every=97)
    book = AlertBook([Rule("odds_move", "move", kind="anomaly", sensitivity=4.0, warmup=30, cooldown=0)])
    fired = [i for i, v in enumerate(x) if book.observe("move", v, now=i)]
    assert set(fired) == truth


def alert():
    book = AlertBook([Rule("rps_gap", "rps_gap", threshold=0.01)])
    return book.observe("rps_gap", 0.03, now=5)[0]


def channel(url: str, timeout: float = 2.0, failures: int = 5, reset: float = 60.0, queue_size: int = 10) -> Channel:
    return Channel(url, timeout, failures, reset, queue_size)


def test_a_json_webhook_reaches_a_real_server_and_keeps_its_token_out_of_logs(http_server, caplog):
    secret = "/hooks/T000/B000/SECRET-TOKEN"
    d = Dispatcher([channel(f"json://127.0.0.1:{http_server.server_port}{secret}")], attempts=3, backoff=0.5,
                   sleep=lambda s: None)
    with caplog.at_level(logging.INFO):  # at DEBUG, apprise and urllib3 log the URLs they post to
        out = d.dispatch(alert())
    assert [x.status for x in out] == ["sent"]
    [(path, payload)] = http_server.received
    assert path == secret and payload["title"] == "[a1lab warning] rps_gap" and payload["type"] == "warning"
    assert "value 0.03" in payload["message"]
    assert "SECRET-TOKEN" not in caplog.text and "SECRET" not in out[0].channel


def test_outage_is_retried_then_delivered(http_server):
    http_server.fail_first = 2
    waits = []
    d = Dispatcher([channel(f"json://127.0.0.1:{http_server.server_port}/a")], attempts=3, backoff=0.1,
                   sleep=waits.append)
    out = d.dispatch(alert())
    assert out[0].status == "sent" and out[0].attempts == 3 and waits == [0.1, 0.2]
    assert len(http_server.received) == 1


def test_dead_channel_is_recorded_as_failed_and_never_raises(caplog):
    waits = []
    d = Dispatcher([channel(f"json://127.0.0.1:{free_port()}/token-xyz", timeout=1)], attempts=3, backoff=0.1,
                   sleep=waits.append)
    out = d.dispatch(alert())
    assert out[0].status == "failed" and out[0].attempts == 3 and "connection" in out[0].error.lower()
    assert d.deliveries == out and waits == [0.1, 0.2]
    assert "token-xyz" not in caplog.text


def test_an_unknown_url_is_refused_by_name():
    from a1lab.monitoring.config import build_monitoring
    from a1lab.params import check_section

    config = check_section("monitoring", {"attempts": 1, "backoff": 0, "timeout": 1, "queue": 1,
                                          "breaker": {"failures": 1, "reset": 1}, "rules": [],
                                          "channels": ["HOOK", "UNSET"]})
    with pytest.raises(ValueError, match=r"^monitoring channel HOOK: not an alert URL apprise knows \(https://"
                                         r"example.com/\.\.\.\)"):
        build_monitoring(config, {"HOOK": "https://example.com/SECRET"})
    assert build_monitoring(config, {"HOOK": " "})[1].channels == []  # unset or empty: skipped


def test_a_hung_channel_opens_its_breaker_and_half_opens_later(silent_server, http_server):
    """A server that accepts and never answers: each send times out until the breaker opens; then alerts are
    refused at once; after ``reset`` one trial send goes through (here to a server that answers)."""
    hung = channel(f"json://127.0.0.1:{silent_server}/hook", timeout=0.3, failures=2, reset=1.0)
    d = Dispatcher([hung], attempts=1, backoff=0, sleep=lambda s: None)
    first = [d.dispatch(alert())[0] for _ in range(2)]
    assert [x.status for x in first] == ["failed", "failed"] and hung.breaker.current_state == "open"
    started = time.monotonic()
    refused = d.dispatch(alert())[0]
    assert refused.status == "refused" and refused.attempts == 0 and time.monotonic() - started < 0.1
    hung.plugin = channel(f"json://127.0.0.1:{http_server.server_port}/hook").plugin  # the service recovers
    time.sleep(1.1)
    assert d.dispatch(alert())[0].status == "sent" and hung.breaker.current_state == "closed"
    assert len(http_server.received) == 1


def test_a_hung_channel_never_delays_the_caller_or_the_other_channels(silent_server, http_server):
    """The bulkhead: submit() returns at once while the hung channel's thread waits; the good channel sends
    every alert; the hung channel's queue holds ``queue_size`` and drops (and records) the rest."""
    hung = channel(f"json://127.0.0.1:{silent_server}/hook", timeout=2.0, queue_size=3)
    good = channel(f"json://127.0.0.1:{http_server.server_port}/hook")
    d = Dispatcher([hung, good], attempts=1, backoff=0)
    d.submit(alert())
    while not hung.queue.empty():  # the hung channel's thread has taken the first alert and waits on it
        time.sleep(0.01)
    started = time.monotonic()
    for _ in range(5):
        d.submit(alert())
    assert time.monotonic() - started < 0.2  # five alerts queued while the hung send waits 2 s
    deadline = time.monotonic() + 5
    while len(http_server.received) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(http_server.received) == 6
    d.close(timeout=0.5)  # the hung channel still holds alerts: close gives up after 0.5 s
    statuses = sorted((x.channel.split(":")[2], x.status) for x in d.deliveries)
    hung_port, good_port = f"{silent_server}/...", f"{http_server.server_port}/..."
    assert [s for c, s in statuses if c == good_port] == ["sent"] * 6
    assert [s for c, s in statuses if c == hung_port] == ["dropped"] * 2  # 1 in flight + 3 queued, 2 dropped


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "cert.pem", tmp_path / "key.pem"


def test_email_over_real_smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = f"mailto://127.0.0.1:{port}?smtp=127.0.0.1&from=lab@a1lab.test&to=ops@a1lab.test&mode=insecure"
        d = Dispatcher([channel(url)], attempts=3, backoff=0.5, sleep=lambda s: None)
        assert d.dispatch(alert())[0].status == "sent"
    finally:
        controller.stop()
    sender, rcpts, content = inbox.messages[0]
    assert sender == "lab@a1lab.test" and rcpts == ["ops@a1lab.test"]
    assert "Subject: [a1lab warning] rps_gap" in content and "value 0.03" in content


def test_email_with_starttls_and_login_never_leaks_the_password(tmp_path, caplog, monkeypatch):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's certificate, and only it

    def auth(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.password == b"hunter2"
        return AuthResult(success=ok)

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
                            authenticator=auth, auth_require_tls=True)
    controller.start()
    try:
        def url(password):
            return (f"mailto://lab:{password}@127.0.0.1:{port}?smtp=127.0.0.1&from=lab@a1lab.test&to=ops@a1lab.test"
                    "&mode=starttls")

        good, bad = channel(url("hunter2")), channel(url("wrong-secret"))
        with caplog.at_level(logging.DEBUG):
            d = Dispatcher([good, bad], attempts=2, backoff=0.5, sleep=lambda s: None)
            out = d.dispatch(alert())
    finally:
        controller.stop()
    assert [x.status for x in out] == ["sent", "failed"]
    assert len(inbox.messages) == 1
    assert "hunter2" not in caplog.text and "wrong-secret" not in caplog.text and "wrong-secret" not in repr(bad)
    assert "wrong-secret" not in (out[1].error or "")
