"""Everything that happens with time, driven by the manual clock: SLA due
times on the policy calendar and their breaches, the survey one hour after
resolution and its follow-up, auto-close seven days after resolution, the
stalled-parcel warning, and the KPI report built from all of it."""
import datetime

from harness import DAY, HOUR, T0, ServerTestCase, main, order_body

CST = datetime.timezone(datetime.timedelta(hours=8))


def local(y, mo, d, h=0, mi=0):
    return int(datetime.datetime(y, mo, d, h, mi, tzinfo=CST).timestamp())


class TimersTest(ServerTestCase):

    def get(self, cid):
        r = self.s.get("/v1/cases/" + cid)
        self.assertStatus(r, 200)
        return r.json

    def events(self, kind=None):
        r = self.s.get("/v1/events?after=0&limit=1000")
        self.assertStatus(r, 200)
        return [e for e in r.json["events"] if kind is None or e["type"] == kind]

    def alerts(self, kind=None):
        r = self.s.get("/v1/alerts")
        self.assertStatus(r, 200)
        return [a for a in r.json["alerts"] if kind is None or a["kind"] == kind]

    # --- SLA targets -----------------------------------------------------------
    def test_sla_due_times_per_type(self):
        self.assertEqual(local(2026, 11, 2, 10), T0)
        self.make_order(delivered_at=None)
        self.make_order(order_id="d", category="electronics", qty=1)
        c = self.open_case(type="consultation", order_id="o1", reason="other")
        self.assertEqual(c["sla"]["first_response_due"], T0 + 2 * HOUR)
        self.assertFalse(c["sla"]["business"])
        self.assertEqual(c["sla"]["breached"], [])
        c = self.open_case(type="complaint", order_id="o1", reason="attitude")
        self.assertEqual(c["sla"]["resolution_due"], T0 + 24 * HOUR)
        self.assertFalse(c["sla"]["business"])
        # 3 working days from Monday 10:00 is Thursday 10:00
        for kind in ("return", "exchange"):
            c = self.open_case(type=kind, order_id="d", reason="quality")
            self.assertEqual(c["sla"]["resolution_due"], local(2026, 11, 5, 10), kind)
            self.assertTrue(c["sla"]["business"], kind)
        # 5 working days: next Monday 10:00
        for kind, oid in (("refund_only", "o1"), ("repair", "d"), ("price_protection", "d"),
                          ("logistics", "o1")):
            c = self.open_case(type=kind, order_id=oid, reason="quality")
            self.assertEqual(c["sla"]["resolution_due"], local(2026, 11, 9, 10), kind)
            self.assertTrue(c["sla"]["business"], kind)

    def test_working_days_skip_evenings_weekends_and_holidays(self):
        # 5 working days = 37.5 working hours. Friday 17:00: one hour left that
        # day, then Monday to Thursday (30 h) and Friday until 17:00 (6.5 h).
        self.s.set_clock(local(2026, 11, 6, 17))
        c = self.open_case(type="logistics", buyer_id="b1", reason="late_delivery")
        self.assertEqual(c["sla"]["resolution_due"], local(2026, 11, 13, 17))
        # Saturday night: the clock starts Monday 09:00 and uses five whole days
        self.s.set_clock(local(2026, 11, 7, 23))
        c = self.open_case(type="logistics", buyer_id="b1", reason="late_delivery")
        self.assertEqual(c["sla"]["resolution_due"], local(2026, 11, 13, 18))
        # wall-clock targets ignore the calendar
        c = self.open_case(type="consultation", buyer_id="b1", reason="other")
        self.assertEqual(c["sla"]["first_response_due"], local(2026, 11, 8, 1))
        # New Year's Eve 17:00: 1 January 2027 is a holiday, then a weekend.
        self.s.set_clock(local(2026, 12, 31, 17))
        c = self.open_case(type="logistics", buyer_id="b1", reason="late_delivery")
        self.assertEqual(c["sla"]["resolution_due"], local(2027, 1, 8, 17))

    def test_first_response_breach(self):
        self.make_order()
        late = self.open_case(type="consultation", order_id="o1", reason="other")["case_id"]
        answered = self.open_case(type="consultation", order_id="o1", reason="other")["case_id"]
        just_in_time = self.open_case(type="consultation", order_id="o1", reason="other")["case_id"]
        self.s.advance(HOUR)
        self.act(answered, "reply", by="agent", body="hi")
        self.s.advance(HOUR)  # the due second itself: "within 2 hours" still holds
        self.assertEqual(self.get(late)["sla"]["breached"], [])
        self.assertEqual(self.s.get("/v1/cases?breached=true").json["cases"], [])
        self.assertEqual(self.alerts("sla_breach"), [])
        self.act(just_in_time, "reply", by="agent", body="made it")
        self.s.advance(1)
        c = self.get(late)
        self.assertEqual(c["sla"]["breached"], ["first_response"])
        self.assertTrue(c["escalated"])
        self.assertEqual(c["priority"], 2)  # sla.on_breach escalates one step
        self.assertEqual(self.get(answered)["sla"]["breached"], [])
        self.assertEqual(self.get(just_in_time)["sla"]["breached"], [])
        self.assertEqual([x["case_id"] for x in self.s.get("/v1/cases?breached=true").json["cases"]],
                         [late])
        alerts = self.alerts("sla_breach")
        self.assertEqual([a["case_id"] for a in alerts], [late])
        self.assertEqual(alerts[0]["merchant_id"], "m1")
        self.assertEqual([e["case_id"] for e in self.events("sla.breached")], [late])
        self.assertTrue([e for e in self.events("alert.raised") if e["case_id"] == late])
        tl = [e["type"] for e in self.s.get("/v1/cases/%s/timeline" % late).json["events"]]
        self.assertIn("sla.breached", tl)
        # a breach is reported once, however far the clock goes
        self.s.advance(DAY)
        self.assertEqual(len(self.alerts("sla_breach")), 1)
        self.assertEqual(self.get(late)["sla"]["breached"], ["first_response"])
        self.assertEqual(self.get(late)["priority"], 2)
        # the alert is the merchant's: another merchant does not see it
        self.assertEqual(self.s.get("/v1/alerts", token="svc2").json["alerts"], [])
        mine = self.s.get("/v1/alerts?kind=sla_breach", token="svc1").json["alerts"]
        self.assertEqual(len(mine), 1)  # (the warnings before it and the ladder after it are alerts of their own)

    def test_resolution_breach_and_resolved_cases_do_not_breach(self):
        self.make_order()
        self.make_order(order_id="o2", buyer_id="b2")
        slow = self.open_case(type="return", order_id="o1")
        quick = self.open_case(type="return", order_id="o2")
        due = slow["sla"]["resolution_due"]
        self.assertEqual(due, T0 + 3 * DAY)
        self.s.advance(HOUR)
        self.act(quick["case_id"], "resolve", resolution="customer kept it")
        self.s.set_clock(due)  # resolving by the due second meets the target
        self.assertEqual(self.get(slow["case_id"])["sla"]["breached"], [])
        self.s.set_clock(due + 1)
        self.assertEqual(self.get(slow["case_id"])["sla"]["breached"], ["resolution"])
        self.assertEqual(self.get(quick["case_id"])["sla"]["breached"], [])
        self.assertEqual([c["case_id"] for c in self.s.get("/v1/cases?breached=true").json["cases"]],
                         [slow["case_id"]])
        self.assertEqual([c["case_id"] for c in
                          self.s.get("/v1/cases?breached=true&type=return").json["cases"]],
                         [slow["case_id"]])

    def test_a_timer_already_due_fires_before_the_next_action_and_never_back_in_time(self):
        # a return rejected on create, appealed after its resolution target: the
        # resolution timer comes back already due
        self.make_order(delivered_at=T0 - 20 * DAY, paid_at=T0 - 21 * DAY)
        c = self.open_case(type="return", order_id="o1", reason="no_reason")
        self.assertEqual(c["status"], "rejected")
        self.s.advance(10 * DAY)
        reopened = self.act(c["case_id"], "reopen", reason="the parcel came late")
        self.assertEqual(reopened["sla"]["breached"], [])
        # the next action finds the breach recorded first (no clock move between)
        after = self.act(c["case_id"], "reply", by="agent", body="looking into it")
        self.assertEqual(after["sla"]["breached"], ["resolution"])
        tl = self.s.get("/v1/cases/%s/timeline" % c["case_id"]).json["events"]
        kinds = [e["type"] if e["type"] != "action" else e["data"]["action"] for e in tl]
        self.assertLess(kinds.index("reopen"), kinds.index("sla.breached"))
        self.assertLess(kinds.index("sla.breached"), kinds.index("reply"))
        # dated at the appeal, not at the long-past due time: times never go back
        ats = [e["at"] for e in tl]
        self.assertEqual(ats, sorted(ats))
        self.assertGreaterEqual(self.get(c["case_id"])["updated_at"], reopened["updated_at"])

    def test_complaint_breaches_after_24_hours(self):
        self.make_order()
        cid = self.open_case(type="complaint", order_id="o1", reason="attitude")["case_id"]
        self.act(cid, "reply", by="agent", body="sorry")  # a reply is not a solution
        self.s.advance(24 * HOUR)
        self.assertEqual(self.get(cid)["sla"]["breached"], [])
        self.s.advance(1)
        c = self.get(cid)
        self.assertEqual(c["sla"]["breached"], ["resolution"])
        self.assertEqual(c["priority"], 1)  # complaints start at 2

    # --- surveys ---------------------------------------------------------------
    def resolved_consultation(self, buyer="b1"):
        c = self.open_case(type="consultation", buyer_id=buyer, reason="other")
        return self.act(c["case_id"], "resolve", resolution="answered")

    def test_survey_requested_one_hour_after_resolution(self):
        self.s.advance(600)
        c = self.resolved_consultation()
        self.assertEqual(c["survey"]["due_at"], T0 + 600 + HOUR)
        self.s.advance(HOUR - 1)
        self.assertEqual(self.events("survey.requested"), [])
        self.s.advance(1)
        ev = self.events("survey.requested")
        self.assertEqual([e["case_id"] for e in ev], [c["case_id"]])
        self.assertEqual(ev[0]["at"], T0 + 600 + HOUR)
        self.assertEqual(ev[0]["data"]["buyer_id"], "b1")
        self.s.advance(DAY)
        self.assertEqual(len(self.events("survey.requested")), 1)
        # a case that is not resolved has no survey
        k = self.open_case(type="consultation", buyer_id="b2", reason="other")
        self.assertIsNone(k["survey"]["due_at"])
        r = self.s.post("/v1/cases/%s/survey" % k["case_id"], {"csat": 5})
        self.assertError(r, 409, "invalid_transition")

    def test_low_csat_opens_a_quality_follow_up_and_closes_the_case(self):
        c = self.resolved_consultation()
        cid = c["case_id"]
        self.s.advance(2 * HOUR)
        r = self.s.post("/v1/cases/%s/survey" % cid, {"csat": 2, "nps": 3, "comment": "slow"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "closed")
        self.assertEqual(r.json["closed_at"], T0 + 2 * HOUR)
        self.assertEqual((r.json["survey"]["csat"], r.json["survey"]["nps"]), (2, 3))
        # a platform following case.updated sees the close the answer caused
        updates = [e for e in self.events("case.updated") if e["case_id"] == cid]
        self.assertEqual(updates[-1]["data"]["action"], "survey_answered")
        self.assertEqual((updates[-1]["data"]["status"], updates[-1]["data"]["stage"]), ("closed", "closed"))
        self.assertEqual(updates[-1]["data"]["case"]["survey"]["csat"], 2)
        follow = [x for x in self.s.get("/v1/cases?queue=quality").json["cases"]]
        self.assertEqual(len(follow), 1)
        f = follow[0]
        self.assertNotEqual(f["case_id"], cid)
        self.assertEqual(f["queue"], "quality")
        self.assertEqual(f["buyer_id"], "b1")
        self.assertEqual(f["status"], "open")
        self.assertEqual(f["priority"], 2)
        self.assertEqual(f["created_at"], T0 + 2 * HOUR)
        self.assertTrue(f.get("followup"))
        # answering again is refused and opens nothing
        r = self.s.post("/v1/cases/%s/survey" % cid, {"csat": 1})
        self.assertError(r, 409)
        self.assertEqual(len(self.s.get("/v1/cases?queue=quality").json["cases"]), 1)
        # the follow-up itself gets no survey (no loops)
        f = self.act(f["case_id"], "resolve", resolution="called the customer")
        self.assertIsNone(f["survey"]["due_at"])

    def test_csat_3_closes_without_follow_up_and_answers_are_validated(self):
        cid = self.resolved_consultation()["case_id"]
        for bad, field in (({"csat": 0}, "csat"), ({"csat": 6}, "csat"), ({}, "csat"),
                           ({"csat": "5"}, "csat"), ({"csat": 4, "nps": 11}, "nps"),
                           ({"csat": 4, "nps": -1}, "nps"), ({"csat": 4, "comment": 5}, "comment")):
            r = self.s.post("/v1/cases/%s/survey" % cid, bad)
            self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], field, bad)
        self.assertEqual(self.get(cid)["status"], "resolved")
        r = self.s.post("/v1/cases/%s/survey" % cid, {"csat": 3})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "closed")
        self.assertIsNone(r.json["survey"]["nps"])
        self.assertEqual(self.s.get("/v1/cases?queue=quality").json["cases"], [])
        self.assertError(self.s.post("/v1/cases/%s/survey" % cid, {"csat": 5}, token="svc2"), 404)

    # --- auto-close ------------------------------------------------------------
    def test_auto_close_seven_days_after_resolution(self):
        c = self.resolved_consultation()
        rejected_order = self.make_order(delivered_at=T0 - 30 * DAY, paid_at=T0 - 31 * DAY)
        self.assertTrue(rejected_order)
        rej = self.open_case(type="return", order_id="o1")
        self.assertEqual(rej["status"], "rejected")
        self.s.advance(7 * DAY - 1)
        self.assertEqual(self.get(c["case_id"])["status"], "resolved")
        self.s.advance(1)
        k = self.get(c["case_id"])
        self.assertEqual((k["status"], k["closed_at"]), ("closed", T0 + 7 * DAY))
        # only resolved cases close by themselves
        self.assertEqual(self.get(rej["case_id"])["status"], "rejected")
        closes = [e for e in self.events("case.updated") if e["case_id"] == c["case_id"]]
        self.assertEqual(closes[-1]["data"]["status"], "closed")
        # a closed case can still take its survey answer
        r = self.s.post("/v1/cases/%s/survey" % c["case_id"], {"csat": 5})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "closed")

    def test_reopened_case_does_not_auto_close(self):
        c = self.resolved_consultation()
        self.s.advance(DAY)
        self.act(c["case_id"], "reopen", reason="not answered")
        self.s.advance(7 * DAY)
        self.assertEqual(self.get(c["case_id"])["status"], "in_progress")

    # --- stalled parcels -------------------------------------------------------
    def track(self, status, at, oid="o1"):
        r = self.s.post("/v1/orders/%s/tracking" % oid, {"status": status, "at": at, "carrier": "SF",
                                                         "tracking_no": "SF1"})
        self.assertStatus(r, 200)

    def logistics_cases(self, oid="o1"):
        return [c for c in self.s.get("/v1/cases?order_id=%s&type=logistics" % oid).json["cases"]]

    def test_stalled_parcel_opens_a_proactive_logistics_case_and_an_alert(self):
        self.make_order(delivered_at=None)
        self.track("shipped", T0)
        self.s.advance(48 * HOUR - 1)
        self.assertEqual(self.logistics_cases(), [])
        self.assertEqual(self.alerts("stalled_parcel"), [])
        self.s.advance(1)
        cases = self.logistics_cases()
        self.assertEqual(len(cases), 1)
        c = cases[0]
        self.assertEqual((c["type"], c["channel"], c["queue"]), ("logistics", "system", "customer_service"))
        self.assertEqual((c["buyer_id"], c["merchant_id"], c["status"]), ("b1", "m1", "open"))
        self.assertEqual(c["created_at"], T0 + 48 * HOUR)
        alerts = self.alerts("stalled_parcel")
        self.assertEqual(len(alerts), 1)
        self.assertEqual(alerts[0]["order_id"], "o1")
        self.assertIn(c["case_id"], self.s.get("/v1/orders/o1").json["case_ids"])
        self.assertTrue([e for e in self.events("case.created") if e["case_id"] == c["case_id"]])
        # reported once for that silence
        self.s.advance(5 * DAY)
        self.assertEqual(len(self.logistics_cases()), 1)
        self.assertEqual(len(self.alerts("stalled_parcel")), 1)
        # also when the platform sends the order again (a replace keeps the report)
        self.assertStatus(self.s.post("/v1/orders", order_body(delivered_at=None)), 200)
        self.s.advance(1)
        self.assertEqual(len(self.logistics_cases()), 1)
        self.assertEqual(len(self.alerts("stalled_parcel")), 1)
        self.assertEqual(self.s.get("/v1/orders/o1").json["case_ids"], [c["case_id"]])

    def test_a_jump_of_the_clock_opens_the_stalled_parcel_case(self):
        self.make_order(delivered_at=None)
        self.track("shipped", T0)
        self.s.advance(30 * DAY)
        cases = self.logistics_cases()
        self.assertEqual(len(cases), 1)
        self.assertEqual(len(self.alerts("stalled_parcel")), 1)

    def test_one_clock_move_fires_every_due_timer_however_many(self):
        # more timers due than one firing round takes: the clock answers only
        # once every one of them has fired
        n = 2005
        for i in range(n):
            r = self.s.post("/v1/cases", {"type": "consultation", "buyer_id": "b%d" % (i % 40),
                                          "reason": "other", "channel": "chat"})
            self.assertStatus(r, 201)
        self.s.advance(2 * HOUR + 1)
        self.assertEqual(self.s.get("/v1/cases?breached=false").json["cases"], [])
        breached, cursor = 0, ""
        while cursor is not None:
            r = self.s.get("/v1/cases?breached=true&limit=200" + ("&cursor=" + cursor if cursor else ""))
            breached += len(r.json["cases"])
            cursor = r.json["next_cursor"]
        self.assertEqual(breached, n)

    def test_a_tracking_update_or_delivery_resets_the_watch(self):
        self.make_order(delivered_at=None)
        self.make_order(order_id="o2", buyer_id="b2", delivered_at=None)
        self.track("shipped", T0)
        self.track("shipped", T0, oid="o2")
        self.s.advance(24 * HOUR)
        self.track("in_transit", T0 + 24 * HOUR)
        self.track("delivered", T0 + 24 * HOUR, oid="o2")
        self.s.advance(24 * HOUR)  # 48 h after shipping, 24 h after the last update
        self.assertEqual(self.logistics_cases(), [])
        self.s.advance(24 * HOUR - 1)
        self.assertEqual(self.logistics_cases(), [])
        self.s.advance(1)
        self.assertEqual(len(self.logistics_cases()), 1)
        self.s.advance(10 * DAY)
        self.assertEqual(self.logistics_cases("o2"), [])
        self.assertEqual(len(self.alerts("stalled_parcel")), 1)

    # --- complaint spikes ------------------------------------------------------
    def test_complaint_spike_per_sku_in_24_hours(self):
        # risk.rules.complaints_per_sku_24h = 5: the 5th complaint in a rolling day alerts
        for i in range(5):
            self.make_order(order_id="c%d" % i, buyer_id="b%d" % i, sku="hot")
        self.make_order(order_id="cold", buyer_id="bc", sku="cold")
        self.open_case(type="complaint", order_id="cold", reason="quality")
        for i in range(4):
            self.open_case(type="complaint", order_id="c%d" % i, reason="quality")
            self.s.advance(HOUR)
        self.assertEqual(self.alerts("complaint_spike"), [])
        self.open_case(type="complaint", order_id="c4", reason="quality")
        spikes = self.alerts("complaint_spike")
        self.assertEqual([(a["sku"], a["data"]["count"]) for a in spikes], [("hot", 5)])
        self.assertEqual(spikes[0]["merchant_id"], "m1")
        self.assertTrue([e for e in self.events("alert.raised") if e["data"].get("kind") == "complaint_spike"])
        # the window is the last 24 h: at T0+24h the complaint of T0 is out,
        # so one more makes 5 again (T0+1h .. T0+4h and this one)
        self.s.set_clock(T0 + DAY)
        self.open_case(type="complaint", order_id="c1", reason="quality")
        self.assertEqual([a["data"]["count"] for a in self.alerts("complaint_spike")], [5, 5])
        # a day later the count starts again
        self.s.advance(DAY)
        self.open_case(type="complaint", order_id="c0", reason="quality")
        self.assertEqual(len(self.alerts("complaint_spike")), 2)

    # --- KPI -------------------------------------------------------------------
    def test_kpi_report(self):
        self.make_agent("a1", queues=["customer_service"], capacity=10)
        ids = [self.open_case(type="consultation", buyer_id="b%d" % i, reason="other")["case_id"]
               for i in range(4)]
        for i, cid in enumerate(ids[:3]):  # first replies after 10, 20, 30 minutes
            self.s.set_clock(T0 + (i + 1) * 600)
            self.act(cid, "reply", by="agent", body="hello")
        for i, cid in enumerate(ids[:3]):  # resolved after 1, 2, 3 hours... the last one later
            self.s.set_clock(T0 + (i + 1) * HOUR + (0 if i < 2 else 2 * HOUR))
            self.act(cid, "resolve", resolution="answered")
        # ids[3] got no reply: its 2-hour first response was breached meanwhile
        self.assertEqual(self.get(ids[3])["sla"]["breached"], ["first_response"])
        self.assertStatus(self.s.post("/v1/cases/%s/survey" % ids[0], {"csat": 5, "nps": 10}), 200)
        self.assertStatus(self.s.post("/v1/cases/%s/survey" % ids[1], {"csat": 4, "nps": 9}), 200)
        self.assertStatus(self.s.post("/v1/cases/%s/survey" % ids[2], {"csat": 3, "nps": 5}), 200)
        r = self.s.get("/v1/reports/kpi?from=%d&to=%d" % (T0, T0 + DAY))
        self.assertStatus(r, 200)
        t = r.json["totals"]
        self.assertEqual(t["cases"], 4)
        self.assertEqual(t["resolved"], 3)
        self.assertAlmostEqual(t["resolution_rate"], 0.75)
        self.assertEqual(t["first_response_seconds"]["p50"], 1200)
        self.assertTrue(1200 <= t["first_response_seconds"]["p90"] <= 1800)
        self.assertEqual(t["resolution_seconds"]["p50"], 2 * HOUR)
        self.assertTrue(2 * HOUR <= t["resolution_seconds"]["p90"] <= 5 * HOUR)
        self.assertAlmostEqual(t["sla_attainment"], 0.75)
        self.assertAlmostEqual(t["csat"], 4.0)
        self.assertAlmostEqual(t["nps"], 100.0 * (2 - 1) / 3)
        # grouped
        for by, key in (("agent", "a1"), ("queue", "customer_service"), ("type", "consultation"),
                        ("merchant", None)):
            r = self.s.get("/v1/reports/kpi?from=%d&to=%d&group_by=%s" % (T0, T0 + DAY, by))
            self.assertStatus(r, 200)
            groups = r.json["groups"]
            self.assertEqual(len(groups), 1, by)
            if key:
                self.assertEqual(groups[0]["key"], key)
            self.assertEqual(groups[0]["cases"], 4)
        # the range bounds the cases counted
        r = self.s.get("/v1/reports/kpi?from=%d&to=%d" % (T0 + 1, T0 + DAY))
        self.assertEqual(r.json["totals"]["cases"], 0)
        self.assertError(self.s.get("/v1/reports/kpi?group_by=planet"), 400, "invalid_field")
        # a merchant's token counts only its own cases
        r = self.s.get("/v1/reports/kpi?from=%d&to=%d" % (T0, T0 + DAY), token="svc2")
        self.assertEqual(r.json["totals"]["cases"], 0)


if __name__ == "__main__":
    main()
