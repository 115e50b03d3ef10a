"""SMS through the Twilio-compatible adapter, against a real local HTTP server that
speaks that API; STOP keywords through the signed inbound webhook."""

from __future__ import annotations

from pydantic import SecretStr

from lastmile.notifications.channels import Outgoing, SendError, TwilioSms
from lastmile.notifications.endpoints import twilio_signature
from lastmile.notifications.sender import deliver_due

from .helpers import make_order, move, rows

PHONE_ONLY = {"name": "Don Chuy", "phone": "+52 (867) 555-0199"}


def twilio(settings, server):
    settings.sms_provider = "twilio"
    settings.twilio_base_url = server.url
    settings.twilio_account_sid = server.sid
    settings.twilio_auth_token = SecretStr(server.token)
    settings.twilio_from = "+19565550000"
    settings.notify_quiet_start = settings.notify_quiet_end = ""
    return settings


def test_sms_goes_through_the_twilio_api(db, client, world, settings, twilio_server):
    s = twilio(settings, twilio_server)
    oid = make_order(client, world, language="es", reference="S-9", contact=PHONE_ONLY)
    move(db, oid, "assigned")
    [row] = rows(db, oid)
    assert (row.channel, row.recipient) == ("sms", "+528675550199")
    assert deliver_due(db, s)["sent"] == 1
    [form] = twilio_server.received
    assert form["To"] == "+528675550199" and form["From"] == "+19565550000"
    assert form["Body"].startswith("Farmacia: tu pedido S-9 llega el 25/11/2026. Síguelo: http://127.0.0.1:8000/t/")
    [row] = rows(db, oid)
    assert (row.status, row.provider, row.provider_id) == ("sent", "twilio", f"SM{1:032x}")


def test_email_and_sms_when_both_are_configured(db, client, world, settings, twilio_server):
    import lastmile.config

    s = twilio(settings, twilio_server)
    got = lastmile.config.get_settings()
    old = got.notify_both_channels
    got.notify_both_channels = True  # the listener reads the process settings
    try:
        oid = make_order(client, world)
        move(db, oid, "assigned")
    finally:
        got.notify_both_channels = old
    assert sorted(r.channel for r in rows(db, oid)) == ["email", "sms"]
    deliver_due(db, s)
    assert len(twilio_server.received) == 1 and all(r.status == "sent" for r in rows(db, oid))


def test_provider_errors(twilio_server):
    sms = TwilioSms(twilio_server.url, twilio_server.sid, twilio_server.token, "+19565550000")
    msg = Outgoing(id="ntf_x", channel="sms", recipient="not-a-number", subject="", body="hola")
    try:
        sms.send(msg)
        raise AssertionError("expected a refusal")
    except SendError as e:
        assert e.permanent and "21211" not in str(e) and "not valid" in str(e)
    wrong = TwilioSms(twilio_server.url, twilio_server.sid, "wrong-token", "+19565550000")
    try:
        wrong.send(Outgoing(id="ntf_y", channel="sms", recipient="+19565550100", subject="", body="hola"))
        raise AssertionError("expected 401")
    except SendError as e:
        assert e.permanent and "401" in str(e)
    twilio_server.status = 503
    try:
        sms.send(Outgoing(id="ntf_z", channel="sms", recipient="+19565550100", subject="", body="hola"))
        raise AssertionError("expected 503")
    except SendError as e:
        assert not e.permanent and "503" in str(e)
    assert twilio_server.received == []


def _inbound(client, settings, form: dict, signature: str | None = None):
    url = settings.public_url.rstrip("/") + "/notifications/sms/inbound"
    sig = signature if signature is not None else twilio_signature(settings.twilio_auth_token.get_secret_value(), url,
                                                                   form)
    return client.post("/notifications/sms/inbound", data=form, headers={"X-Twilio-Signature": sig})


def test_stop_keyword_opts_the_number_out_and_start_back_in(db, client, world, settings, twilio_server):
    s = twilio(settings, twilio_server)
    r = _inbound(client, s, {"From": "+528675550199", "To": "+19565550000", "Body": "alto"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    oid = make_order(client, world, contact=PHONE_ONLY)
    move(db, oid, "assigned")
    assert rows(db, oid)[0].status == "suppressed"
    assert _inbound(client, s, {"From": "+52 867 555 0199", "Body": "START"}).status_code == 200
    move(db, oid, "out_for_delivery")
    assert rows(db, oid, "out_for_delivery")[0].status == "queued"
    deliver_due(db, s)
    assert len(twilio_server.received) == 1


def test_inbound_without_a_valid_signature_is_refused(db, client, world, settings, twilio_server):
    s = twilio(settings, twilio_server)
    r = _inbound(client, s, {"From": "+528675550199", "Body": "STOP"}, signature="bm9wZQ==")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_signature"
    r = client.post("/notifications/sms/inbound", data={"From": "+528675550199", "Body": "STOP"})
    assert r.status_code == 400
    oid = make_order(client, world, contact=PHONE_ONLY)
    move(db, oid, "assigned")
    assert rows(db, oid)[0].status == "queued"  # nobody opted out
