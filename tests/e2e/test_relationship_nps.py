"""Relationship NPS (an NPS per buyer outside any case, planned by the survey
policy when the buyer is active, sent by a due-timer, answered once) and the
survey answers of both kinds by channel (GET /v1/surveys), on the manual
clock."""
from harness import DAY, HOUR, T0, ServerTestCase, main, order_body


class NpsTest(ServerTestCase):
    def nps(self, buyer="b1", token="adm"):
        r = self.s.get("/v1/customers/%s/nps" % buyer, token=token)
        self.assertStatus(r, 200)
        return r.json["surveys"]

    def answer(self, body, buyer="b1", token="adm", expect=200):
        r = self.s.post("/v1/customers/%s/nps" % buyer, body, token=token)
        self.assertStatus(r, expect)
        return r.json

    def feed(self, kind, token="adm"):
        return [e for e in self.s.get("/v1/events?limit=1000", token=token).json["events"] if e["type"] == kind]

    def test_planned_by_activity_sent_by_its_timer_answered_once(self):
        self.make_order()  # b1 buys from m1
        [n] = self.nps()
        self.assertEqual((n["merchant_id"], n["due_at"], n["sent_at"], n["rounds"]), ("m1", T0 + 30 * DAY, None, 0))
        self.assertEqual(n["questions"][0]["id"], "nps")
        self.make_order(order_id="o2")  # more activity: the round stays as planned
        self.assertEqual(self.nps()[0]["due_at"], T0 + 30 * DAY)
        self.s.set_clock(T0 + 30 * DAY - 1)
        self.assertEqual([e for e in self.feed("survey.requested") if e["data"].get("kind") == "relationship"], [])
        self.s.advance(1)
        sent = [e for e in self.feed("survey.requested", token="svc1") if e["data"].get("kind") == "relationship"]
        self.assertEqual([(e["at"], e["merchant_id"], e["case_id"], e["data"]["buyer_id"]) for e in sent],
                         [(T0 + 30 * DAY, "m1", None, "b1")])
        self.assertEqual(sent[0]["data"]["questions"][0]["id"], "nps")
        self.assertEqual((self.nps()[0]["sent_at"], self.nps()[0]["rounds"]), (T0 + 30 * DAY, 1))
        self.s.advance(HOUR)
        n = self.answer({"nps": 9, "comment": "fast refunds", "channel": "app"}, token="svc1")
        self.assertEqual((n["nps"], n["channel"], n["answered_at"]), (9, "app", T0 + 30 * DAY + HOUR))
        self.answer({"nps": 3}, token="svc1", expect=409)
        answered = self.feed("survey.answered")
        self.assertEqual([(e["data"]["kind"], e["data"]["answer"]["nps"]) for e in answered], [("relationship", 9)])
        answers = self.s.get("/v1/surveys?kind=relationship").json["answers"]
        self.assertEqual([(a["buyer_id"], a["merchant_id"], a["nps"], a["channel"]) for a in answers],
                         [("b1", "m1", 9, "app")])
        # the next activity plans the next round: 90 days after the last one sent
        self.s.advance(10 * DAY)
        self.make_order(order_id="o3")
        n = self.nps()[0]
        self.assertEqual((n["due_at"], n["last_sent_at"], n["last_nps"], n["nps"]),
                         (T0 + 120 * DAY, T0 + 30 * DAY, 9, None))
        decisions = self.s.get("/v1/surveys?kind=relationship").json["answers"]
        self.assertEqual(len(decisions), 1)  # an answer stays in the index when a new round starts

    def test_tenancy_validation_and_the_platforms_survey(self):
        self.make_order()
        self.assertEqual(self.nps(token="svc2"), [])
        self.answer({"nps": 5}, token="svc2", expect=404)
        self.answer({"nps": 5, "merchant_id": "m1"}, token="svc2", expect=404)
        self.answer({"nps": 11}, expect=400)
        self.answer({"nps": 5, "channel": "fax"}, expect=400)
        self.answer({"nps": 5, "mood": "ok"}, expect=400)
        self.answer({"nps": 5}, expect=404)  # an unbound token without merchant_id: the platform's, none
        # a buyer without an order contacts the platform: its own survey, merchant null
        self.open_case(type="consultation", buyer_id="bp", reason="other", channel="chat")
        [n] = self.nps("bp")
        self.assertIsNone(n["merchant_id"])
        self.assertEqual(self.nps("bp", token="svc1"), [])
        n = self.answer({"nps": 0}, buyer="bp")  # answered before it was sent: fine, and it is not sent then
        self.s.advance(40 * DAY)
        self.assertIsNone(self.nps("bp")[0]["sent_at"])
        r = self.answer({"nps": 10, "merchant_id": "m1"}, token="adm")
        self.assertEqual(r["nps"], 10)

    def test_an_unanswered_round_gives_way_to_the_next_and_timers_survive_a_restart(self):
        self.make_order()
        self.s.stop()
        self.s.start()
        self.s.set_clock(T0 + 31 * DAY)
        self.assertEqual(self.nps()[0]["sent_at"], T0 + 30 * DAY)
        self.make_order(order_id="o2")  # no answer came: the next round is planned
        n = self.nps()[0]
        self.assertEqual((n["sent_at"], n["due_at"], n["last_sent_at"], n["last_answered_at"]),
                         (None, T0 + 120 * DAY, T0 + 30 * DAY, None))


class AnswersByChannel(ServerTestCase):
    def test_case_survey_answers_carry_their_channel(self):
        self.s.post("/v1/orders", order_body(qty=5))
        ids = {}
        for ch in ("chat", "phone", "phone"):
            c = self.open_case(type="consultation", order_id="o1", reason="other", channel=ch)
            self.act(c["case_id"], "resolve", resolution="answered")
            ids.setdefault(ch, []).append(c["case_id"])
        self.s.advance(2 * HOUR)
        for i, cid in enumerate(ids["chat"] + ids["phone"]):
            self.s.advance(60)
            r = self.s.post("/v1/cases/%s/survey" % cid, {"csat": 5 - i, "nps": 10 - i})
            self.assertStatus(r, 200)
        phone = self.s.get("/v1/surveys?kind=case&channel=phone").json["answers"]
        self.assertEqual([(a["case_id"], a["channel"], a["csat"], a["nps"]) for a in phone],
                         [(ids["phone"][1], "phone", 3, 8), (ids["phone"][0], "phone", 4, 9)])
        everything = self.s.get("/v1/surveys").json["answers"]
        self.assertEqual(len(everything), 3)
        # [from, to) by answered_at, and pages by cursor
        first_at = everything[-1]["answered_at"]
        self.assertEqual(len(self.s.get("/v1/surveys?from=%d" % (first_at + 1)).json["answers"]), 2)
        self.assertEqual(len(self.s.get("/v1/surveys?to=%d" % (first_at + 1)).json["answers"]), 1)
        seen, cursor = [], None
        while True:
            r = self.s.get("/v1/surveys?limit=1" + ("&cursor=" + cursor if cursor else "")).json
            seen += [a["case_id"] for a in r["answers"]]
            cursor = r["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, [a["case_id"] for a in everything])
        self.assertEqual(self.s.get("/v1/surveys", token="svc2").json["answers"], [])
        self.assertEqual(len(self.s.get("/v1/surveys", token="svc1").json["answers"]), 3)
        for q, field in (("?kind=cases", "kind"), ("?channel=fax", "channel"), ("?from=x", "from"),
                         ("?cursor=zz", "cursor"), ("?page=1", "page")):
            self.assertEqual(self.assertError(self.s.get("/v1/surveys" + q), 400)["field"], field)


if __name__ == "__main__":
    main()
