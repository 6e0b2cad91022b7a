"""Anomaly detectors, alert rules, and notifiers sending to real servers on 127.0.0.1."""

import datetime as dt
import logging
import ssl

import numpy as np
import pytest
from aiosmtpd.controller import Controller

from a1lab.monitoring.alerts import AlertBook, Rule
from a1lab.monitoring.anomaly import RollingIQR, RollingZScore
from a1lab.monitoring.notify import Dispatcher, EmailNotifier, SlackNotifier, WebhookNotifier


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


def test_webhook_and_slack_reach_a_real_server(http_server, caplog):
    base = f"http://127.0.0.1:{http_server.server_port}"
    secret = "/hooks/T000/B000/SECRET-TOKEN"
    d = Dispatcher([WebhookNotifier(f"{base}/alerts"), SlackNotifier(f"{base}{secret}")], attempts=3, backoff=0.5,
                   sleep=lambda s: None)
    with caplog.at_level(logging.DEBUG):
        out = d.dispatch(alert())
    assert [x.status for x in out] == ["sent", "sent"]
    (path1, body1), (path2, body2) = http_server.received
    assert path1 == "/alerts" and body1["rule"] == "rps_gap" and body1["value"] == 0.03
    assert path2 == secret and "WARNING" in body2["text"] and body2["blocks"][0]["type"] == "section"
    assert "SECRET-TOKEN" not in caplog.text and all("SECRET" not in x.channel for x in out)


def test_outage_is_retried_then_delivered(http_server):
    http_server.fail_first = 2
    waits = []
    d = Dispatcher([WebhookNotifier(f"http://127.0.0.1:{http_server.server_port}/a")], attempts=3, backoff=0.1,
                   sleep=waits.append)
    out = d.dispatch(alert())
    assert out[0].status == "sent" and out[0].attempts == 3 and waits == [0.1, 0.2]
    assert len(http_server.received) == 1


def test_dead_channel_is_recorded_as_failed_and_never_raises(caplog):
    waits = []
    d = Dispatcher([WebhookNotifier("http://127.0.0.1:9/token-xyz", timeout=1)], attempts=3, backoff=0.1,
                   sleep=waits.append)
    out = d.dispatch(alert())
    assert out[0].status == "failed" and out[0].attempts == 3 and "unreachable" in out[0].error
    assert d.deliveries == out and waits == [0.1, 0.2]
    assert "token-xyz" not in caplog.text


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        d = Dispatcher([EmailNotifier("127.0.0.1", port, "lab@a1lab.test", ["ops@a1lab.test"])], attempts=3,
                       backoff=0.5, sleep=lambda s: None)
        assert d.dispatch(alert())[0].status == "sent"
    finally:
        controller.stop()
    sender, rcpts, content = inbox.messages[0]
    assert sender == "lab@a1lab.test" and rcpts == ["ops@a1lab.test"]
    assert "[a1lab warning] rps_gap" in content and '"value": 0.03' in content


def test_email_with_starttls_and_login_never_leaks_the_password(tmp_path, caplog):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    def auth(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.password == b"hunter2"
        return AuthResult(success=ok)

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
                            authenticator=auth, auth_require_tls=True)
    controller.start()
    try:
        good = EmailNotifier("127.0.0.1", port, "lab@a1lab.test", ["ops@a1lab.test"], starttls=True,
                             username="lab", password="hunter2", ssl_context=client_ctx)
        bad = EmailNotifier("127.0.0.1", port, "lab@a1lab.test", ["ops@a1lab.test"], starttls=True,
                            username="lab", password="wrong-secret", ssl_context=client_ctx)
        with caplog.at_level(logging.DEBUG):
            d = Dispatcher([good, bad], attempts=2, backoff=0.5, sleep=lambda s: None)
            out = d.dispatch(alert())
    finally:
        controller.stop()
    assert [x.status for x in out] == ["sent", "failed"]
    assert len(inbox.messages) == 1
    assert "hunter2" not in caplog.text and "wrong-secret" not in caplog.text and "wrong-secret" not in repr(bad)
    assert "wrong-secret" not in (out[1].error or "")
